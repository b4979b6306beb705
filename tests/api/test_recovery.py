"""POST /api/auth/recover/ and POST /api/me/recovery-codes/."""

import pytest

from accounts import services
from accounts.models import RecoveryCode
from tests.api.conftest import assert_error
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW = "a-brand-new-passphrase-3"


def recover(api, username, code, password=NEW):
    return api.post(
        "/api/auth/recover/", {"username": username, "code": code, "new_password": password}
    )


def test_recover_sets_the_password_and_answers_codes_left(api_client, alice):
    codes = services.recovery_codes_create(user=alice)
    response = recover(api_client(), "alice", codes[9])
    assert response.status_code == 200, response.content
    assert response.json() == {"codes_left": 9}
    alice.refresh_from_db()
    assert alice.check_password(NEW)


def test_every_recovery_failure_is_one_400(api_client, alice):
    codes = services.recovery_codes_create(user=alice)
    api = api_client()
    assert recover(api, "alice", codes[0]).status_code == 200
    bodies = [
        assert_error(recover(api, "alice", codes[0]), 400, "recovery_failed"),  # reused
        assert_error(recover(api, "alice", "00000-00000"), 400, "recovery_failed"),
        assert_error(recover(api, "nobody", codes[1]), 400, "recovery_failed"),
    ]
    assert len({body["detail"] for body in bodies}) == 1


def test_recover_refuses_a_weak_password_naming_the_field(api_client, alice):
    codes = services.recovery_codes_create(user=alice)
    assert_error(recover(api_client(), "alice", codes[0], "123"), 400, "invalid", "new_password")
    assert RecoveryCode.objects.filter(user=alice, used_at=None).count() == 10


def test_recover_needs_csrf_and_is_throttled(api_client, alice):
    codes = services.recovery_codes_create(user=alice)
    assert_error(recover(api_client(csrf=False), "alice", codes[0]), 403, "csrf_failed")
    api = api_client()
    for _ in range(5):
        recover(api, "alice", "00000-00000")
    assert_error(recover(api, "alice", codes[0]), 429, "locked_out")
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_recovery_codes_regenerate_with_the_password(api_client, alice):
    old = services.recovery_codes_create(user=alice)
    api = api_client(alice)
    assert_error(api.post("/api/me/recovery-codes/", {"password": "nope"}), 400, "wrong_password")
    response = api.post("/api/me/recovery-codes/", {"password": PASSWORD})
    assert response.status_code == 200
    codes = response.json()["codes"]
    assert len(codes) == 10 and not set(codes) & set(old)
    assert recover(api_client(), "alice", old[0]).status_code == 400
    assert recover(api_client(), "alice", codes[0]).status_code == 200


def test_recovery_codes_need_a_session(api_client):
    assert_error(
        api_client().post("/api/me/recovery-codes/", {"password": "x"}), 401, "unauthenticated"
    )
