"""The operational endpoints, answered in front of Django (chatsite/asgi.py wraps the whole
application in `OpsEndpoints`).

A load balancer's probes and Prometheus' scrapes must be cheap and must work whatever the
Host header and scheme: here they touch no session, no CSRF, no middleware, no host check,
no HTTPS redirect, and log nothing. While the process drains, new WebSockets are refused
here too, before any of the socket's own work.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from chatsite import metrics
from ops import drain, health

Scope = dict[str, Any]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _respond(
    scope: Scope, send: Send, status: int, body: bytes, content_type: bytes, *extra: list[bytes]
) -> None:
    headers = [
        [b"content-type", content_type],
        [b"content-length", str(len(body)).encode()],
        [b"cache-control", b"no-store"],
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


async def _json(scope: Scope, send: Send, status: int, payload: dict[str, Any]) -> None:
    await _respond(scope, send, status, json.dumps(payload).encode(), b"application/json")


async def healthz(scope: Scope, send: Send) -> None:
    """The process runs: no database or Redis call."""
    await _json(scope, send, 200, {"status": "ok"})


async def readyz(scope: Scope, send: Send) -> None:
    """Whether a load balancer should send this process traffic."""
    if drain.draining():
        await _json(scope, send, 503, {"status": "draining"})
        return
    failing = await health.failing()
    if drain.draining():  # began while the checks ran
        await _json(scope, send, 503, {"status": "draining"})
    elif failing:
        await _json(scope, send, 503, {"status": "unavailable", "failing": failing})
    else:
        await _json(scope, send, 200, {"status": "ok"})


def _bearer_ok(scope: Scope) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return hmac.compare_digest(value, b"Bearer " + token.encode())
    return False


async def metrics_endpoint(scope: Scope, send: Send) -> None:
    """Prometheus' text format, only for `Authorization: Bearer <METRICS_TOKEN>`; to anyone
    else (and with no token configured) the endpoint does not exist."""
    if not _bearer_ok(scope):
        await _respond(scope, send, 404, b"Not Found", b"text/plain; charset=utf-8")
        return
    body, content_type = await asyncio.to_thread(metrics.exposition)
    await _respond(scope, send, 200, body, content_type.encode())


ENDPOINTS: dict[str, Callable[[Scope, Send], Awaitable[None]]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics_endpoint,
}


class OpsEndpoints:
    """ASGI middleware: the endpoints above, and no new sockets while draining."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        drain.install()
        if scope["type"] == "http" and scope["path"] in ENDPOINTS:
            if scope["method"] not in ("GET", "HEAD"):
                allow = [b"allow", b"GET, HEAD"]
                await _respond(scope, send, 405, b"", b"text/plain; charset=utf-8", allow)
                return
            await ENDPOINTS[scope["path"]](scope, send)
            return
        if scope["type"] == "websocket" and drain.draining():
            # Refused before the handshake completes (HTTP 403): the client tries again,
            # and the load balancer has already sent it to another process.
            metrics.socket_connect("draining")
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": drain.CLOSE_SERVICE_RESTART})
            return
        await self.app(scope, receive, send)
