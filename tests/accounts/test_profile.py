import pytest
from django.test import Client

from accounts.models import User
from tests.factories import PASSWORD
from tests.support.sessions import logged_in

pytestmark = pytest.mark.django_db


def change_username(user, username):
    """Submit the profile form as `user`; the response (`user` is reloaded)."""
    response = logged_in(user).post("/accounts/profile/", {"username": username})
    user.refresh_from_db()
    return response


def test_username_change(alice):
    assert change_username(alice, "alice2").status_code == 302
    assert alice.username == "alice2"


def test_username_change_refuses_taken_name_in_any_case(alice, bob):
    response = change_username(alice, "BOB")
    assert response.status_code == 200
    assert "That username is taken." in response.content.decode()
    assert alice.username == "alice"


def test_username_change_to_own_name_in_other_case(alice):
    assert change_username(alice, "Alice").status_code == 302
    assert alice.username == "Alice"


def test_username_change_refuses_invalid_name(alice):
    assert change_username(alice, "no spaces").status_code == 200
    assert alice.username == "alice"


def test_password_change_keeps_this_session_and_ends_the_others(alice):
    this, other = Client(), Client()
    assert (
        this.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code
        == 302
    )
    assert (
        other.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code
        == 302
    )
    new = "another-horse-battery-7"
    response = this.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert this.get("/accounts/profile/").status_code == 200
    assert other.get("/accounts/profile/").status_code == 302
    assert User.objects.get(pk=alice.pk).check_password(new)


def test_password_change_refuses_wrong_old_password(alice):
    client = logged_in(alice)
    new = "another-horse-battery-7"
    response = client.post(
        "/accounts/password/",
        {"old_password": "wrong", "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 200
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)


def test_privacy_settings_are_saved(alice):
    client = logged_in(alice)
    response = client.post("/accounts/profile/", {"privacy": "1", "hide_presence": "on"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.hide_presence is True
    assert alice.send_read_receipts is False


def test_pages_need_login(client):
    for url in ["/accounts/profile/", "/accounts/password/", "/chats/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_toast_sound_is_off_by_default_and_saved_from_the_profile(alice):
    assert alice.toast_sound is False
    client = logged_in(alice)
    assert b'data-toast-sound="1"' not in client.get("/chats/").content
    response = client.post("/accounts/profile/", {"notifications": "1", "toast_sound": "on"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.toast_sound is True
    assert alice.hide_presence is False  # the other forms' settings are left alone
    assert b'data-toast-sound="1"' in client.get("/chats/").content
