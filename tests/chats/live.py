"""Real daphne processes for live tests, and a `websockets` client to talk to them.

Each server listens on a socket the test bound to port 0 (handed over with --fd), so no
port is ever guessed. Servers share the test's database (PostgreSQL: pytest-django's test
database, made visible by transactional tests; SQLite: a migrated file per test) and, for
several processes, one Redis under a prefix of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import socket as pysocket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import websockets
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DAPHNE = str(Path(PYTHON).with_name("daphne"))
UVICORN = str(Path(PYTHON).with_name("uvicorn"))


def server_command(server: str, fd: int, ping: tuple[str, str]) -> list[str]:
    """daphne (the default server) or uvicorn as docs/deploy.md runs it, on socket `fd`,
    pinging every ping[0] seconds and dropping a socket after ping[1] without a pong."""
    if server == "uvicorn":
        return [
            UVICORN,
            "--fd",
            str(fd),
            "--loop=uvloop",
            "--http=httptools",
            "--ws=chatsite.uvicorn_ws:CoalescingWebSocketProtocol",
            "--ws-per-message-deflate=false",
            f"--ws-ping-interval={ping[0]}",
            f"--ws-ping-timeout={ping[1]}",
            "--lifespan=off",
            "--no-access-log",
            "chatsite.asgi:application",
        ]
    args = ["--ping-interval", ping[0], "--ping-timeout", ping[1]]
    return [DAPHNE, "--fd", str(fd), *args, "chatsite.asgi:application"]


def redis_url_for_processes() -> str:
    """Redis for tests that start several processes (they can only meet through it)."""
    return (
        os.environ.get("REDIS_URL")
        or os.environ.get("TEST_REDIS_URL")
        or "redis://127.0.0.1:6379/0"
    )


def test_database_url(tmp_path: Path, template: Path | None) -> str:
    """A database URL the servers share with this test."""
    if connection.vendor == "postgresql":
        parts = urlsplit(os.environ["DATABASE_URL"])
        return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))
    assert template is not None
    path = tmp_path / "live.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def migrate_sqlite_template(path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}"}
    env.pop("REDIS_URL", None)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )


class Cluster:
    """Servers sharing one database (and Redis when there are several)."""

    def __init__(
        self,
        tmp_path: Path,
        database_url: str,
        redis_url: str | None,
        *,
        server: str = "daphne",
        ping: tuple[str, str] = ("5", "30"),
        **env: str,
    ) -> None:
        self.tmp_path = tmp_path
        self.server_kind = server
        self.ping = ping
        prefix = f"live-{uuid.uuid4().hex[:10]}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CHANNEL_PREFIX": prefix,
            "CACHE_PREFIX": prefix,
            "PRESENCE_GRACE_SECONDS": "1",
            "DB_POOL_MIN": "1",
            "DB_POOL_MAX": "8",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        else:
            self.env.pop("REDIS_URL", None)
        self.servers: list[Server] = []

    def seed(self, *usernames: str) -> dict:
        """Users with sessions, and a chat between the first two (in the servers' database)."""
        return self.run_seed("tests.chats.live_seed", *usernames)

    def run_seed(self, module: str, *args: str) -> dict:
        """Run `python -m module args` on the servers' database; the JSON it prints last."""
        out = subprocess.run(
            [PYTHON, "-m", module, *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    def start(self) -> Server:
        log_path = self.tmp_path / f"{self.server_kind}-{len(self.servers)}.log"
        server = Server(self.env, log_path, self.server_kind, self.ping)
        self.servers.append(server)
        server.wait_ready()
        return server

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


class Server:
    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        kind: str = "daphne",
        ping: tuple[str, str] = ("5", "30"),
    ) -> None:
        self.env = env
        self.kind = kind
        self.ping = ping
        self.listener = pysocket.socket(pysocket.AF_INET, pysocket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.log_path = log_path
        self.log = log_path.open("wb")
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen:
        # The listening socket stays open in the test: a restarted server takes over the
        # same port, and connections queue in its backlog while no process accepts them.
        fd = self.listener.fileno()
        return subprocess.Popen(
            server_command(self.kind, fd, self.ping),
            cwd=ROOT,
            env=self.env,
            pass_fds=[fd],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no close frames, nothing flushed."""
        self.process.kill()
        self.process.wait(timeout=15)

    def restart(self) -> None:
        """Start a new process on the same listening socket (after `kill` or a crash)."""
        assert self.process.poll() is not None, "the server is still running"
        self.process = self._spawn()
        self.wait_ready()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited: {self.log_path.read_text()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/accounts/login/")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.listener.close()
        self.log.close()

    async def connect(self, session: str, via: int | None = None) -> Client:
        """A logged-in socket; `via` is the port of a proxy in front of this server."""
        port = via or self.port
        ws = await websockets.connect(
            f"ws://127.0.0.1:{port}/ws/",
            origin=f"http://127.0.0.1:{port}",  # a page served from where it connects
            additional_headers={"Cookie": f"sessionid={session}"},
            open_timeout=20,
        )
        client = Client(ws)
        client.hello = await client.recv()
        return client


class Client:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.hello: dict | None = None

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv(self, timeout: float = 20) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def recv_until(self, match, timeout: float = 20) -> tuple[dict, list[dict]]:
        """Frames up to and including the first for which `match(frame)` is true."""
        if isinstance(match, str):
            kind = match

            def match(frame):
                return frame["type"] == kind

        seen = []
        while True:
            frame = await self.recv(timeout)
            seen.append(frame)
            if match(frame):
                return frame, seen

    async def send_message(self, chat: int, body: str, client_id: str | None = None) -> dict:
        client_id = client_id or str(uuid.uuid4())
        await self.send({"type": "send", "chat": chat, "client_id": client_id, "body": body})
        ack, _ = await self.recv_until(
            lambda f: f["type"] in {"ack", "error"} and f.get("client_id") == client_id
        )
        assert ack["type"] == "ack", ack
        return ack

    async def close(self) -> None:
        """Close, discarding frames still queued: a client that stops reading (websockets
        pauses reading once its queue is full) would not see the server's close frame and
        would wait out its close timeout."""

        async def discard() -> None:
            with contextlib.suppress(Exception):
                async for _ in self.ws:
                    pass

        reader = asyncio.ensure_future(discard())
        try:
            with contextlib.suppress(Exception):
                await self.ws.close()
        finally:
            reader.cancel()
