"""The settings module refuses unsafe production configurations (run in subprocesses)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG = "k" * 20 + "-production-secret-value-0123456789"
VAPID = {
    "VAPID_PRIVATE_KEY": "nNWl7bPvAyTjCTJbQ-FEntxWSk5rZWV3cq8yJj8uV00",
    "VAPID_SUBJECT": "mailto:ops@example.com",
}


def run(args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_debug_off_without_secret_key_refuses_to_start():
    result = run(["check"], DEBUG="0", ALLOWED_HOSTS="chat.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY is missing or weak" in result.stderr


def test_debug_off_with_weak_secret_key_refuses_to_start():
    result = run(["check"], DEBUG="0", SECRET_KEY="short", ALLOWED_HOSTS="chat.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY is missing or weak" in result.stderr


def test_debug_off_with_wildcard_host_refuses_to_start():
    result = run(["check"], DEBUG="0", SECRET_KEY=STRONG, ALLOWED_HOSTS="*")
    assert result.returncode != 0
    assert "ALLOWED_HOSTS contains '*'" in result.stderr


def test_bad_boolean_is_a_clear_error():
    result = run(["check"], DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_check_deploy_is_clean_with_production_variables():
    result = run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        DEBUG="0",
        SECRET_KEY=STRONG,
        ALLOWED_HOSTS="chat.example.com",
        CSRF_TRUSTED_ORIGINS="https://chat.example.com",
        **VAPID,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_proxy_mode_honours_forwarded_proto_only_when_trusted():
    code = (
        "from django.conf import settings; "
        "print(settings.SECURE_SSL_REDIRECT, getattr(settings, 'SECURE_PROXY_SSL_HEADER', None))"
    )
    base = {"DEBUG": "0", "SECRET_KEY": STRONG, "ALLOWED_HOSTS": "chat.example.com", **VAPID}
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    env.update(
        base, SECURE_SSL_REDIRECT="0", TRUST_PROXY="1", DJANGO_SETTINGS_MODULE="chatsite.settings"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.split() == ["False", "('HTTP_X_FORWARDED_PROTO',", "'https')"]


@pytest.mark.django_db
def test_security_headers_on_responses(client):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
