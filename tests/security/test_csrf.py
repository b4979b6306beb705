"""CSRF: every unsafe request to every route (HTML, API, admin) without a token is refused
with 403 and changes nothing. Routes are enumerated from the URLconf, so a new endpoint is
covered the moment it exists."""

import json

import pytest
from django.apps import apps
from django.test import Client

from tests.security.urls import site_paths

pytestmark = pytest.mark.django_db

UNSAFE = ["POST", "PUT", "PATCH", "DELETE"]


def everything():
    """Every row of every model: any change anywhere shows up as a difference."""
    return {
        model._meta.label: sorted(map(repr, model.objects.values_list()))
        for model in apps.get_models()
    }


@pytest.fixture
def scene(site):
    _chat, values = site
    return site_paths(values)


def unsafe_requests(client, paths):
    for path, _pattern in paths:
        for method in UNSAFE:
            if path.startswith("/api/"):
                payload = {"username": "bob", "password": "pw", "body": "hi", "seq": 1}
                body, kind = json.dumps(payload), "json"
            else:
                body, kind = "username=bob&body=hi&seq=1&action=delete_selected", "form"
            content_type = (
                "application/json" if kind == "json" else "application/x-www-form-urlencoded"
            )
            response = client.generic(method, path, body, content_type=content_type)
            yield path, method, response


def refused(method, response, allowed_statuses):
    if response.status_code == 405:
        # Not an endpoint for this method at all: nothing to protect.
        return method not in response.get("Allow", "")
    if response.status_code == 403:
        return b"CSRF" in response.content
    return response.status_code in allowed_statuses


def test_every_unsafe_request_without_a_csrf_token_is_refused_when_logged_in(scene, alice):
    assert len(scene) > 80  # the whole URLconf: pages, API and admin
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    before = everything()
    failures = [
        (method, path, response.status_code)
        for path, method, response in unsafe_requests(client, scene)
        if not refused(method, response, allowed_statuses=())
    ]
    assert failures == []
    assert everything() == before


def test_every_unsafe_request_without_a_csrf_token_is_refused_when_anonymous(scene):
    client = Client(enforce_csrf_checks=True)
    before = everything()
    # The API answers 401 (no session) before looking at the token: nothing happens either way.
    failures = [
        (method, path, response.status_code)
        for path, method, response in unsafe_requests(client, scene)
        if not refused(
            method, response, allowed_statuses=(401,) if path.startswith("/api/") else ()
        )
    ]
    assert failures == []
    assert everything() == before
