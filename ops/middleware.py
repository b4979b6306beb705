"""The first middleware: a request id for the logs and the response, and the request's
count and latency per route name (chatsite/metrics.py)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from chatsite import metrics
from ops import logs

REQUEST_ID_HEADER = "X-Request-ID"


def _request_id(request: HttpRequest) -> str:
    """The proxy's X-Request-ID when TRUST_PROXY is on (and it is a plausible id), else a
    new one: a client must not choose the id its requests are logged under."""
    if settings.TRUST_PROXY:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        if logs.valid_request_id(given):
            return given
    return logs.new_id()


def _route(request: HttpRequest) -> str:
    match = request.resolver_match
    if match is not None:
        return match.view_name
    if request.path.startswith(settings.STATIC_URL):
        return "static"
    return "unmatched"


class RequestContextMiddleware:
    """Binds the request id (echoed in the response) and times the request."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        started = self._start(request)
        return self._finish(request, self.get_response(request), started)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        started = self._start(request)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return self._finish(request, await get_response(request), started)

    @staticmethod
    def _start(request: HttpRequest) -> float:
        # Bound for the rest of the request's context and not unbound: Django logs a 4xx/5xx
        # response after the middleware chain has returned. Under ASGI (the only way the
        # project runs) each request has a context of its own, so nothing leaks to the next.
        request.request_id = _request_id(request)  # type: ignore[attr-defined]
        logs.bind_request(request.request_id, request)  # type: ignore[attr-defined]
        return time.perf_counter()

    @staticmethod
    def _finish(
        request: HttpRequest, response: HttpResponseBase, started: float
    ) -> HttpResponseBase:
        response[REQUEST_ID_HEADER] = request.request_id  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - started
        metrics.http_request(_route(request), request.method or "", response.status_code, elapsed)
        return response
