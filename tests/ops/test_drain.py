"""SIGTERM drains a real server: /readyz says draining, new sockets are refused, every
send received is answered, each socket closes with 1012, spread over DRAIN_SECONDS, and
the process exits (ops/drain.py)."""

import asyncio
import signal
import time
import uuid

import pytest
import websockets

from tests.faults.infra import Member, assert_all_hold
from tests.ops.conftest import readyz

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

DRAIN_SECONDS = 2.0


async def until_closed(member):
    """Read (and apply) frames until the server closes the socket: (code, when)."""
    while True:
        try:
            await member.recv(timeout=30)
        except websockets.ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else None), time.monotonic()


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
async def test_sigterm_answers_every_send_then_closes_sockets_with_1012_spread_out(
    cluster_factory, database_url, kind
):
    cluster = cluster_factory(
        server=kind, DRAIN_SECONDS=str(DRAIN_SECONDS), SEND_RATE_BURST="100000"
    )
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    users, chat = seed["users"], seed["chat"]
    tabs = [Member(name, users[name]["session"], chat) for name in ("alice", "bob") * 2]
    for tab in tabs:
        await tab.connect(server)
    sender = tabs[0]
    client_ids = [str(uuid.uuid4()) for _ in range(30)]
    for n, client_id in enumerate(client_ids):
        await sender.client.send(
            {"type": "send", "chat": chat, "client_id": client_id, "body": f"burst {n}"}
        )
    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    readers = [asyncio.ensure_future(until_closed(tab)) for tab in tabs]

    status, body = await asyncio.to_thread(readyz, server)
    assert (status, body) == (503, {"status": "draining"})
    with pytest.raises(websockets.InvalidStatus) as refused:
        await server.connect(users["bob"]["session"])
    assert refused.value.response.status_code == 403

    closes = await asyncio.gather(*readers)
    assert [code for code, _ in closes] == [1012] * len(tabs)
    moments = sorted(when for _, when in closes)
    # Four sockets over 2 s: a close every 0.5 s, not all at once.
    assert moments[-1] - moments[0] >= DRAIN_SECONDS * 0.5
    # Every send the server had read when the socket closed was stored and acked, in
    # order; the rest (still on the wire at the close) go out again from the client.
    answers = {
        f.get("client_id") or f["message"]["client_id"]: f["type"]
        for f in sender.frames
        if f["type"] in {"ack", "error"}
    }
    acked = len(answers)
    assert [answers.get(c) for c in client_ids[:acked]] == ["ack"] * acked
    await asyncio.to_thread(server.process.wait, DRAIN_SECONDS + 15)
    assert time.monotonic() - signalled < DRAIN_SECONDS + 15

    server.restart()
    for tab in tabs:
        await tab.connect(server)
    try:
        for n, client_id in enumerate(client_ids[acked:], start=acked):
            await sender.send_until_acked(server, f"burst {n}", client_id)
        for tab in tabs[1:]:
            await tab.sync()
        rows = assert_all_hold(database_url, *tabs)
        assert [cid for _, _, cid, _ in rows] == client_ids  # each once, in order
    finally:
        for tab in tabs:
            await tab.drop()
