"""Every API error is JSON, the ones Django raises while reading a body included."""

import json

import pytest

from tests.api.conftest import assert_error
from tests.factories import make_chat

pytestmark = pytest.mark.django_db


def test_a_body_over_the_upload_limit_is_a_json_413(api_client, alice, bob, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    chat = make_chat(alice, bob)
    big = json.dumps({"client_id": "x", "body": "y" * 10_001})
    response = api_client(alice).post(f"/api/chats/{chat.pk}/messages/", raw=big)
    assert_error(response, 413, "too_large")
    assert "10000 bytes" in response.json()["detail"]


def test_an_oversized_form_body_at_login_is_a_json_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client = api_client()
    response = client.client.post(
        "/api/auth/login/",
        "username=alice&password=" + "x" * 10_001,
        content_type="application/x-www-form-urlencoded",
        headers={"X-CSRFToken": client.token},
    )
    assert_error(response, 413, "too_large")


def test_too_many_form_fields_is_a_json_400(api_client):
    client = api_client()
    response = client.client.post(
        "/api/auth/login/",
        "&".join(f"f{i}=1" for i in range(1_001)),
        content_type="application/x-www-form-urlencoded",
        headers={"X-CSRFToken": client.token},
    )
    assert_error(response, 400, "invalid", "body")


def test_a_method_the_route_does_not_take_is_a_json_405(api_client, alice):
    response = api_client(alice).client.delete("/api/auth/csrf/")
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"


def test_a_server_error_in_the_api_is_a_json_500(api_client, alice, monkeypatch):
    from api import me

    def broken(user):
        raise RuntimeError("boom")

    monkeypatch.setattr(me, "me_out", broken)
    client = api_client(alice)
    client.client.raise_request_exception = False
    response = client.get("/api/me/")
    body = assert_error(response, 500, "server_error")
    assert "boom" not in body["detail"]


def test_pages_keep_their_html_errors(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_djangos_csrf_refusal_outside_the_operations_is_json(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/api/openapi.json", "{}", content_type="application/json")
    assert_error(response, 403, "csrf_failed")
