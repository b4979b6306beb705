"""An API logout on one server process closes the session's socket on another at once
(through Redis), with 4401; the session cannot open a socket again; other users' sockets
are untouched (the in-process cases of every path: tests/chats/test_session_sockets.py)."""

import asyncio
import http.client
import json
import time
from http.cookies import SimpleCookie

import pytest
import websockets

from tests.chats.live import redis_url_for_processes

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def api_logout(port, session):
    """GET a CSRF token with the session, then POST /api/auth/logout/; the status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/auth/csrf/", headers={"Cookie": f"sessionid={session}"})
    response = conn.getresponse()
    token = json.loads(response.read())["csrf_token"]
    cookie = SimpleCookie(response.getheader("Set-Cookie"))["csrftoken"].value
    conn.request(
        "POST",
        "/api/auth/logout/",
        body="{}",
        headers={
            "Cookie": f"sessionid={session}; csrftoken={cookie}",
            "X-CSRFToken": token,
            "Content-Type": "application/json",
        },
    )
    status = conn.getresponse().status
    conn.close()
    return status


async def test_api_logout_on_one_process_closes_the_socket_on_another(cluster_factory):
    cluster = cluster_factory(redis_url_for_processes())
    seed = cluster.seed("alice", "bob")
    one, two = cluster.start(), cluster.start()
    alice_session = seed["users"]["alice"]["session"]
    alice = await two.connect(alice_session)
    bob = await two.connect(seed["users"]["bob"]["session"])
    try:
        started = time.monotonic()
        assert await asyncio.to_thread(api_logout, one.port, alice_session) == 204
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await alice.recv(timeout=5)
        elapsed = time.monotonic() - started
        assert alice.ws.close_code == 4401
        assert elapsed < 2, f"closed {elapsed:.2f} s after the logout was sent"
        with pytest.raises(websockets.ConnectionClosed):
            again = await two.connect(alice_session)
            await again.recv(timeout=5)
        assert (await bob.send_message(seed["chat"], "still here"))["message"]["seq"] == 1
    finally:
        await alice.close()
        await bob.close()
