"""Issue 17: the VAPID key pair and the start-up check."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from push.vapid import new_private_key, public_key_of
from tests.chatsite.test_settings import STRONG, run
from tests.support.webpush import unb64url


def test_vapid_keys_command_prints_a_usable_pair():
    out = io.StringIO()
    call_command("vapid_keys", stdout=out)
    lines = out.getvalue().splitlines()
    private = lines[0].removeprefix("VAPID_PRIVATE_KEY=")
    assert len(unb64url(private)) == 32
    assert public_key_of(private) in lines[1]
    assert unb64url(public_key_of(private))[0] == 4  # an uncompressed P-256 point


def test_new_keys_differ():
    assert new_private_key() != new_private_key()


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"VAPID_PRIVATE_KEY": "x" * 43},  # no subject
        {"VAPID_SUBJECT": "mailto:ops@example.com"},  # no key
        {"VAPID_PRIVATE_KEY": "x" * 43, "VAPID_SUBJECT": "ops@example.com"},  # not a URI
    ],
)
def test_debug_off_without_vapid_settings_refuses_to_start(env):
    clean = {"VAPID_PRIVATE_KEY": "", "VAPID_SUBJECT": "", **env}
    result = run(["check"], DEBUG="0", SECRET_KEY=STRONG, ALLOWED_HOSTS="chat.example.com", **clean)
    assert result.returncode != 0
    assert "VAPID_PRIVATE_KEY or VAPID_SUBJECT is missing" in result.stderr
    assert "manage.py vapid_keys" in result.stderr
