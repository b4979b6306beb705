"""Deleting an account closes every socket of it at once (4401); a peer's open socket sees
the erased messages as `message` frames; presence and rate-limit counts leave Redis."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from chatsite import presence_store, redis_clients
from tests.accounts.test_sessions_sockets import signed_in_key
from tests.api.conftest import ApiClient
from tests.chats.conftest import Socket
from tests.factories import PASSWORD, make_exchange

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _short_grace(settings):
    settings.PRESENCE_GRACE_SECONDS = 0.2


async def test_deleting_closes_every_socket_and_the_peer_sees_the_erasure(alice, bob):
    chat = await sync_to_async(make_exchange)(alice, bob, "hi bob", "hi alice")
    tabs = [Socket(alice, session_key=await sync_to_async(signed_in_key)(alice)) for _ in range(2)]
    peer = Socket(bob, session_key=await sync_to_async(signed_in_key)(bob))
    for sock in [*tabs, peer]:
        assert (await sock.connect())[0]
    await tabs[0].send({"type": "send", "chat": chat.pk, "client_id": "a2", "body": "bye"})
    frame, _ = await peer.recv_until("message")
    assert frame["message"]["body"] == "bye"
    api = await sync_to_async(ApiClient)(alice)
    response = await sync_to_async(api.delete)(
        "/api/me/", {"password": PASSWORD, "username": "alice", "erase_messages": True}
    )
    assert response.status_code == 204
    for sock in tabs:
        assert await sock.close_code() == 4401
    # The chat's last change comes as a `message` frame (the versions before it are filled
    # from the database), then the name the peer's page shows becomes "Deleted account".
    seen, renamed = {}, None
    while len(seen) < 2 or renamed is None:
        frame = await peer.recv()
        if frame["type"] == "message":
            seen[frame["message"]["seq"]] = frame["message"]
        elif frame["type"] == "renamed":
            renamed = frame
    assert (renamed["old"], renamed["new"]) == ("alice", "Deleted account")
    assert ("alice", "hidden") in [(p["user"], p["status"]) for p in peer.presences]
    assert {(m["seq"], m["sender"], m["body"], m["deleted"]) for m in seen.values()} == {
        (1, "Deleted account", "", True),
        (3, "Deleted account", "", True),
    }
    await peer.send({"type": "send", "chat": chat.pk, "client_id": "b9", "body": "hello?"})
    error, _ = await peer.recv_until("error")
    assert error["code"] == "account_deleted" and error["client_id"] == "b9"
    await peer.close()
    await _until_gone(alice.pk)


async def _until_gone(user_id):
    """The user's presence leaves the store once the grace period after the last socket
    ends; the rate-limit counts were dropped at the deletion."""
    store = presence_store.store()
    for _ in range(100):
        if not await sync_to_async(store.online)([user_id]):
            break
        await asyncio.sleep(0.05)
    assert not await sync_to_async(store.online)([user_id])
    assert await sync_to_async(store.sockets)(user_id) == 0
    if settings.REDIS_URL:
        client = redis_clients.threaded(settings.REDIS_URL)
        prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
        left = [
            key
            for pattern in (f"{prefix}:presence:*:{user_id}", f"{prefix}:rl:*:{user_id}:*")
            for key in client.scan_iter(match=pattern)
        ]
        assert left == []
