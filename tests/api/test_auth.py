import pytest
from django.test import Client

from tests.api.conftest import assert_error
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed attempts, try again in 15 minutes."


def test_csrf_endpoint_sets_the_cookie_and_returns_the_token():
    client = Client(enforce_csrf_checks=True)
    response = client.get("/api/auth/csrf/")
    assert response.status_code == 200
    assert response.json()["csrf_token"]
    assert "csrftoken" in response.cookies


def test_login_opens_a_session_and_rotates_the_token(api_client, alice):
    api = api_client()
    old_token = api.token
    response = api.post("/api/auth/login/", {"username": "ALICE", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert body["csrf_token"] and body["csrf_token"] != old_token
    assert api.get("/api/me/").json()["username"] == "alice"


def test_login_needs_the_csrf_token(api_client, alice):
    api = api_client(csrf=False)
    response = api.post("/api/auth/login/", {"username": "alice", "password": PASSWORD})
    assert_error(response, 403, "csrf_failed")
    assert api.get("/api/me/").status_code == 401


def test_wrong_password_and_unknown_user_get_the_same_401(api_client, alice):
    api = api_client()
    wrong = api.post("/api/auth/login/", {"username": "alice", "password": "nope-nope-1"})
    unknown = api.post("/api/auth/login/", {"username": "ghost", "password": "nope-nope-1"})
    assert assert_error(wrong, 401, "bad_credentials") == assert_error(
        unknown, 401, "bad_credentials"
    )


def test_inactive_users_cannot_log_in(api_client, alice):
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    response = api_client().post("/api/auth/login/", {"username": "alice", "password": PASSWORD})
    assert_error(response, 401, "bad_credentials")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"username": "alice"}', "password"),
        ('{"password": "x"}', "username"),
        ('{"username": 5, "password": "x"}', "username"),
        ('{"username": "al\\u0000ice", "password": "x"}', "username"),
        ("not json", "body"),
        ("[]", "body"),
        ("false", "body"),
    ],
)
def test_login_validation_errors_are_400_with_field_errors(api_client, raw, field):
    response = api_client().post("/api/auth/login/", raw=raw)
    assert_error(response, 400, "invalid", field)


def test_login_shares_the_login_pages_lockout(api_client, alice):
    api = api_client()
    for _ in range(5):
        api.post("/api/auth/login/", {"username": "alice", "password": "wrong-password-1"})
    response = api.post("/api/auth/login/", {"username": "alice", "password": PASSWORD})
    assert assert_error(response, 429, "locked_out")["detail"] == LOCKED
    assert api.get("/api/me/").status_code == 401
    # The same username+address pair is locked on the HTML login page too.
    page = Client().post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert page.status_code == 429


def test_failures_on_the_login_page_lock_the_api_too(api_client, alice):
    for _ in range(5):
        Client().post("/accounts/login/", {"username": "alice", "password": "wrong-password-1"})
    response = api_client().post("/api/auth/login/", {"username": "alice", "password": PASSWORD})
    assert_error(response, 429, "locked_out")


def test_logout_ends_the_session(api_client, alice):
    api = api_client(alice)
    assert api.post("/api/auth/logout/").status_code == 204
    assert_error(api.get("/api/me/"), 401, "unauthenticated")


def test_logout_needs_a_session_and_the_csrf_token(api_client, alice):
    assert_error(api_client().post("/api/auth/logout/"), 401, "unauthenticated")
    api = api_client(alice, csrf=False)
    assert_error(api.post("/api/auth/logout/"), 403, "csrf_failed")
    assert api.get("/api/me/").status_code == 200


@pytest.mark.parametrize("body", [{}, {"username": 5}, {"username": "alice", "password": "x"}])
def test_login_without_a_csrf_token_is_403_whatever_the_body(body):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        "/api/auth/login/", body, content_type="application/json"
    )
    assert response.status_code == 403
