"""What every log line carries: the request id, the user id and, on sockets, the
connection id (docs/operations.md, "Logs").

They live in context variables, set by `ops.middleware.request_context` for a request and
by `bind_socket` for a socket (a consumer handles all of its frames in one task, and its
worker threads run with a copy of that context), and `ContextFilter` copies them onto each
record. Nothing here ever puts a message body, a password, a session key or a token on a
record.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

from django.utils.functional import empty

logger = logging.getLogger("ops.sockets")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_request: ContextVar[Any] = ContextVar("request", default=None)
_user_id: ContextVar[int | None] = ContextVar("user_id", default=None)
_connection_id: ContextVar[str | None] = ContextVar("connection_id", default=None)

# A proxy's request id is taken as it is only if it looks like one (no spaces, no quotes,
# no control characters to forge log lines with).
_VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def new_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: str) -> bool:
    return _VALID_ID.fullmatch(value) is not None


def bind_request(request_id: str, request: Any) -> None:
    """The request id and the request (for its user, once loaded) in this context."""
    _request_id.set(request_id)
    _request.set(request)


def bind_socket(user_id: int) -> None:
    """This socket's task (and the worker calls it makes) logs with a connection id of its
    own and the user's id; called once its user is known."""
    _connection_id.set(new_id())
    _user_id.set(user_id)
    logger.info("socket opened")


def socket_closed(code: int) -> None:
    logger.info("socket closed (code %s)", code)


def _request_user_id(request: Any) -> int | None:
    """The request's user id, only if something already loaded the user: a log line must
    not cost a session read."""
    user = getattr(request, "user", None)
    if user is None or getattr(user, "_wrapped", None) is empty:
        return None
    return getattr(user, "pk", None)


class ContextFilter(logging.Filter):
    """Puts request_id, user_id and connection_id on every record (None when unknown), and
    `context`, the same as text for the readable format."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id, connection_id = _request_id.get(), _connection_id.get()
        user_id = _user_id.get()
        if user_id is None:
            request = _request.get()
            user_id = _request_user_id(request) if request is not None else None
        record.request_id, record.user_id, record.connection_id = (
            request_id,
            user_id,
            connection_id,
        )
        shown = [
            f"{name}={value}"
            for name, value in (("request", request_id), ("user", user_id), ("conn", connection_id))
            if value is not None
        ]
        record.context = f" [{' '.join(shown)}]" if shown else ""
        return True
