"""DELETE /api/me/: the checks (password, username, code with 2FA), 204, and its effects."""

import pytest

from accounts.models import DELETED_ACCOUNT_NAME, User
from chats.models import Message
from tests.api.conftest import assert_error
from tests.factories import PASSWORD, make_exchange

pytestmark = pytest.mark.django_db


def body(**fields):
    return {"password": PASSWORD, "username": "alice", **fields}


def deleted(user):
    return User.objects.get(pk=user.pk).deleted_at is not None


def test_a_wrong_password_or_username_is_a_clear_400(api_client, alice):
    api = api_client(alice)
    assert_error(api.delete("/api/me/", body(password="nope")), 400, "wrong_password", "password")
    assert_error(api.delete("/api/me/", body(username="bob")), 400, "wrong_username", "username")
    assert_error(api.delete("/api/me/", {"password": PASSWORD}), 400, "invalid")
    assert_error(api.delete("/api/me/", body(erase_messages="yes")), 400, "invalid")
    assert not deleted(alice)


def test_with_two_factor_on_a_code_is_required_and_checked(api_client, alice, with_2fa):
    code = with_2fa(alice)
    api = api_client(alice)
    assert_error(api.delete("/api/me/", body()), 400, "code_required", "code")
    assert_error(api.delete("/api/me/", body(code="000000")), 400, "wrong_code", "code")
    assert not deleted(alice)
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.get(user=alice).throttle_reset()  # django-otp's back-off
    assert api.delete("/api/me/", body(code=code())).status_code == 204
    assert deleted(alice)


def test_repeated_wrong_passwords_lock_out(api_client, alice):
    api = api_client(alice)
    for _ in range(5):
        api.delete("/api/me/", body(password="nope"))
    assert_error(api.delete("/api/me/", body()), 429, "locked_out")
    assert not deleted(alice)


def test_204_keeps_the_messages_for_the_peer_and_ends_the_session(api_client, alice, bob):
    chat = make_exchange(alice, bob, "hi bob", "hi alice")
    api = api_client(alice)
    assert api.delete("/api/me/", body(username="Alice")).status_code == 204
    assert deleted(alice)
    assert_error(api.get("/api/me/"), 401, "unauthenticated")
    assert Message.objects.get(chat=chat, seq=1).body == "hi bob"
    history = api_client(bob).get(f"/api/chats/{chat.pk}/messages/").json()["messages"]
    assert history[0]["sender"] == DELETED_ACCOUNT_NAME


def test_erase_messages_erases_the_bodies(api_client, alice, bob):
    chat = make_exchange(alice, bob, "hi bob", "hi alice")
    response = api_client(alice).delete("/api/me/", body(erase_messages=True))
    assert response.status_code == 204
    history = api_client(bob).get(f"/api/chats/{chat.pk}/messages/").json()["messages"]
    assert [(m["sender"], m["body"], m["deleted"]) for m in history] == [
        (DELETED_ACCOUNT_NAME, "", True),
        ("bob", "hi alice", False),
    ]
