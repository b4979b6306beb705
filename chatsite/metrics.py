"""Prometheus metrics: every metric object, and the one-line hooks the runtime calls.

The runtime (chats/realtime/consumer.py, chats/services.py, chats/events.py, and the push
worker's push/sending.py) calls the functions at the bottom, one line per hook, so nothing
else there knows about Prometheus.
Labels are frame types, error codes, outcomes, HTTP methods, statuses and route names:
never a username, a message text or an id.

Several server processes (docs/deploy.md) share their figures through files in
`PROMETHEUS_MULTIPROC_DIR` when it is set (prometheus-client's multiprocess mode: the
variable must be set before the process starts, and the directory emptied when the whole
service restarts); `exposition()` then adds up every process's files.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

F = TypeVar("F", bound=Callable[..., Any])

# Seconds; from a local commit (a few ms) to a stalled database or Redis (seconds).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Series per labelled metric; past it new label values count as "other", so a bug or a
# hostile client cannot make a series per value.
MAX_SERIES = 64
MAX_HTTP_SERIES = 1000  # route x method x status

MESSAGES_STORED = Counter("chatsite_messages_stored", "Messages stored (committed).")
MESSAGE_STORE_SECONDS = Histogram(
    "chatsite_message_store_seconds",
    "Time to store one batch of sends (validation, rate limit, commit).",
    buckets=LATENCY_BUCKETS,
)
MESSAGE_FANOUT_SECONDS = Histogram(
    "chatsite_message_fanout_seconds",
    "From a message's commit to its frame written on the recipient's socket.",
    buckets=LATENCY_BUCKETS,
)
SOCKETS_OPEN = Gauge(
    "chatsite_sockets_open",
    "WebSockets open (authenticated, registered).",
    multiprocess_mode="livesum",
)
SOCKET_CONNECTS = Counter("chatsite_socket_connects", "WebSocket connects by outcome.", ["outcome"])
FRAMES_IN = Counter("chatsite_frames_in", "Frames received from clients, by type.", ["type"])
FRAMES_OUT = Counter("chatsite_frames_out", "Frames sent to clients, by type.", ["type"])
ERRORS = Counter("chatsite_errors", "Error frames sent to clients, by code.", ["code"])
HTTP_REQUESTS = Counter(
    "chatsite_http_requests",
    "HTTP requests by route name, method and status.",
    ["route", "method", "status"],
)
PUSH_SENT = Counter(
    "chatsite_push_sent",
    "Web Push attempts by outcome (counted by the push worker, docs/deploy.md).",
    ["outcome"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "chatsite_http_request_seconds",
    "HTTP request latency by route name.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)


class _Series:
    """A labelled metric's children, kept by label values (`labels()` costs twice what
    `inc()` does, on every frame), at most `limit` of them."""

    def __init__(self, metric: Any, limit: int = MAX_SERIES) -> None:
        self.metric, self.limit = metric, limit
        self.children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self.children.get(values)
        if child is None:
            if len(self.children) >= self.limit:
                values = ("other",) * len(values)
                child = self.children.get(values)
            if child is None:
                child = self.children[values] = self.metric.labels(*values)
        return child


_connects = _Series(SOCKET_CONNECTS)
_frames_in = _Series(FRAMES_IN)
_frames_out = _Series(FRAMES_OUT)
_errors = _Series(ERRORS)
_push_sent = _Series(PUSH_SENT)
_http_requests = _Series(HTTP_REQUESTS, MAX_HTTP_SERIES)
_http_seconds = _Series(HTTP_REQUEST_SECONDS, MAX_HTTP_SERIES)


# Hooks.


def messages_stored(count: int) -> float:
    """`count` messages were committed now; returns the commit time (epoch seconds) for
    the events to carry, so `message_fanout` can tell the delay on another process."""
    MESSAGES_STORED.inc(count)
    return time.time()


def timed_store(function: F) -> F:
    """Decorates a service that stores a batch of sends (sync or async)."""
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            with MESSAGE_STORE_SECONDS.time():
                return await function(*args, **kwargs)

        return timed_async  # type: ignore[return-value]

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        with MESSAGE_STORE_SECONDS.time():
            return function(*args, **kwargs)

    return timed  # type: ignore[return-value]


def message_fanout(event: dict[str, Any], recipient_id: int) -> None:
    """A chat.message event's frame was written on a socket: the delay since its commit,
    on the recipient's sockets (the sender's own echo is not fanout)."""
    committed = event.get("committed_at")
    if isinstance(committed, float) and event.get("sender_id") != recipient_id:
        MESSAGE_FANOUT_SECONDS.observe(max(0.0, time.time() - committed))


def socket_connect(outcome: str) -> None:
    """A connect ended: "accepted" (the socket is open), "unauthenticated", "too_many",
    "draining"."""
    _connects(outcome).inc()
    if outcome == "accepted":
        SOCKETS_OPEN.inc()


def socket_closed() -> None:
    """An accepted socket closed."""
    SOCKETS_OPEN.dec()


def frame_in(frame_type: str) -> None:
    _frames_in(frame_type).inc()


def frame_out(frame: dict[str, Any]) -> None:
    frame_type = frame.get("type")
    _frames_out(str(frame_type)).inc()
    if frame_type == "error":
        _errors(str(frame.get("code"))).inc()


def push_sent(outcome: str) -> None:
    """One push attempt ended: "sent", "gone" (404/410: the subscription was removed),
    "retry" (429, 5xx or no answer: queued again), "gave_up" (the last retry failed),
    "refused" (another status, or an endpoint no longer allowed), "skipped" (unsubscribed,
    muted, or the message was removed or deleted meanwhile)."""
    _push_sent(outcome).inc()


def http_request(route: str, method: str, status: int, seconds: float) -> None:
    _http_requests(route, method, str(status)).inc()
    _http_seconds(route).observe(seconds)


# Exposition.


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition() -> tuple[bytes, str]:
    """The text format and its content type: this process's metrics, or every process's
    in multiprocess mode (reads files: call it off the event loop)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def process_started() -> None:
    """In multiprocess mode: drop the live gauges (open sockets) of processes that are gone
    (a SIGKILL leaves them behind), and this process's own when it exits. Counters of
    stopped processes stay, so totals never go backwards."""
    directory = multiprocess_dir()
    if not directory:
        return
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid))
    atexit.register(multiprocess.mark_process_dead, os.getpid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
