"""GET /healthz and /readyz, answered in front of Django (ops/asgi.py)."""

import logging
import threading

import pytest
from django.core.asgi import get_asgi_application
from django.test import override_settings

from chatsite.asgi import application
from ops import drain, health
from ops.asgi import OpsEndpoints
from tests.ops.conftest import http, http_json


async def test_healthz_is_ok_without_touching_the_database():
    # No django_db mark: any database access would fail the test.
    assert await http_json("/healthz") == (200, {"status": "ok"})


@pytest.mark.django_db(transaction=True)
async def test_readyz_is_ok_when_the_database_answers():
    assert await http_json("/readyz") == (200, {"status": "ok"})


@pytest.mark.django_db(transaction=True)
async def test_readyz_reports_draining_once_shutdown_began():
    drain.begin()
    assert await http_json("/readyz") == (503, {"status": "draining"})
    # The process is still alive: only readiness changes.
    assert await http_json("/healthz") == (200, {"status": "ok"})


@pytest.mark.django_db(transaction=True)
async def test_readyz_names_redis_when_it_does_not_answer(unused_tcp_port):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{unused_tcp_port}/0"):
        status, body = await http_json("/readyz")
    assert (status, body) == (503, {"status": "unavailable", "failing": ["redis"]})


@pytest.mark.django_db(transaction=True)
async def test_readyz_names_the_database_when_its_check_hangs(monkeypatch):
    gate = threading.Event()
    monkeypatch.setattr(health, "_database_answers", lambda: gate.wait(10))
    monkeypatch.setattr(health, "_database", health._DatabaseCheck())
    monkeypatch.setattr(health, "TIMEOUT", 0.2)
    try:
        first = await http_json("/readyz")
        second = await http_json("/readyz")  # shares the hung attempt, does not start one
    finally:
        gate.set()
    expected = (503, {"status": "unavailable", "failing": ["database"]})
    assert first == second == expected


@override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["chat.example.com"])
async def test_probes_ignore_the_https_redirect_and_the_host_check():
    # Django's middleware reads SECURE_SSL_REDIRECT when it is built: build it again.
    app = OpsEndpoints(get_asgi_application())
    # The same request to a page is redirected (or refused for its host): the settings bite.
    status, headers, _ = await http("/terms/", host=b"chat.example.com", app=app)
    assert status == 301 and headers[b"Location"].startswith(b"https://")
    status, _, _ = await http("/terms/", host=b"10.0.0.7", app=app)
    assert status == 400
    # A load balancer probes by address over plain HTTP.
    assert await http_json("/healthz", host=b"10.0.0.7", app=app) == (200, {"status": "ok"})
    assert isinstance(application, OpsEndpoints)  # as the servers run it


async def test_probes_set_no_cookie_cache_nothing_and_log_nothing(caplog):
    caplog.set_level(logging.DEBUG)
    status, headers, _ = await http("/healthz")
    assert status == 200
    assert b"set-cookie" not in {k.lower() for k in headers}
    assert headers[b"cache-control"] == b"no-store"
    assert caplog.records == []


async def test_head_has_no_body_and_other_methods_are_refused():
    status, _, body = await http("/healthz", method="HEAD")
    assert (status, body) == (200, b"")
    status, headers, _ = await http("/healthz", method="POST")
    assert status == 405 and headers[b"allow"] == b"GET, HEAD"
