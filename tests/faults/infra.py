"""Fault-injection tools for tests against real servers: a private Redis the test can kill,
a TCP proxy the test can cut, freeze or make drop one direction, and a client that follows
the reconnect algorithm of docs/protocol.md and keeps the view a user would see."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import redis
import websockets

from tests.chats.live import Client, Server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A private redis-server (no persistence): stopping it loses everything, like a crash."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.port = free_port()
        self.args = args
        self.log_path = tmp_path / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {self.log_path.read_text()}")
            time.sleep(0.05)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGKILL: Redis vanishes with every key, subscription and connection."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)


class SentinelServer:
    """One Redis Sentinel (quorum 1, quick to call a primary down) watching `master` as
    `name`: with a replica beside the primary, killing the primary promotes the replica
    within a few seconds."""

    def __init__(self, tmp_path: Path, master: RedisServer, name: str = "mymaster") -> None:
        self.port = free_port()
        self.name = name
        self.log_path = tmp_path / f"sentinel-{self.port}.log"
        self.conf = tmp_path / f"sentinel-{self.port}.conf"
        self.conf.write_text(  # Sentinel rewrites this file as it learns
            f"port {self.port}\nbind 127.0.0.1\ndir {tmp_path}\n"
            f"sentinel monitor {name} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {name} 1000\n"
            f"sentinel failover-timeout {name} 10000\n"
        )
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            ["redis-server", str(self.conf), "--sentinel"], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self._until(lambda: self.primary_port() is not None, "Sentinel did not start")

    def _ask(self, *command: str) -> Any:
        client = redis.Redis(port=self.port, socket_timeout=2, decode_responses=True)
        try:
            return client.execute_command(*command)
        finally:
            client.close()

    def primary_port(self) -> int | None:
        try:
            address = self._ask("SENTINEL", "get-master-addr-by-name", self.name)
        except redis.ConnectionError:
            return None
        return int(address[1]) if address else None

    def replicas_ready(self) -> int:
        """Replicas Sentinel knows, is in touch with and could promote."""
        replicas = self._ask("SENTINEL", "replicas", self.name)
        ready = 0
        for replica in replicas:
            if isinstance(replica, list):  # RESP2: name, value, name, value...
                replica = dict(zip(replica[::2], replica[1::2], strict=True))
            if replica.get("master-link-status") == "ok" and "down" not in replica["flags"]:
                ready += 1
        return ready

    def until_replicas(self, count: int = 1) -> None:
        self._until(lambda: self.replicas_ready() >= count, "Sentinel never saw the replica")

    def until_primary_is(self, port: int, timeout: float = 60) -> float:
        """Wait for Sentinel to name `port` the primary; how long it took."""
        started = time.monotonic()
        self._until(lambda: self.primary_port() == port, "no failover", timeout)
        return time.monotonic() - started

    def _until(self, ready, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{what}: {self.log_path.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} in {timeout}s: {self.log_path.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)


class Sentineled:
    """A Redis primary, its replica and one Sentinel (REDIS_SENTINELS=`sentinels`)."""

    def __init__(self, tmp_path: Path) -> None:
        # The replica's full sync writes an RDB file: in the test's directory, not the cwd.
        self.primary = RedisServer(tmp_path, "--dir", str(tmp_path))
        self.primary.start()
        self.replica = RedisServer(
            tmp_path, "--dir", str(tmp_path), "--replicaof", "127.0.0.1", str(self.primary.port)
        )
        self.replica.start()
        self.sentinel = SentinelServer(tmp_path, self.primary)
        self.sentinel.start()
        self.sentinel.until_replicas(1)

    @property
    def sentinels(self) -> str:
        return self.sentinel.address

    def fail_over(self) -> float:
        """Kill the primary; the seconds until Sentinel names the replica primary."""
        self.primary.stop()
        return self.sentinel.until_primary_is(self.replica.port)

    def stop(self) -> None:
        for server in (self.sentinel, self.replica, self.primary):
            server.stop()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target port, in a thread with its own event loop.

    `cut()` resets every connection and refuses new ones (the target is unreachable);
    `freeze()` keeps connections open but silently drops everything (the peer is gone
    without a word); `drop_down` alone loses the target's replies; `restore()` heals."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refusing = False
        self.drop_up = False
        self.drop_down = False
        self.accepted = 0
        self._conns: set[asyncio.StreamWriter] = set()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(self._start())

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    async def _start(self) -> asyncio.AbstractServer:
        return await asyncio.start_server(self._handle, sock=self._listener)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.accepted += 1
        self._conns.update((writer, up_writer))
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, "up"),
                self._pump(up_reader, writer, "down"),
                return_exceptions=True,
            )
        finally:
            for w in (writer, up_writer):
                self._conns.discard(w)
                w.transport.abort()

    async def _pump(self, reader, writer, direction: str) -> None:
        try:
            while data := await reader.read(65536):
                if self.drop_up if direction == "up" else self.drop_down:
                    continue
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()

    def _set(self, **flags) -> None:
        async def apply():
            for name, value in flags.items():
                setattr(self, name, value)

        self._call(apply())

    def cut(self) -> None:
        async def cut():
            self.refusing = True
            for writer in list(self._conns):
                writer.transport.abort()

        self._call(cut())

    def freeze(self) -> None:
        self._set(drop_up=True, drop_down=True)

    def lose_replies(self) -> None:
        self._set(drop_down=True)

    def restore(self) -> None:
        self._set(refusing=False, drop_up=False, drop_down=False)

    def open_connections(self) -> int:
        """Connections through the proxy still open (each counts once, not per side)."""

        async def count():
            return len(self._conns) // 2

        return self._call(count())

    def close(self) -> None:
        async def close():
            self._server.close()
            for writer in list(self._conns):
                writer.transport.abort()

        with contextlib.suppress(Exception):
            self._call(close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def stored_messages(database_url: str, chat_id: int) -> list[tuple[int, int, str, str]]:
    """(seq, id, client_id, body) of a chat's messages, read straight from the database."""
    query = "SELECT seq, id, client_id, body FROM chats_message WHERE chat_id = {} ORDER BY seq"
    if database_url.startswith("sqlite:"):
        with contextlib.closing(sqlite3.connect(urlsplit(database_url).path)) as db:
            return [tuple(r) for r in db.execute(query.format("?"), (chat_id,))]
    with psycopg.connect(database_url) as db:
        return [tuple(r) for r in db.execute(query.format("%s"), (chat_id,))]


RETRY = (OSError, asyncio.TimeoutError, websockets.ConnectionClosed, websockets.InvalidStatus)


class Member:
    """One user's tab on one chat, following docs/protocol.md: it shows each message id once
    (its own from the ack), syncs from its last gapless seq on every (re)connect, and resends
    a pending message with the same client_id until it is acked."""

    def __init__(self, name: str, session: str, chat: int) -> None:
        self.name = name
        self.session = session
        self.chat = chat
        self.view: dict[int, int] = {}  # seq -> message id
        self.client: Client | None = None
        self.unread: int | None = None
        self.frames: list[dict] = []

    @property
    def last_seq(self) -> int:
        seq = 0
        while seq + 1 in self.view:
            seq += 1
        return seq

    @property
    def open(self) -> bool:
        return self.client is not None and self.client.ws.state is websockets.State.OPEN

    async def connect(self, server: Server, via: int | None = None, deadline: float = 60) -> None:
        """Connect (retrying like the browser's backoff, bounded), then sync."""
        await self.drop()
        give_up = time.monotonic() + deadline
        while True:
            try:
                self.client = await server.connect(self.session, via=via)
                if self.client.hello["type"] != "hello":
                    raise AssertionError(self.client.hello)
                break
            except RETRY:
                await self.drop()
                if time.monotonic() > give_up:
                    raise
                await asyncio.sleep(0.2)
        for entry in self.client.hello["chats"]:
            if entry["id"] == self.chat:
                self.unread = entry["unread"]
        await self.sync()

    async def recover(self, server: Server) -> None:
        """As the client does after an outage: sync if the socket survived, else reconnect
        (which syncs)."""
        if self.open:
            await self.sync()
        else:
            await self.connect(server)

    async def drop(self) -> None:
        if self.client is not None:
            await self.client.close()
        self.client = None

    def apply(self, frame: dict) -> None:
        self.frames.append(frame)
        if frame["type"] in {"message", "ack"} and frame["message"]["chat"] == self.chat:
            seq, mid = frame["message"]["seq"], frame["message"]["id"]
            assert self.view.setdefault(seq, mid) == mid, f"seq {seq} changed id"
        elif frame["type"] == "unread" and frame["chat"] == self.chat:
            self.unread = frame["unread"]

    async def recv(self, timeout: float = 20) -> dict:
        frame = await self.client.recv(timeout)
        self.apply(frame)
        return frame

    async def recv_until(self, match, timeout: float = 20) -> dict:
        while True:
            frame = await self.recv(timeout)
            if match(frame):
                return frame

    async def sync(self) -> None:
        while True:
            await self.client.send({"type": "sync", "chat": self.chat, "after": self.last_seq})
            synced = await self.recv_until(lambda f: f["type"] == "synced")
            if not synced["more"]:
                return

    async def send(self, body: str, client_id: str | None = None) -> dict:
        """One attempt: the ack, or the error frame."""
        client_id = client_id or str(uuid.uuid4())
        await self.client.send(
            {"type": "send", "chat": self.chat, "client_id": client_id, "body": body}
        )
        return await self.recv_until(
            lambda f: f["type"] in {"ack", "error"} and f.get("client_id") == client_id
        )

    async def send_until_acked(
        self, server: Server, body: str, client_id: str | None = None, via: int | None = None
    ) -> tuple[dict, list[dict]]:
        """The client's pending-message loop: resend with the same client_id (reconnecting
        when the socket is gone) until acked. Returns the ack and the errors seen before."""
        client_id = client_id or str(uuid.uuid4())
        errors: list[dict] = []
        give_up = time.monotonic() + 60
        while True:
            try:
                if not self.open:
                    await self.connect(server, via=via)
                reply = await self.send(body, client_id)
            except RETRY:
                await self.drop()
                reply = None
            if reply is not None and reply["type"] == "ack":
                return reply, errors
            if reply is not None:
                assert reply["code"] in {"unavailable", "rate_limited"}, reply
                errors.append(reply)
            assert time.monotonic() < give_up, f"never acked; errors: {errors}"
            await asyncio.sleep(0.2)

    def assert_holds(self, rows: list[tuple[int, int, str, str]]) -> None:
        """The view is the database: every stored message once, in seq order, no gaps."""
        assert [seq for seq, *_ in rows] == list(range(1, len(rows) + 1))
        expected = {seq: mid for seq, mid, *_ in rows}
        assert self.view == expected, (self.name, self.view, expected)
        shown = [
            f["message"]["id"]
            for f in self.frames
            if f["type"] in {"message", "ack"} and f["message"]["chat"] == self.chat
        ]
        assert set(shown) == {mid for _, mid, *_ in rows}


def alice_and_bob(seed: dict) -> tuple[Member, Member]:
    """The two users of `Cluster.seed("alice", "bob")` on their chat, not connected yet."""
    users, chat = seed["users"], seed["chat"]
    return (
        Member("alice", users["alice"]["session"], chat),
        Member("bob", users["bob"]["session"], chat),
    )


@contextlib.asynccontextmanager
async def conversation(
    seed: dict, alice_on: Server, bob_on: Server | None = None, *, alice_via: int | None = None
) -> AsyncIterator[tuple[Member, Member]]:
    """alice connected to `alice_on` (through the proxy port `alice_via`), then bob to `bob_on`
    (by default the same server); both sockets are dropped on exit."""
    alice, bob = alice_and_bob(seed)
    try:
        await alice.connect(alice_on, via=alice_via)
        await bob.connect(bob_on or alice_on)
        yield alice, bob
    finally:
        await alice.drop()
        await bob.drop()


def assert_all_hold(database_url: str, *members: Member) -> list[tuple[int, int, str, str]]:
    """Each member's view is the chat's stored messages (see Member.assert_holds); the rows."""
    rows = stored_messages(database_url, members[0].chat)
    for member in members:
        member.assert_holds(rows)
    return rows


async def until_delivered_live(
    sender: Member, receiver: Member, server: Server, attempts: int = 20
) -> int:
    """Send until one message reaches the receiver live; returns how many were sent."""
    for i in range(1, attempts + 1):
        ack, _ = await sender.send_until_acked(server, f"ping {i}")
        mid = ack["message"]["id"]
        try:
            await receiver.recv_until(
                lambda f, mid=mid: f["type"] == "message" and f["message"]["id"] == mid,
                timeout=3,
            )
        except TimeoutError:
            continue
        return i
    raise AssertionError(f"no live delivery after {attempts} messages")


def log_of(server: Server) -> str:
    server.log.flush()
    return server.log_path.read_text(errors="replace")


def dumps(frame: dict) -> str:
    return json.dumps(frame)
