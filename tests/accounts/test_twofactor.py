"""Two-factor sign-in on the pages: set-up, the code step, replay, throttling, turning off."""

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import SESSION_KEY
from django.db.models import F
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services, twofactor
from tests.factories import PASSWORD
from tests.support.sessions import logged_in
from tests.support.totp import totp

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed attempts, try again in 15 minutes."


def password_step(client, username="alice", password=PASSWORD, next_url=None):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data, REMOTE_ADDR="10.0.0.1")


def code_step(client, code):
    return client.post("/accounts/login/code/", {"code": code}, REMOTE_ADDR="10.0.0.1")


def test_set_up_with_the_password_a_qr_code_and_one_code(client, alice, clock):
    client = logged_in(alice)
    page = client.get("/accounts/2fa/")
    assert 'name="password"' in page.content.decode()
    wrong = client.post("/accounts/2fa/", {"password": "not-it"})
    assert wrong.context["form"].errors["password"]
    assert twofactor.totp_setup_pending(user=alice) is None

    setup = client.post("/accounts/2fa/", {"password": PASSWORD})
    html = setup.content.decode()
    assert re.search(r"<svg[^>]*>.*</svg>", html, re.S)  # drawn here, no outside image
    assert "<img" not in html
    secret = setup.context["secret"]
    assert re.fullmatch(r"[A-Z2-7]+=*", secret)
    assert not twofactor.twofactor_enabled(user=alice)

    response = client.post("/accounts/2fa/confirm/", {"code": totp(secret, clock.now)})
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/"
    assert twofactor.twofactor_enabled(user=alice)
    assert "Two-factor sign-in</a>: on" in client.get("/accounts/profile/").content.decode()


def test_a_wrong_confirming_code_leaves_it_off_and_backs_off(alice, clock):
    client = logged_in(alice)
    secret = client.post("/accounts/2fa/", {"password": PASSWORD}).context["secret"]
    wrong = client.post("/accounts/2fa/confirm/", {"code": "000000"})
    assert wrong.context["confirm_form"].errors["code"]
    # django-otp's back-off: right after a failure even the right code waits a second.
    right = totp(secret, clock.now)
    assert client.post("/accounts/2fa/confirm/", {"code": right}).status_code == 200
    assert not twofactor.twofactor_enabled(user=alice)
    # Two seconds later (django-otp's back-off reads the database clock of the failure).
    TOTPDevice.objects.filter(user=alice).update(
        throttling_failure_timestamp=F("throttling_failure_timestamp") - timedelta(seconds=2)
    )
    response = client.post("/accounts/2fa/confirm/", {"code": totp(secret, clock.now)})
    assert response.status_code == 302
    assert twofactor.twofactor_enabled(user=alice)


def test_sign_in_asks_for_the_code_and_the_password_alone_signs_nothing_in(alice, with_2fa):
    with_2fa(alice)
    client = Client()
    response = password_step(client, next_url="/accounts/profile/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/code/"
    assert SESSION_KEY not in client.session
    assert client.get("/accounts/profile/").status_code == 302
    assert client.get("/accounts/login/code/").status_code == 200
    assert code_step(client, "123456").context["form"].errors["code"]
    assert SESSION_KEY not in client.session


def test_the_right_code_signs_in_and_goes_on(alice, with_2fa, clock):
    code = with_2fa(alice)
    client = Client()
    password_step(client, next_url="/accounts/profile/")
    response = code_step(client, code())
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/"
    assert client.session[SESSION_KEY] == str(alice.pk)
    assert client.get("/accounts/profile/").status_code == 200
    assert client.get("/accounts/login/code/").status_code == 302  # nothing pending any more


def test_a_code_is_accepted_once(alice, with_2fa):
    code = with_2fa(alice)
    used = code()
    first = Client()
    password_step(first)
    assert code_step(first, used).status_code == 302
    second = Client()
    password_step(second)
    replay = code_step(second, used)
    assert replay.status_code == 200 and replay.context["form"].errors["code"]
    assert SESSION_KEY not in second.session


def test_a_recovery_code_works_at_the_code_step_once(alice, with_2fa):
    with_2fa(alice)
    codes = services.recovery_codes_create(user=alice)
    client = Client()
    password_step(client)
    assert code_step(client, codes[0]).status_code == 302
    again = Client()
    password_step(again)
    assert code_step(again, codes[0]).status_code == 200
    assert code_step(again, codes[1]).status_code == 302


def test_the_code_step_is_throttled_with_login(alice, with_2fa, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # only axes' lockout here
    code = with_2fa(alice)
    client = Client()
    password_step(client)
    for _ in range(5):
        code_step(client, "000000")
    locked = code_step(client, code())
    assert locked.status_code == 429 and LOCKED in locked.content.decode()
    assert SESSION_KEY not in client.session


def test_the_code_step_times_out_and_a_password_change_voids_it(alice, with_2fa, monkeypatch):
    code = with_2fa(alice)
    client = Client()
    password_step(client)
    alice.set_password("a-changed-passphrase-5")
    alice.save()
    assert code_step(client, code()).status_code == 302
    assert code_step(client, code())["Location"] == "/accounts/login/"
    assert SESSION_KEY not in client.session
    late = Client()
    password_step(late, password="a-changed-passphrase-5")
    now = twofactor.time.time()
    monkeypatch.setattr(twofactor.time, "time", lambda: now + twofactor.PENDING_SECONDS + 1)
    assert code_step(late, code())["Location"] == "/accounts/login/"
    assert SESSION_KEY not in late.session


def test_turning_off_needs_the_password_and_a_code(alice, with_2fa, clock, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the wrong code's back-off is tested above
    code = with_2fa(alice)
    client = logged_in(alice)
    assert 'name="code"' in client.get("/accounts/2fa/").content.decode()
    no_password = client.post("/accounts/2fa/disable/", {"password": "nope", "code": code()})
    assert no_password.context["form"].errors["password"]
    clock.now += 30
    no_code = client.post("/accounts/2fa/disable/", {"password": PASSWORD, "code": "000000"})
    assert no_code.context["form"].errors["code"]
    assert twofactor.twofactor_enabled(user=alice)
    clock.now += 30
    response = client.post("/accounts/2fa/disable/", {"password": PASSWORD, "code": code()})
    assert response.status_code == 302
    assert not twofactor.twofactor_enabled(user=alice)
    plain = Client()
    assert password_step(plain).status_code == 302
    assert plain.session[SESSION_KEY] == str(alice.pk)


def test_the_admin_does_not_show_users_authenticator_secrets(admin_client, alice, with_2fa):
    with_2fa(alice)
    assert not admin.site.is_registered(TOTPDevice)
    assert admin_client.get("/admin/otp_totp/totpdevice/").status_code == 404


def test_the_admin_login_goes_through_the_code_step(alice, with_2fa):
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    code = with_2fa(alice)
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/"
    assert SESSION_KEY not in client.session
    password_step(client, next_url="/admin/")
    assert code_step(client, code())["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_turning_off_when_it_is_off_spends_no_recovery_code(alice):
    codes = services.recovery_codes_create(user=alice)
    client = logged_in(alice)
    response = client.post("/accounts/2fa/disable/", {"password": PASSWORD, "code": codes[0]})
    assert response.status_code == 302
    assert services.recovery_code_use(user=alice, code=codes[0]) == len(codes) - 1
