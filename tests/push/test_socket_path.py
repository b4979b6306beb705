"""Issue 17: sends over the socket (on PostgreSQL the event-loop send path) queue pushes for
an offline recipient and none for one with an open socket."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from chatsite import presence_store
from push import dispatch
from tests.chats.conftest import Socket
from tests.factories import make_chat, make_messages
from tests.push.test_sending import run_queue

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


async def send(sock, chat, body):
    await sock.send({"type": "send", "chat": chat.pk, "client_id": str(uuid.uuid4()), "body": body})
    await sock.recv_until("ack")


async def test_a_socket_send_pushes_to_the_offline_recipient_only(
    alice, bob, double, subscribe, monkeypatch
):
    chat = await db(make_chat)(alice, bob)
    await db(subscribe)(bob, "laptop")
    await db(subscribe)(alice, "alice")
    sender = Socket(alice)
    assert (await sender.connect())[0]
    await send(sender, chat, "while you were away")
    # Presence is read when the dispatcher takes the message, moments after the commit:
    # let it, before bob connects.
    assert await db(dispatch.wait_idle)()

    recipient = Socket(bob)  # bob comes online: the next message is not pushed
    assert (await recipient.connect())[0]
    await send(sender, chat, "now you are here")
    assert await db(dispatch.wait_idle)()  # taken while bob's socket is still open
    await sender.comm.disconnect()
    await recipient.comm.disconnect()
    assert await db(dispatch.wait_idle)()
    # db_worker installs signal handlers, which only the main thread may: run it here.
    # While the loop runs, Django keeps that connection per context: close it here, or it
    # outlives the test (and blocks dropping the test database).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        run_queue()
    finally:
        connections.close_all()

    assert [p["body"] for p in double.delivered("laptop")] == ["while you were away"]
    assert double.delivered("alice") == []  # the sender's socket was open, and it is hers


async def test_a_recipient_with_a_socket_open_here_costs_no_query(alice, bob, subscribe):
    """The dispatcher skips a recipient with a socket open in this process before asking the
    database who subscribed (the store would say they are online anyway)."""
    chat = await db(make_chat)(alice, bob)
    [message] = await db(make_messages)(chat, alice, 1)
    await db(subscribe)(bob, "laptop")
    work = [(message.pk, chat.pk, bob.pk)]

    def queries_to_dispatch() -> int:
        with CaptureQueriesContext(connection) as queries:
            dispatch.enqueue_pushes(work)
        return len(queries)

    recipient = Socket(bob)
    assert (await recipient.connect())[0]
    assert presence_store.sockets_here(bob.pk) == 1
    assert await db(queries_to_dispatch)() == 0
    await recipient.comm.disconnect()
    assert presence_store.sockets_here(bob.pk) == 0
    assert await db(queries_to_dispatch)() > 0  # offline now: asked, and queued
