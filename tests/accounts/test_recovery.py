"""Recovery codes: made at sign-up and on the profile, used on /accounts/recover/."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from accounts import services
from accounts.models import RecoveryCode, SessionRecord
from tests.factories import PASSWORD
from tests.support.sessions import logged_in

pytestmark = pytest.mark.django_db

NEW = "a-brand-new-passphrase-3"
FAILED = "do not match an account"
LOCKED = "Too many failed attempts, try again in 15 minutes."


def recover(client, username, code, password=NEW, password2=None, ip="10.0.0.1"):
    data = {
        "username": username,
        "code": code,
        "new_password1": password,
        "new_password2": password2 or password,
    }
    return client.post("/accounts/recover/", data, REMOTE_ADDR=ip)


def test_codes_are_ten_distinct_and_stored_only_hashed(alice):
    codes = services.recovery_codes_create(user=alice)
    assert len(codes) == len(set(codes)) == 10
    stored = list(RecoveryCode.objects.filter(user=alice).values_list("code_hash", flat=True))
    assert len(stored) == 10
    for code in codes:
        assert all(code not in h and code.replace("-", "") not in h for h in stored)
    assert all(h.startswith("recovery_pbkdf2_sha256$") for h in stored)


def test_the_right_code_sets_the_password_and_says_how_many_are_left(client, alice):
    codes = services.recovery_codes_create(user=alice)
    response = recover(client, "ALICE", codes[3].upper())  # case does not matter
    assert response.status_code == 200
    assert "You have 9 recovery codes left" in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(NEW)
    assert (
        client.post("/accounts/login/", {"username": "alice", "password": NEW}).status_code == 302
    )


def test_a_code_works_once(client, alice):
    codes = services.recovery_codes_create(user=alice)
    assert recover(client, "alice", codes[0]).status_code == 200
    again = recover(client, "alice", codes[0], password="yet-another-passphrase-4")
    assert FAILED in again.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(NEW)


def test_wrong_code_and_unknown_user_answer_the_same(client, alice):
    services.recovery_codes_create(user=alice)
    wrong = recover(client, "alice", "abcde-fghjk")
    unknown = recover(client, "nobody", "abcde-fghjk")
    assert wrong.status_code == unknown.status_code == 200
    assert FAILED in wrong.content.decode() and FAILED in unknown.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_another_users_code_does_not_work(client, alice, bob):
    bobs = services.recovery_codes_create(user=bob)
    services.recovery_codes_create(user=alice)
    assert FAILED in recover(client, "alice", bobs[0]).content.decode()


def test_a_weak_new_password_is_refused_before_the_code_is_spent(client, alice):
    codes = services.recovery_codes_create(user=alice)
    response = recover(client, "alice", codes[0], password="123")
    assert response.status_code == 200
    assert response.context["form"].errors["new_password1"]
    assert RecoveryCode.objects.filter(user=alice, used_at=None).count() == 10


def test_recovery_is_throttled_with_login_and_the_same_for_unknown_users(client, alice):
    codes = services.recovery_codes_create(user=alice)
    for _ in range(5):
        recover(client, "alice", "abcde-fghjk")
    locked = recover(client, "alice", codes[0])
    assert locked.status_code == 429
    assert LOCKED in locked.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    # The lockout is login's: the right password is refused from that address too.
    login = client.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1"
    )
    assert login.status_code == 429
    for _ in range(5):
        recover(client, "ghost", "abcde-fghjk")
    assert recover(client, "ghost", "abcde-fghjk").status_code == 429


def test_recovery_ends_every_session_of_the_account(client, alice, bob):
    codes = services.recovery_codes_create(user=alice)
    phone, laptop, bobs = logged_in(alice), logged_in(alice), logged_in(bob)
    assert SessionRecord.objects.filter(user=alice).count() == 2
    assert recover(client, "alice", codes[0]).status_code == 200
    assert not SessionRecord.objects.filter(user=alice).exists()
    assert Session.objects.count() == 1  # bob's
    for other in (phone, laptop):
        assert other.get("/accounts/profile/").status_code == 302
    assert bobs.get("/accounts/profile/").status_code == 200


def test_profile_regenerates_codes_with_the_password_and_the_old_set_stops_working(alice):
    old = services.recovery_codes_create(user=alice)
    client = logged_in(alice)
    assert 'href="/accounts/recovery-codes/"' in client.get("/accounts/profile/").content.decode()
    wrong = client.post("/accounts/recovery-codes/", {"password": "not-it"})
    assert wrong.status_code == 200 and wrong.context["form"].errors["password"]
    assert RecoveryCode.objects.filter(user=alice).count() == 10
    response = client.post("/accounts/recovery-codes/", {"password": PASSWORD})
    new = response.context["codes"]
    assert len(new) == 10 and not set(new) & set(old)
    anonymous = Client()
    assert FAILED in recover(anonymous, "alice", old[0]).content.decode()
    assert recover(anonymous, "alice", new[0]).status_code == 200


def test_codes_download_as_a_text_file(alice):
    client = logged_in(alice)
    codes = services.recovery_codes_create(user=alice)
    response = client.post("/accounts/recovery-codes/download/", {"codes": " ".join(codes)})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "attachment" in response["Content-Disposition"]
    body = response.content.decode()
    assert all(code in body for code in codes) and "alice" in body
    bad = client.post("/accounts/recovery-codes/download/", {"codes": "<script>"})
    assert bad.status_code == 400


def test_recover_page_is_linked_from_login(client):
    assert 'href="/accounts/recover/"' in client.get("/accounts/login/").content.decode()
    html = client.get("/accounts/recover/").content.decode()
    for name in ("username", "code", "new_password1", "new_password2"):
        assert f'name="{name}"' in html
