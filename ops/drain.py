"""The graceful drain on SIGTERM (docs/operations.md, "Graceful drain").

On SIGTERM the process: answers `draining` on /readyz and refuses new sockets
(ops/asgi.py); closes each open socket with 1012 (service restart) once the sends it has
received are stored and acked, one socket at a time spread over DRAIN_SECONDS so their
clients do not all reconnect in the same instant; then hands the signal to the server
(daphne or uvicorn), which stops. A second SIGTERM stops at once.

The server installs its own SIGTERM handler when it starts, after importing the
application, so ours is put in front of it on the first ASGI call (`install`), from the
event loop's thread (the main thread, in both servers).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger("ops.drain")

CLOSE_SERVICE_RESTART = 1012  # RFC 6455's registry: "Service Restart"

_began: float | None = None
_installed = False
_task: asyncio.Task[None] | None = None


class Restartable(Protocol):
    async def close_for_restart(self) -> None:
        """Close with 1012 once the sends received so far are answered."""


_open: weakref.WeakSet[Any] = weakref.WeakSet()


def register(socket: Restartable) -> None:
    """An open socket, to be closed by the drain (the consumer, once accepted)."""
    _open.add(socket)


def unregister(socket: Restartable) -> None:
    _open.discard(socket)


def open_sockets() -> int:
    return len(_open)


def begin() -> None:
    """From now on /readyz answers `draining` and new sockets are refused."""
    global _began
    if _began is None:
        _began = time.monotonic()


def draining() -> bool:
    return _began is not None


def reset() -> None:
    """Back to serving (tests)."""
    global _began, _task
    _began, _task = None, None


def install() -> None:
    """Put the drain in front of the server's SIGTERM handler (once per process)."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    _installed = True
    _allow_1012_on_daphne()
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if draining():  # a second SIGTERM: stop now
            _hand_over(previous, signum, frame)
            return
        if loop.is_closed() or not loop.is_running():  # not serving (a test's loop is gone)
            _hand_over(previous, signum, frame)
            return
        begin()
        loop.call_soon_threadsafe(_start, loop, lambda: _hand_over(previous, signum, frame))

    signal.signal(signal.SIGTERM, on_sigterm)


def _start(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
    global _task
    _task = loop.create_task(run(stop))


async def run(stop: Callable[[], None]) -> None:
    """Close every open socket, spread over DRAIN_SECONDS, then `stop()`."""
    sockets = list(_open)
    random.shuffle(sockets)
    seconds = settings.DRAIN_SECONDS
    logger.warning("draining %d sockets over %s s", len(sockets), seconds)
    step = seconds / len(sockets) if sockets else 0.0
    closing = []
    for index, socket in enumerate(sockets):
        if index:
            await asyncio.sleep(step)
        closing.append(asyncio.ensure_future(_close(socket)))
    # A socket whose handshake passed the draining check just before SIGTERM registers
    # after the list above was taken: it gets its 1012 too, not the server's bare stop.
    late = [socket for socket in list(_open) if socket not in sockets]
    closing.extend(asyncio.ensure_future(_close(socket)) for socket in late)
    if closing:
        await asyncio.wait(closing, timeout=seconds + 5)
    # Let the closed sockets' disconnect handlers finish (presence, receipts).
    deadline = time.monotonic() + 5
    while _open and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    logger.warning("drained; stopping")
    stop()


async def _close(socket: Restartable) -> None:
    try:
        await socket.close_for_restart()
    except Exception:
        logger.exception("could not close a socket for the restart")


def _hand_over(previous: Any, signum: int, frame: FrameType | None) -> None:
    """Let the server do what it does on SIGTERM (or the default: exit)."""
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _allow_1012_on_daphne() -> None:
    """daphne closes through autobahn's `sendClose`, which lets a server send only 1000 and
    3000-4999; 1012 (Service Restart, IANA's registry) is the code made for this drain and
    the one clients act on. Send it with autobahn's `sendCloseFrame` (what `sendClose`
    calls once it has checked the code); every other code goes the usual way."""
    ws_protocol = sys.modules.get("daphne.ws_protocol")
    if ws_protocol is None:
        return
    protocol = ws_protocol.WebSocketProtocol
    server_close = protocol.serverClose

    def serverClose(self: Any, code: int | None = None) -> None:
        if code == CLOSE_SERVICE_RESTART:
            self.sendCloseFrame(code=code)
        else:
            server_close(self, code)

    protocol.serverClose = serverClose
