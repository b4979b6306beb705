import pytest
from django.test import Client

from accounts.models import User
from tests.api.conftest import assert_error
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_me_describes_the_user(api_client, alice):
    response = api_client(alice).get("/api/me/")
    assert response.json() == {
        "id": alice.pk,
        "username": "alice",
        "hide_presence": False,
        "send_read_receipts": True,
        "notification_previews": True,
    }


def test_me_needs_a_session(api_client):
    assert_error(api_client().get("/api/me/"), 401, "unauthenticated")
    assert_error(api_client().patch("/api/me/", {"username": "x"}), 401, "unauthenticated")
    assert_error(api_client().post("/api/me/password/", {}), 401, "unauthenticated")


def test_patch_changes_the_username(api_client, alice):
    response = api_client(alice).patch("/api/me/", {"username": "alicia"})
    assert response.status_code == 200
    assert response.json()["username"] == "alicia"
    alice.refresh_from_db()
    assert alice.username == "alicia"


def test_patch_changes_privacy_and_leaves_the_rest(api_client, alice):
    response = api_client(alice).patch("/api/me/", {"hide_presence": True})
    assert response.json()["hide_presence"] is True
    assert response.json()["send_read_receipts"] is True
    alice.refresh_from_db()
    assert (alice.username, alice.hide_presence) == ("alice", True)


def test_patch_refuses_a_taken_username_case_insensitively(api_client, alice, bob):
    body = assert_error(
        api_client(alice).patch("/api/me/", {"username": "BOB"}), 400, "invalid", "username"
    )
    assert body["errors"]["username"] == ["That username is taken."]
    alice.refresh_from_db()
    assert alice.username == "alice"


@pytest.mark.parametrize("username", ["ab", "has space", "x" * 31, "", 7])
def test_patch_refuses_invalid_usernames(api_client, alice, username):
    response = api_client(alice).patch("/api/me/", {"username": username})
    assert_error(response, 400, "invalid", "username")


def test_patch_needs_the_csrf_token(api_client, alice):
    response = api_client(alice, csrf=False).patch("/api/me/", {"username": "alicia"})
    assert_error(response, 403, "csrf_failed")
    assert User.objects.filter(username="alice").exists()


def test_password_change_keeps_this_session_and_ends_the_others(api_client, alice):
    api = api_client(alice)
    other = Client()
    other.force_login(alice)
    response = api.post(
        "/api/me/password/", {"old_password": PASSWORD, "new_password": "a-new-pass-word-42"}
    )
    assert response.status_code == 204
    assert api.get("/api/me/").status_code == 200
    assert other.get("/api/me/").status_code == 401
    alice.refresh_from_db()
    assert alice.check_password("a-new-pass-word-42")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"old_password": "wrong-one-123", "new_password": "a-new-pass-word-42"}, "old_password"),
        ({"old_password": PASSWORD, "new_password": "123"}, "new_password"),
        ({"old_password": PASSWORD, "new_password": "password"}, "new_password"),
        ({"old_password": PASSWORD}, "new_password"),
    ],
)
def test_password_change_errors_name_the_field(api_client, alice, payload, field):
    assert_error(api_client(alice).post("/api/me/password/", payload), 400, "invalid", field)
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_password_change_needs_the_csrf_token(api_client, alice):
    response = api_client(alice, csrf=False).post(
        "/api/me/password/", {"old_password": PASSWORD, "new_password": "a-new-pass-word-42"}
    )
    assert_error(response, 403, "csrf_failed")


@pytest.mark.parametrize("raw", ["false", "[]", '"alicia"'])
def test_patch_body_must_be_an_object(api_client, alice, raw):
    api = api_client(alice)
    response = api.client.patch(
        "/api/me/", raw, content_type="application/json", headers={"X-CSRFToken": api.token}
    )
    assert_error(response, 400, "invalid", "body")


@pytest.mark.parametrize("value", [0.0, 1, "true", "no"])
def test_patch_takes_only_json_booleans_for_settings(api_client, alice, value):
    response = api_client(alice).patch("/api/me/", {"hide_presence": value})
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.hide_presence is False


def test_read_takes_only_an_integer_seq(api_client, alice, bob):
    from tests.factories import make_chat

    chat = make_chat(alice, bob)
    for seq in ["1", 1.0, True]:
        assert (
            api_client(alice).post(f"/api/chats/{chat.pk}/read/", {"seq": seq}).status_code == 400
        )
