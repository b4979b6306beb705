"""Launching the servers under test (the product on uvicorn or daphne, or the floor) and
watching them."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.config import ROOT, VENV_BIN, Config, cpu_split, django_env


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


@dataclass
class Server:
    kind: str
    ports: tuple[int, ...]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def ps(self) -> list[psutil.Process]:
        return [psutil.Process(p.pid) for p in self.procs]

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.ps:
            times = proc.cpu_times()
            total += times.user + times.system
        return total

    def rss(self) -> int:
        return sum(proc.memory_info().rss for proc in self.ps)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _pin(cmd: list[str], pinned: bool = True) -> list[str]:
    server_cores, _client = cpu_split()
    if server_cores is None or not pinned:
        return cmd
    return ["taskset", "-c", ",".join(map(str, server_cores)), *cmd]


CLIENT_NICE = int(os.environ.get("BENCH_CLIENT_NICE", "10"))


def pin_self_to_client_cores() -> list[int] | None:
    """Move the load client (this process) onto the cores the server does not use, at a
    lower priority (BENCH_CLIENT_NICE, 10): its cores also run PostgreSQL and Redis, which
    serve the server under test, and at equal priority the client's bursts preempted them
    (docs/benchmarks.md, "Method"). The servers it starts run at normal priority."""
    _server, client_cores = cpu_split()
    if client_cores is not None:
        os.sched_setaffinity(0, client_cores)
    os.setpriority(os.PRIO_PROCESS, 0, max(CLIENT_NICE, os.getpriority(os.PRIO_PROCESS, 0)))
    return client_cores


def _normal_priority() -> None:
    """In a server's child process: back to priority 0 (lowering needs root; without it
    the server keeps the client's, and live.json says so)."""
    with contextlib.suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, 0, 0)


def niceness(server: Server) -> list[int]:
    return [proc.nice() for proc in server.ps]


def start_product(
    config: Config,
    db_url: str,
    *,
    workers: int = 1,
    first_port: int = 0,
    settings_module: str = "chatsite.settings",
    app: str = "chatsite.asgi:application",
    log: Path | None = None,
    pinned: bool = True,
) -> Server:
    """`workers` server processes (one port each) sharing the database and Redis.

    Pinned (the default), on the server's cores with the bench's own uvicorn or daphne
    command; unpinned, with the command docs/deploy.md gives for production, anywhere."""
    env = django_env(config, db_url, DJANGO_SETTINGS_MODULE=settings_module)
    ports = tuple(config.port(first_port + i) for i in range(workers))
    server = Server("product", ports)
    out = open(log or config.tmp / "daphne.log", "ab")  # noqa: SIM115
    for port in ports:
        cmd = _server_command(app, port) if pinned else deployed_command(app, port)
        server.procs.append(
            subprocess.Popen(
                _pin(cmd, pinned),
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=out,
                preexec_fn=_normal_priority,
            )
        )
    for port in ports:
        wait_port(port)
    return server


WS_PROTOCOL = "chatsite.uvicorn_ws:CoalescingWebSocketProtocol"


def _server_command(app: str, port: int) -> list[str]:
    """uvicorn (as docs/deploy.md runs it) or daphne (the default server), from
    BENCH_SERVER (`python -m bench run --server`)."""
    if os.environ.get("BENCH_SERVER", "uvicorn") == "uvicorn":
        return [
            str(VENV_BIN / "uvicorn"),
            "--host=127.0.0.1",
            f"--port={port}",
            "--backlog=1024",
            "--loop=uvloop",
            "--http=httptools",
            # The protocol docs/deploy.md serves with (chatsite/uvicorn_ws.py); BENCH_WS
            # names another (`websockets-sansio`: uvicorn's own) for a comparison.
            "--ws=" + os.environ.get("BENCH_WS", WS_PROTOCOL),
            "--ws-per-message-deflate=false",
            "--ws-ping-interval=20",
            "--ws-ping-timeout=30",
            "--lifespan=off",
            "--no-access-log",
            "--log-level=warning",
            app,
        ]
    return [
        str(VENV_BIN / "daphne"),
        # The listen backlog matches the floor's, so a connect storm is not decided by
        # SYN drops (Twisted's default backlog is 50).
        "-e",
        f"tcp:port={port}:interface=127.0.0.1:backlog=1024",
        "--ping-interval",
        "20",
        "--ping-timeout",
        "30",
        app,
    ]


# The production command of docs/deploy.md ("Choosing the server"), word for word, for the
# rows run as people run the product (tests/bench checks the two agree).
DEPLOYED_UVICORN = (
    "uvicorn --host {host} --port {port} --loop uvloop --http httptools --ws " + WS_PROTOCOL + " "
    "--ws-per-message-deflate false --ws-ping-interval 20 --ws-ping-timeout 30 "
    "--lifespan off --no-access-log {app}"
)


def deployed_command(app: str, port: int) -> list[str]:
    words = DEPLOYED_UVICORN.format(host="127.0.0.1", port=port, app=app).split()
    return [str(VENV_BIN / words[0]), *words[1:]]


def start_floor(config: Config, *, first_port: int = 40, pinned: bool = True) -> Server:
    port = config.port(first_port)
    cmd = [sys.executable, "-m", "bench.floor", "127.0.0.1", str(port)]
    proc = subprocess.Popen(
        _pin(cmd, pinned), cwd=ROOT, stdout=subprocess.DEVNULL, preexec_fn=_normal_priority
    )
    server = Server("floor", (port,), [proc])
    wait_port(port)
    return server
