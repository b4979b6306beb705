"""Broken links between real processes: a client that silently vanishes, a database that
cannot be reached during a send, and a reader too slow for the channel layer."""

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.faults.infra import (
    alice_and_bob,
    assert_all_hold,
    conversation,
    stored_messages,
    until_delivered_live,
)

pytestmark = [pytest.mark.live, pytest.mark.fault, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
async def test_half_open_socket_is_closed_by_server_pings_and_presence_goes_offline(
    cluster_factory, proxy, server
):
    # Production servers ping every 20 s and drop a socket 30 s after an unanswered ping
    # (under a minute, see docs/reliability.md); the test shortens both.
    cluster = cluster_factory(server=server, ping=("1", "2"))
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    link = proxy(server.port)
    alice, bob = alice_and_bob(seed)
    await bob.connect(server)  # bob is there to see alice come and go
    await alice.connect(server, via=link.port)
    try:
        online = await bob.recv_until(lambda f: f["type"] == "presence")
        assert (online["user"], online["status"]) == ("alice", "online")
        link.freeze()  # alice's machine is gone: no FIN, no RST, nothing answers
        offline = await bob.recv_until(lambda f: f["type"] == "presence", timeout=60)
        assert (offline["user"], offline["status"]) == ("alice", "offline")
        # The server closed its end: the proxy saw the upstream connection go.
        assert link.open_connections() == 0
        # Nothing else was disturbed: bob's socket still works.
        assert (await bob.send("still here"))["type"] == "ack"
    finally:
        await alice.drop()
        await bob.drop()


class DatabaseOutage:
    """Make the servers' database unreachable for writes and back.

    PostgreSQL: the servers reach it through a TCP proxy that is cut (connections reset,
    new ones refused). SQLite: another process holds the write lock, so a write fails with
    "database is locked" after SQLITE_TIMEOUT seconds."""

    def __init__(self, database_url, proxy):
        self.truth = database_url
        self.lock = None
        if database_url.startswith("sqlite:"):
            self.url = database_url
            self.link = None
        else:
            parts = urlsplit(database_url)
            self.link = proxy(parts.port or 5432)
            netloc = parts.netloc.rsplit("@", 1)
            host = f"127.0.0.1:{self.link.port}"
            self.url = urlunsplit(
                parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host)
            )

    def begin(self):
        if self.link is not None:
            self.link.cut()
        else:
            self.lock = sqlite3.connect(urlsplit(self.truth).path, isolation_level=None)
            self.lock.execute("BEGIN EXCLUSIVE")

    def end(self):
        if self.link is not None:
            self.link.restore()
        else:
            self.lock.execute("ROLLBACK")
            self.lock.close()


async def test_database_down_during_a_send_says_not_stored_and_the_resend_stores_once(
    cluster_factory, database_url, proxy
):
    outage = DatabaseOutage(database_url, proxy)
    cluster = cluster_factory(database=outage.url, SQLITE_TIMEOUT="2")
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    async with conversation(seed, server) as (alice, bob):
        assert (await alice.send("before"))["type"] == "ack"
        outage.begin()
        client_id = str(uuid.uuid4())
        try:
            error = await alice.send("during the outage", client_id)
        finally:
            outage.end()
        assert error["type"] == "error", error
        assert error["code"] == "unavailable" and error["client_id"] == client_id
        assert "nothing was stored" in error["detail"]
        assert all(r[2] != client_id for r in stored_messages(database_url, alice.chat))
        # The client keeps it pending and resends it with the same client_id.
        ack, errors = await alice.send_until_acked(server, "during the outage", client_id)
        assert all(e["code"] == "unavailable" for e in errors)
        await bob.recv_until(
            lambda f: f["type"] == "message" and f["message"]["client_id"] == client_id
        )
        rows = assert_all_hold(database_url, alice, bob)
        assert [r[2] for r in rows].count(client_id) == 1
        assert ack["message"]["seq"] == 2


def stopped(process):
    """SIGSTOP a server: its sockets stay open but nothing is read or written."""

    @contextlib.contextmanager
    def frozen():
        os.kill(process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(process.pid, signal.SIGCONT)

    return frozen()


async def test_slow_reader_past_the_layers_capacity_recovers_every_message(
    cluster_factory, database_url, private_redis
):
    # Redis drops a pub/sub subscriber whose unread output passes 64 KiB: the capacity of
    # the channel layer for a reader that does not keep up.
    redis = private_redis("--client-output-buffer-limit", "pubsub 64kb 32kb 1")
    cluster = cluster_factory(redis.url, SEND_RATE_BURST="100000")
    seed = cluster.seed("alice", "bob")
    one, two = cluster.start(), cluster.start()
    async with conversation(seed, one, two) as (alice, bob):
        body = "\N{GRINNING FACE}" * 4000  # 16 KB on the wire
        count = 300
        with stopped(two.process):  # bob's server stops reading
            frames = [
                {"type": "send", "chat": alice.chat, "client_id": str(uuid.uuid4()), "body": body}
                for _ in range(count)
            ]
            for frame in frames:
                await alice.client.ws.send(json.dumps(frame, ensure_ascii=False))
            acks = 0
            while acks < count:
                frame = await alice.recv()
                assert frame["type"] != "error", frame
                acks += frame["type"] == "ack"
            # The acks come once the sends are committed; the doorbells ring just after.
            for _ in range(200):
                if "overcoming of output buffer limits" in redis.log_path.read_text():
                    break
                await asyncio.sleep(0.05)
        assert "overcoming of output buffer limits" in redis.log_path.read_text()
        # Bob missed the doorbells. The next one that reaches him reveals the gap, which
        # the server fills from the database before forwarding it.
        await until_delivered_live(alice, bob, one)
        rows = assert_all_hold(database_url, bob)
        assert len(rows) > count
        shown = [f["message"]["seq"] for f in bob.frames if f["type"] == "message"]
        assert shown == sorted(set(shown))  # in order, none twice
