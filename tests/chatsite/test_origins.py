"""The socket takes only the site's own origin (scheme, host and port), as Django's CSRF
check does for HTTP (chatsite/origins.py)."""

import pytest

from chatsite.origins import origin_allowed
from tests.chats.conftest import Socket


def scope(origin, host="127.0.0.1:8000", scheme="ws", **extra):
    headers = [(b"host", host.encode())] if host else []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    headers += [(name.encode(), value.encode()) for name, value in extra.items()]
    return {"type": "websocket", "path": "/ws/", "scheme": scheme, "headers": headers}


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:9999",  # the right host on another port
        "http://127.0.0.1",  # the default port is another port
        "https://127.0.0.1:8000",  # another scheme
        "ws://127.0.0.1:8000",
        "http://127.0.0.1:8000.evil.example",
        "http://evil.example",
        "null",
        "",
        None,
    ],
)
def test_anything_but_the_sites_own_origin_is_refused(origin):
    assert not origin_allowed(scope(origin))


def test_the_sites_own_origin_is_accepted():
    assert origin_allowed(scope("http://127.0.0.1:8000"))
    assert origin_allowed(scope("http://localhost", host="localhost"))
    assert origin_allowed(scope("https://localhost", host="localhost", scheme="wss"))
    assert not origin_allowed(scope("http://localhost", host="localhost", scheme="wss"))


def test_two_origin_headers_are_refused():
    twice = scope("http://127.0.0.1:8000")
    twice["headers"].append((b"origin", b"http://127.0.0.1:8000"))
    assert not origin_allowed(twice)


def test_a_host_outside_allowed_hosts_is_not_the_sites_origin(settings):
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    assert not origin_allowed(scope("http://evil.example", host="evil.example"))
    assert origin_allowed(scope("http://chat.example.com", host="chat.example.com"))


def test_csrf_trusted_origins_are_accepted_exactly(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.example.org"]
    assert origin_allowed(scope("https://chat.example.com", host="internal:8000"))
    assert origin_allowed(scope("https://eu.example.org", host="internal:8000"))
    assert not origin_allowed(scope("http://chat.example.com", host="internal:8000"))
    assert not origin_allowed(scope("https://chat.example.com:8443", host="internal:8000"))


def test_behind_a_tls_proxy_the_sites_scheme_is_https(settings):
    """TRUST_PROXY sets SECURE_PROXY_SSL_HEADER: the proxy's X-Forwarded-Proto says https."""
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    behind = {"host": "chat.example.com", "x-forwarded-proto": "https"}
    assert origin_allowed(scope("https://chat.example.com", **behind))
    assert not origin_allowed(scope("http://chat.example.com", **behind))
    settings.SECURE_PROXY_SSL_HEADER = None  # not trusted: the header means nothing
    assert not origin_allowed(scope("https://chat.example.com", **behind))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        ("http://localhost", True),
        ("http://localhost:9999", False),
        ("https://localhost", False),
        ("ws://localhost", False),
    ],
)
async def test_the_handshake_with_a_valid_cookie_is_refused_from_another_origin(
    alice, origin, accepted
):
    sock = Socket(alice, origin=(b"origin", origin.encode()))
    connected, _ = await sock.connect()
    assert connected is accepted
    assert (sock.hello is not None) is accepted
    await sock.close()
