"""POST/DELETE /api/me/2fa/, POST /api/me/2fa/confirm/ and login's "otp"."""

from urllib.parse import parse_qs, urlparse

import pytest

from accounts import services, twofactor
from tests.api.conftest import assert_error
from tests.factories import PASSWORD
from tests.support.totp import totp

pytestmark = pytest.mark.django_db


def login(api, otp=None, password=PASSWORD):
    body = {"username": "alice", "password": password}
    if otp is not None:
        body["otp"] = otp
    return api.post("/api/auth/login/", body)


def test_set_up_and_confirm_with_a_code_computed_here(api_client, alice, clock):
    api = api_client(alice)
    assert_error(api.post("/api/me/2fa/", {"password": "nope"}), 400, "wrong_password")
    response = api.post("/api/me/2fa/", {"password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    url = urlparse(body["otpauth_url"])
    assert url.scheme == "otpauth" and url.netloc == "totp"
    assert parse_qs(url.query)["secret"] == [body["secret"]]
    assert parse_qs(url.query)["issuer"] == ["Chatsite"]
    assert not twofactor.twofactor_enabled(user=alice)
    assert_error(api.post("/api/me/2fa/confirm/", {"code": "000000"}), 400, "wrong_code", "code")
    twofactor.totp_setup_pending(user=alice).throttle_reset()  # django-otp's back-off
    confirm = api.post("/api/me/2fa/confirm/", {"code": totp(body["secret"], clock.now)})
    assert confirm.status_code == 204
    assert twofactor.twofactor_enabled(user=alice)
    assert_error(api.post("/api/me/2fa/", {"password": PASSWORD}), 400, "already_on")


def test_confirm_without_a_set_up_is_refused(api_client, alice):
    assert_error(
        api_client(alice).post("/api/me/2fa/confirm/", {"code": "123456"}), 400, "wrong_code"
    )


def test_login_answers_otp_required_and_makes_no_session(api_client, alice, with_2fa):
    with_2fa(alice)
    api = api_client()
    assert_error(login(api), 401, "otp_required")
    assert_error(api.get("/api/me/"), 401, "unauthenticated")
    assert_error(login(api, password="wrong-one-1"), 401, "bad_credentials")


def test_login_with_the_code_and_a_code_only_once(api_client, alice, with_2fa):
    code = with_2fa(alice)
    used = code()
    api = api_client()
    response = login(api, otp=used)
    assert response.status_code == 200 and response.json()["username"] == "alice"
    assert api.client.get("/api/me/").status_code == 200
    assert_error(login(api_client(), otp=used), 401, "otp_invalid")


def test_login_takes_a_recovery_code_as_otp(api_client, alice, with_2fa):
    with_2fa(alice)
    codes = services.recovery_codes_create(user=alice)
    assert login(api_client(), otp=codes[0]).status_code == 200
    assert_error(login(api_client(), otp=codes[0]), 401, "otp_invalid")


def test_wrong_codes_lock_login_like_wrong_passwords(api_client, alice, with_2fa, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    code = with_2fa(alice)
    api = api_client()
    for _ in range(4):
        assert_error(login(api, otp="000000"), 401, "otp_invalid")
    assert_error(login(api, otp="000000"), 429, "locked_out")
    assert_error(login(api, otp=code()), 429, "locked_out")


def test_turning_off_needs_the_password_and_a_code(api_client, alice, with_2fa, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    code = with_2fa(alice)
    api = api_client(alice)
    off = "/api/me/2fa/"
    assert_error(api.delete(off, {"password": "nope", "code": code()}), 400, "wrong_password")
    assert_error(api.delete(off, {"password": PASSWORD, "code": "000000"}), 400, "wrong_code")
    assert_error(api.delete(off, {"password": PASSWORD}), 400, "invalid", "code")
    assert twofactor.twofactor_enabled(user=alice)
    assert api.delete(off, {"password": PASSWORD, "code": code()}).status_code == 204
    assert not twofactor.twofactor_enabled(user=alice)
    assert_error(api.delete(off, {"password": PASSWORD, "code": code()}), 400, "not_on")
    assert login(api_client()).status_code == 200
