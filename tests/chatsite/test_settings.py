"""The settings module refuses unsafe production configurations (run in subprocesses)."""

import json
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


def settings_json(expression, **env):
    """`expression` evaluated on the settings a process gets from `env`, through JSON."""
    clean = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="chatsite.settings")
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({expression}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_proxy_mode_honours_forwarded_proto_only_when_trusted():
    base = {"DEBUG": "0", "SECRET_KEY": STRONG, "ALLOWED_HOSTS": "chat.example.com", **VAPID}
    got = settings_json(
        "[s.SECURE_SSL_REDIRECT, getattr(s, 'SECURE_PROXY_SSL_HEADER', None)]",
        **base,
        SECURE_SSL_REDIRECT="0",
        TRUST_PROXY="1",
    )
    assert got == [False, ["HTTP_X_FORWARDED_PROTO", "https"]]


def test_redis_sentinels_put_the_layer_and_the_cache_behind_sentinel():
    url, host, cache = settings_json(
        "[s.REDIS_URL, s.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0], s.CACHES['default']]",
        REDIS_SENTINELS="s1:26379,s2:26380",
        REDIS_URL="redis://:pw@ignored/2",
    )
    assert url == "redis://:pw@ignored/2"  # the database and password; not the host
    sentinels = [["s1", 26379], ["s2", 26380]]
    assert host["sentinels"] == sentinels and host["master_name"] == "mymaster"
    assert (host["db"], host["password"], "address" in host) == (2, "pw", False)
    assert cache["OPTIONS"] == {
        "pool_class": "chatsite.redis_clients.SentinelPool",
        "sentinels": sentinels,
        "master_name": "mymaster",
    }


def test_redis_sentinels_alone_name_the_primary_and_use_database_0():
    url, host = settings_json(
        "[s.REDIS_URL, s.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]]",
        REDIS_SENTINELS="10.0.0.5:26379",
        REDIS_SENTINEL_MASTER="chat",
    )
    assert url == "redis://chat/0"
    assert (host["master_name"], host["db"]) == ("chat", 0)


def test_a_malformed_sentinel_list_is_a_clear_error():
    result = run(["check"], REDIS_SENTINELS="s1:26379,s2")
    assert result.returncode != 0
    assert "REDIS_SENTINELS: a Sentinel is host:port, got 's2'" in result.stderr


def test_redis_sentinels_with_a_rediss_url_reach_the_primary_over_tls():
    host, cache = settings_json(
        "[s.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0], s.CACHES['default']]",
        REDIS_SENTINELS="s1:26379",
        REDIS_URL="rediss://:pw@ignored/4?ssl_ca_certs=/etc/redis/ca.pem",
    )
    assert (host["ssl"], host["ssl_ca_certs"], host["db"]) == (True, "/etc/redis/ca.pem", 4)
    assert "connection_class" not in host and "host" not in host
    assert cache["LOCATION"].startswith("rediss://")  # SentinelPool reads TLS from it


def test_redis_sentinels_with_a_unix_socket_url_refuse_to_start():
    result = run(["check"], REDIS_SENTINELS="s1:26379", REDIS_URL="unix:///run/redis.sock?db=1")
    assert result.returncode != 0
    assert "REDIS_URL with REDIS_SENTINELS: a unix:// socket is one local Redis" in result.stderr


def test_a_multi_host_database_url_reaches_the_pool_with_target_session_attrs():
    db = settings_json(
        "s.DATABASES['default']",
        DATABASE_URL="postgres://chat:pw@db1:5433,db2/chatsite?target_session_attrs=read-write",
    )
    assert (db["HOST"], db["PORT"], db["NAME"]) == ("db1,db2", "5433,5432", "chatsite")
    assert db["OPTIONS"]["target_session_attrs"] == "read-write"
    assert "pool" in db["OPTIONS"]


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
