"""The cap on a socket's queued output (issue 21): the queued bytes are read from the server's
transport (daphne's Twisted one, uvicorn's asyncio one); a sync waits while the previous
reply is mostly unread; a client that reads nothing for SOCKET_DRAIN_SECONDS is closed 4408."""

import asyncio
import functools
import socket as pysocket
import types

import pytest
from channels.db import database_sync_to_async

from chats.realtime import send_buffer
from tests.factories import make_chat, make_messages

db = database_sync_to_async


def test_probe_reads_a_twisted_transports_buffer():
    transport = types.SimpleNamespace(dataBuffer=b"x" * 100, offset=30, _tempDataLen=50)
    protocol = types.SimpleNamespace(transport=transport)
    queued = send_buffer.probe(functools.partial(lambda protocol, message: None, protocol))
    assert queued is not None and queued() == 120


async def test_probe_reads_an_asyncio_transports_buffer():
    ours, theirs = pysocket.socketpair()
    theirs.setblocking(False)
    transport, _ = await asyncio.get_running_loop().create_connection(asyncio.Protocol, sock=ours)

    class Protocol:  # uvicorn's shape: the ASGI send is a bound method of the protocol
        def __init__(self):
            self.transport = transport

        async def asgi_send(self, message):
            pass

    queued = send_buffer.probe(Protocol().asgi_send)
    try:
        transport.write(b"x" * 8_000_000)  # the peer reads nothing
        assert queued() > 1_000_000
        while queued():  # now it reads
            try:
                theirs.recv(1 << 20)
            except BlockingIOError:
                await asyncio.sleep(0.001)
        assert queued() == 0
    finally:
        transport.close()
        theirs.close()


async def test_an_asyncio_transport_pauses_sends_only_past_the_cap_and_an_abandoned_one_drops():
    # uvicorn's send waits while its transport is over the high-water mark (64 KiB by
    # default): the 4408 close behind it could never be queued.
    ours, theirs = pysocket.socketpair()
    theirs.setblocking(False)
    transport, _ = await asyncio.get_running_loop().create_connection(asyncio.Protocol, sock=ours)

    class Protocol:
        def __init__(self):
            self.transport = transport

        async def send(self, message):
            pass

    try:
        buffer = send_buffer.SendBuffer(Protocol().send, limit=1_000_000, drain_seconds=0.2)
        assert transport.get_write_buffer_limits()[1] == 2_000_000
        transport.write(b"x" * 8_000_000)  # the peer reads nothing
        buffer.abandon()
        assert not transport.is_closing()
        await asyncio.sleep(0.4)
        assert transport.is_closing()
    finally:
        transport.close()
        theirs.close()


def test_an_unknown_server_is_no_probe():
    assert send_buffer.probe(lambda message: None) is None


class FakeBuffer:
    """Stands for the server's transport in the in-process tests."""

    size = 0


@pytest.fixture
def queued(monkeypatch, settings):
    settings.SOCKET_SEND_BUFFER = 1000
    settings.SOCKET_DRAIN_SECONDS = 0.5
    fake = FakeBuffer()
    monkeypatch.setattr(send_buffer, "probe", lambda send: lambda: fake.size)
    return fake


@pytest.mark.django_db(transaction=True)
async def test_a_client_that_reads_nothing_is_closed_4408(socket, queued, alice, bob):
    chat = await db(make_chat)(alice, bob)
    a = await socket(alice)
    queued.size = 5000  # over SOCKET_SEND_BUFFER, and it stays there
    await a.send({"type": "sync", "chat": chat.pk, "after": 0})
    closed = await a.comm.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4408}


@pytest.mark.django_db(transaction=True)
async def test_a_sync_waits_until_the_previous_reply_is_mostly_read(socket, queued, alice, bob):
    chat = await db(make_chat)(alice, bob)
    await db(make_messages)(chat, bob, 1)
    a = await socket(alice)
    queued.size = 400  # under the cap, over an eighth of it: a reply is still being read
    await a.send({"type": "sync", "chat": chat.pk, "after": 0})
    assert await a.comm.receive_nothing(timeout=0.2)
    queued.size = 0  # the client read it
    _, frames = await a.recv_until("synced")
    assert [f["type"] for f in frames] == ["message", "synced"]
