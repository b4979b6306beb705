"""Where a server's CPU goes, by part of the stack (row `profile` of bench/live.py).

py-spy samples the server under test while a live row's load runs (`--gil`: only samples
of the thread holding the GIL, so idle threads and waits count for nothing); each sample is
given to the part of the stack its innermost frame's file belongs to. Read with the run's
CPU per message, a part's share becomes its cost per message, and the Channels relay's
parts name what the fixed stack costs before the product does anything.
"""

from __future__ import annotations

import collections
import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.config import VENV_BIN

# Each part of the stack and the top-level packages (or stdlib modules) it is made of; a
# frame's file is named by py-spy relative to its sys.path entry ("uvicorn/server.py").
SERVER = "server: uvicorn + websockets"
LAYER = "channel layer + Redis clients"
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (SERVER, ("uvicorn", "websockets", "httptools", "h11", "wsproto")),
    ("Channels + asgiref", ("channels", "asgiref", "daphne", "twisted", "autobahn")),
    (LAYER, ("redis", "channels_redis", "msgpack")),
    (
        "event loop (asyncio, uvloop, threads)",
        ("asyncio", "uvloop", "selectors", "concurrent", "threading", "queue", "contextvars"),
    ),
    ("Django", ("django",)),
    ("psycopg", ("psycopg", "psycopg_pool")),
    ("Chatsite", ("chats", "chatsite", "accounts", "push", "ops", "api")),
    ("bench apps (the floor's and the relay's own code)", ("bench",)),
)
OTHER = "other (json, logging, prometheus-client, ...)"
# The parts every server built on this stack has, whatever it does with a message: the
# server, Channels, the channel layer and its Redis client, and the event loop they run on.
FIXED = (SERVER, "Channels + asgiref", LAYER, "event loop (asyncio, uvloop, threads)")
_PART_OF = {package: name for name, packages in PARTS for package in packages}
# Chatsite's own versions of fixed parts, which the Channels relay runs too (it is served
# with the product's settings and command): the WebSocket protocol docs/deploy.md serves
# with, and the channel layer of settings.CHANNEL_LAYERS.
_FILE_PART = {"chatsite/uvicorn_ws.py": SERVER, "chatsite/layers.py": LAYER}


def part_of(frame: str) -> str:
    """The part a py-spy frame ("function (path/to/file.py:12)") belongs to."""
    start, end = frame.rfind(" ("), frame.rfind(":")
    path = frame[start + 2 : end] if 0 <= start < end else frame
    if path in _FILE_PART:
        return _FILE_PART[path]
    top = path.split("/", 1)[0].removesuffix(".py")
    return _PART_OF.get(top, OTHER)


def read_raw(text: str) -> dict[str, Any]:
    """py-spy's raw (collapsed) output: samples by part, and the busiest innermost frames."""
    parts: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        parts[part_of(leaf)] += int(count)
        leaves[leaf] += int(count)
    return {
        "samples": sum(parts.values()),
        "parts": dict(parts.most_common()),
        "top": [[frame, count] for frame, count in leaves.most_common(12)],
    }


def py_spy() -> Path:
    path = VENV_BIN / "py-spy"
    if not path.exists():
        raise SystemExit(
            f"row 'profile' needs py-spy ({path}): pip install -r requirements-test.txt"
        )
    return path


@contextlib.contextmanager
def sampling(pid: int, out: Path, rate: int = 100) -> Iterator[dict[str, Any]]:
    """py-spy samples process `pid` while the block runs; the dict it yields gets
    `read_raw`'s figures when the block ends."""
    out.unlink(missing_ok=True)
    command = [str(py_spy()), "record", "--gil", "-r", str(rate), "-f", "raw"]
    spy = subprocess.Popen(
        [*command, "-p", str(pid), "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # attached before the load starts
    found: dict[str, Any] = {}
    try:
        yield found
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
    found.update(read_raw(out.read_text() if out.exists() else ""))
    if not found["samples"]:
        raise RuntimeError(f"py-spy recorded no samples of process {pid}")


def shares(profile: dict[str, Any]) -> dict[str, float]:
    """Each part's share of the samples, 0-1."""
    total = profile.get("samples") or 0
    return (
        {name: count / total for name, count in profile.get("parts", {}).items()} if total else {}
    )


def fixed_share(profile: dict[str, Any]) -> float:
    """The share of the samples in the FIXED parts, 0-1."""
    return sum(shares(profile).get(part, 0.0) for part in FIXED)
