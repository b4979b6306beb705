import pytest
from django.test import Client

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed attempts, try again in 15 minutes."


def login(client, username, password, ip="10.0.0.1"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_login_is_case_insensitive_and_logout_needs_post(client, alice):
    response = login(client, "ALICE", PASSWORD)
    assert response.status_code == 302
    assert client.get("/accounts/profile/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    assert client.get("/accounts/profile/").status_code == 302


def test_wrong_password_and_unknown_user_get_the_same_error(client, alice):
    wrong = login(client, "alice", "nope-nope-nope")
    unknown = login(client, "nobody", "nope-nope-nope")
    assert wrong.status_code == unknown.status_code == 200
    assert "Please enter a correct username and password" in wrong.content.decode()
    assert "Please enter a correct username and password" in unknown.content.decode()


def test_sixth_attempt_is_refused_even_with_the_right_password(client, alice):
    for _ in range(5):
        login(client, "alice", "wrong-password-1")
    response = login(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert client.get("/accounts/profile/").status_code == 302
    # Another address can still log in as alice.
    assert login(Client(), "alice", PASSWORD, ip="10.0.0.2").status_code == 302


def test_lockout_is_the_same_for_unknown_usernames(client):
    for _ in range(5):
        login(client, "ghost", "wrong-password-1")
    response = login(client, "ghost", "wrong-password-1")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()


def test_lockout_counts_username_case_insensitively(client, alice):
    for name in ["alice", "ALICE", "Alice", "aLice", "alicE"]:
        login(client, name, "wrong-password-1")
    assert login(client, "alice", PASSWORD).status_code == 429


def test_csrf_is_enforced_on_login_and_signup(alice):
    client = Client(enforce_csrf_checks=True)
    assert login(client, "alice", PASSWORD).status_code == 403
    response = client.post("/accounts/signup/", {"username": "x"})
    assert response.status_code == 403
