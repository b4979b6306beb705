"""Who is on a socket: Django's `get_user`, for a session key instead of a request.

Channels' AuthMiddlewareStack reads the session and the user before the consumer runs, on
the one thread Channels keeps for database work; daphne drops a handshake the application
has not answered within 5 seconds, so a storm of connects queued there was refused. Here the
middleware only takes the session key from the Cookie header; the consumer accepts, then
calls `authenticate_async` (and again on every `session.check` event: logout, password
change, deactivation).

`authenticate` answers what `django.contrib.auth.get_user` answers for a request carrying
that session: the session must exist and be unexpired, name a user id and one of
AUTHENTICATION_BACKENDS, that backend's `get_user` must return the user (the model backend
refuses inactive users through `user_can_authenticate`), and the session's auth hash must
match the user's, under SECRET_KEY or one of SECRET_KEY_FALLBACKS. A hash that matches
neither flushes the session, as Django does. One difference, on purpose: a hash that matches
only a fallback secret is accepted, but the session is left as it is, where Django cycles its
key and stores the new hash. A socket cannot set a cookie, so a cycled key would log the
browser out; its next page request upgrades the session the Django way.

`authenticate_async` is the same answer from the event loop. On PostgreSQL with database
sessions, a session for a backend whose `get_user` is the model backend's takes one
statement on an event-loop connection (chats/realtime/pg_async.py) and no worker hop: the
session with the user its SessionRecord names (a second statement reads the user by the
session's claim when there is no record, or it names someone else). The hop and the ORM's
session and user reads were a fifth of a connect storm's CPU. The steps
that decide (`_claim`, the backend's `user_can_authenticate`, `_hash_check`) are shared with
`authenticate`; anything with a side effect (a stale hash flushes the session) or another
session engine, another backend or SQLite runs `authenticate` on a socket worker.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any, cast

from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.db import SessionStore as DatabaseSession
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models.manager import BaseManager
from django.http.cookie import parse_cookie
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts import selectors as account_selectors
from accounts.models import SessionRecord, User
from chats.realtime import pg_async, worker_pool
from chatsite import aio

if TYPE_CHECKING:
    from psycopg import AsyncCursor

# The user on the socket, their session and when the session is due to expire.
Opened = tuple[User, SessionBase, datetime]

logger = logging.getLogger(__name__)


class SessionKeyMiddleware(BaseMiddleware):
    """Puts the session cookie's value (or None) in scope["session_key"]."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        key = None
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                key = parse_cookie(value.decode("latin1")).get(settings.SESSION_COOKIE_NAME)
                break
        return await super().__call__(dict(scope, session_key=key), receive, send)


def authenticate(session_key: str | None) -> Opened | None:
    """The user logged in with this session, the session and its expiry; None where
    Django's `get_user` gives AnonymousUser (or raises, for a user id that is not one)."""
    if not session_key:
        return None
    session: SessionBase = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    claim = _claim(session)
    if claim is None:
        return None
    user_id, backend = claim
    # Django's get_user raises where a listed backend has no get_user (axes' has none).
    get_user = getattr(backend, "get_user", None)
    user = None if get_user is None else get_user(user_id)
    if not isinstance(user, User):
        return None
    if _hash_check(session, user) is _Hash.STALE:
        session.flush()
        return None
    expires_at = _expires_at(session)
    return None if expires_at is None else (user, session, expires_at)


async def authenticate_async(session_key: str | None) -> Opened | None:
    """`authenticate` from the event loop, with no worker hop for a plain logged-in session
    on PostgreSQL (see the module's docstring)."""
    if not session_key:
        return None
    if not _fast_path_possible():
        return await worker_pool.db(authenticate)(session_key)
    async with pg_async.connection() as conn, conn.cursor() as cursor:
        row = await _session_data(cursor, session_key=session_key)
        if row is None:
            return None  # no such session, or expired: an empty session to Django
        encoded, expires_at, recorded = row
        session = DatabaseSession(session_key)
        data = session.decode(encoded)
        claim = _claim(data)
        if claim is None:
            return None
        user_id, backend = claim
        fast = _reads_as_model_backend(backend)
        user = None
        if fast:
            user = _recorded_user(recorded, user_id=user_id)
            if user is None:  # no record, or one naming someone else: read by the claim
                user = await _user_row(cursor, user_id=user_id)
    if not fast:  # after the block: a worker hop must not hold the loop's connection
        return await worker_pool.db(authenticate)(session_key)
    if user is None or not cast(ModelBackend, backend).user_can_authenticate(user):
        return None  # as ModelBackend.get_user: no such user, or not allowed in
    if _hash_check(data, user) is not _Hash.CURRENT:
        return await worker_pool.db(authenticate)(session_key)
    cast(Any, session)._session_cache = data  # as loaded: no second read
    return user, session, expires_at


async def signed_in_until(session_key: str | None, user_id: int) -> datetime | None:
    """When the session is next due to expire, if it still authenticates the socket's user
    (after a logout, a password change or a deactivation, it does not); None if not."""
    opened = await authenticate_async(session_key)
    return opened[2] if opened is not None and opened[0].pk == user_id else None


def _expires_at(session: SessionBase) -> datetime | None:
    """When the session is due to expire (None: it has): the row's expire_date with
    database sessions; another engine's own reckoning otherwise."""
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db":
        return account_selectors.session_expires_at(session_key=str(session.session_key))
    return session.get_expiry_date()


class SessionExpiry:
    """Calls `check` once the socket's session is due to expire. Nothing on the server
    announces an expiry (a deletion does: accounts.receivers), so the socket looks for
    itself; `check` re-arms it when the session was extended meanwhile."""

    # Past the expiry by this much, so the check finds the session expired; and never
    # sooner than MIN_DELAY, so clocks that disagree cannot make it spin.
    SLACK, MIN_DELAY = 0.5, 1.0
    # A check that failed (the database unreachable) is tried again this much later.
    RETRY = 30.0

    def __init__(self, check: Callable[[], Awaitable[None]]) -> None:
        self.check = check
        self.timer: asyncio.TimerHandle | None = None
        self.running: asyncio.Future[None] | None = None
        self.stopped = False

    def arm(self, expires_at: datetime) -> None:
        delay = (expires_at - timezone.now()).total_seconds() + self.SLACK
        self.arm_in(max(delay, self.MIN_DELAY))

    def arm_in(self, seconds: float) -> None:
        if self.stopped or aio.cancelling():
            return  # the socket closed (or its loop is closing) while a check was running
        self.cancel()
        self.timer = asyncio.get_running_loop().call_later(seconds, self.fire)

    def fire(self) -> None:
        self.timer = None
        self.running = asyncio.ensure_future(self.run())

    async def run(self) -> None:
        try:
            await self.check()
        except Exception:
            aio.raise_if_cancelled()  # the error may be the cancel, turned into another
            logger.warning("session check failed; again in %.0f s", self.RETRY, exc_info=True)
            self.arm_in(self.RETRY)

    def stop(self) -> None:
        self.stopped = True
        self.cancel()

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


# The steps of django.contrib.auth.get_user, shared by both ways.


def _claim(data: Mapping[str, Any] | SessionBase) -> tuple[Any, BaseBackend] | None:
    """The user id and the backend the session names; None when it names no user, a user id
    that is not one, or a backend that is not in AUTHENTICATION_BACKENDS."""
    try:
        user_id = User._meta.pk.to_python(data[SESSION_KEY])
        backend_path = data[BACKEND_SESSION_KEY]
    except (KeyError, ValidationError):
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    return user_id, _backend(backend_path)


class _Hash(enum.Enum):
    CURRENT = "current"  # made with SECRET_KEY
    FALLBACK = "fallback"  # made with one of SECRET_KEY_FALLBACKS
    STALE = "stale"  # missing, or the password (or every secret) changed since


def _hash_check(data: Mapping[str, Any] | SessionBase, user: User) -> _Hash:
    session_hash = data.get(HASH_SESSION_KEY)
    if not session_hash:
        return _Hash.STALE
    if constant_time_compare(session_hash, user.get_session_auth_hash()):
        return _Hash.CURRENT
    if any(constant_time_compare(session_hash, h) for h in user.get_session_auth_fallback_hash()):
        return _Hash.FALLBACK
    return _Hash.STALE


@functools.cache
def _backend(path: str) -> BaseBackend:
    # Django loads a new instance for every request; backends keep no state, and loading
    # one per connect was measurable in a connect storm.
    return cast(BaseBackend, load_backend(path))


# The event-loop reads: the same rows the ORM reads on the `authenticate` way.


def _fast_path_possible() -> bool:
    return pg_async.enabled() and settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


def _reads_as_model_backend(backend: BaseBackend) -> bool:
    """Whether `backend.get_user` is the model backend's (a plain read by primary key through
    the default manager, then `user_can_authenticate`), which `_user_row` reproduces."""
    manager_queryset = type(User._default_manager).get_queryset
    return (
        isinstance(backend, ModelBackend)
        and type(backend).get_user is ModelBackend.get_user
        and manager_queryset is BaseManager.get_queryset
    )


async def _session_data(
    cursor: AsyncCursor[Any], *, session_key: str
) -> tuple[str, datetime, tuple[Any, ...] | None] | None:
    """The encoded data of an unexpired database session (as SessionStore.load reads it),
    when it expires, and the columns of the user its SessionRecord names (None without a
    record), read in the same statement: a login writes the record (accounts.services), so
    a connect usually needs no second read."""
    await cursor.execute(_session_sql(), [session_key, datetime.now(UTC)])
    row = await cursor.fetchone()
    if row is None:
        return None
    columns = tuple(row[2:])
    # No record: the user's columns are NULL (a user's primary key never is).
    recorded = None if columns[_user_fields()[1]] is None else columns
    return str(row[0]), row[1], recorded


@functools.cache
def _session_sql() -> str:
    """The session and its record's user: a LEFT JOIN, so a session without a record (one
    made before records, or by a test) still reads, its user columns NULL."""
    quote = connection.ops.quote_name
    record = SessionRecord._meta
    user_id_column = record.get_field("user").column
    session_column = record.get_field("session").column
    pk_column = quote(str(User._meta.pk.column))
    columns = ", ".join(f"u.{quote(str(f.column))}" for f in _user_fields()[0])
    return (
        f"SELECT s.session_data, s.expire_date, {columns} "
        f"FROM {Session._meta.db_table} s "
        f"LEFT JOIN {record.db_table} r ON r.{quote(session_column)} = s.session_key "
        f"LEFT JOIN {User._meta.db_table} u ON u.{pk_column} = r.{quote(user_id_column)} "
        "WHERE s.session_key = %s AND s.expire_date > %s"
    )


def _recorded_user(recorded: tuple[Any, ...] | None, *, user_id: Any) -> User | None:
    """The record's user when it is the one the session claims; None otherwise, and the
    claim is read as `_user_row` reads it."""
    if recorded is None or recorded[_user_fields()[1]] != user_id:
        return None
    return User.from_db("default", _user_sql()[1], recorded)


async def _user_row(cursor: AsyncCursor[Any], *, user_id: Any) -> User | None:
    """The user with this primary key, active or not (PostgreSQL's own types need no
    conversion for the user's fields); None for no such user, as the ORM's `get`."""
    sql, attnames, (low, high) = _user_sql()
    if not (low is None or low <= user_id) or not (high is None or user_id <= high):
        return None  # out of the column's range: Django's lookup matches nothing either
    await cursor.execute(sql, [user_id])
    row = await cursor.fetchone()
    return None if row is None else User.from_db("default", attnames, row)


@functools.cache
def _user_fields() -> tuple[list[Any], int]:
    """The user's concrete fields in the model's order (as `Model.from_db` takes a whole
    row) and the position of the primary key among them."""
    fields = list(User._meta.concrete_fields)
    return fields, fields.index(User._meta.pk)


@functools.cache
def _user_sql() -> tuple[str, list[str], tuple[int | None, int | None]]:
    """The statement, the attnames of its columns, and the range of the primary key."""
    fields, _ = _user_fields()
    ops = connection.ops
    columns = ", ".join(ops.quote_name(str(f.column)) for f in fields)
    pk = User._meta.pk
    sql = f"SELECT {columns} FROM {User._meta.db_table} WHERE {ops.quote_name(str(pk.column))} = %s"
    return sql, [f.attname for f in fields], ops.integer_field_range(pk.get_internal_type())
