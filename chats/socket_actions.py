"""The work behind the socket consumer: functions that run in a worker thread, and some on
the event loop (`authenticate_async`, `hello_async`, `send_batch`); they call services
(writes) and selectors (reads), returning ready-to-send frames."""

from __future__ import annotations

from datetime import datetime
from importlib import import_module
from types import SimpleNamespace
from typing import Any, cast

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.db import SessionStore as DatabaseSession
from django.core.exceptions import ValidationError
from django.utils.crypto import constant_time_compare

from accounts import selectors as account_selectors
from accounts.models import User
from chats import aconn, limits, presence, protocol, selectors, services, workers
from chats.models import Chat, Message
from chats.validation import Refused

TOO_MANY_SOCKETS = (
    "Too many open connections for this account; close another tab or window and reload."
)


Opened = tuple[User, SessionBase, datetime]


def authenticate(session_key: str | None) -> Opened | None:
    """The user logged in with this session (Django's own checks, including the password
    hash), the session and when it is due to expire; None for no session or a stale one."""
    if not session_key:
        return None
    engine = import_module(settings.SESSION_ENGINE)
    session: SessionBase = engine.SessionStore(session_key)
    try:
        user = auth.get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]
    except ValidationError:  # a user id that is not one (only a forged session has it)
        return None
    if not user.is_authenticated:
        return None
    assert isinstance(user, User)
    expires_at = session_expires_at(session)
    return None if expires_at is None else (user, session, expires_at)


def session_expires_at(session: SessionBase) -> datetime | None:
    """When the session is due to expire (None: it has): the row's expire_date with
    database sessions, the settings' engine; another engine's own reckoning otherwise."""
    if settings.SESSION_ENGINE == _DB_SESSIONS:
        return account_selectors.session_expires_at(session_key=str(session.session_key))
    return session.get_expiry_date()


_DB_SESSIONS = "django.contrib.sessions.backends.db"
_MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


async def authenticate_async(session_key: str | None) -> Opened | None:
    """`authenticate` on the event loop. On PostgreSQL a plain logged-in session (database
    sessions, Django's model backend, an active user, a hash that matches the password)
    takes two statements on an event-loop connection (chats/aconn.py) and no worker hop:
    the hop and the ORM's session and user reads were a fifth of a connect storm's CPU.
    Anything else (a stale hash, a fallback secret, another backend; SQLite) goes the
    `authenticate` way on a worker, so Django's rules stay in one place."""
    if not session_key:
        return None
    if not aconn.enabled() or settings.SESSION_ENGINE != _DB_SESSIONS:
        return await workers.db(authenticate)(session_key)
    async with aconn.connection() as conn, conn.cursor() as cursor:
        row = await selectors.session_data_async(cursor, session_key=session_key)
        if row is None:
            return None  # no such session, or expired: as `authenticate`
        encoded, expires_at = row
        session = DatabaseSession(session_key)
        data = session.decode(encoded)
        raw_id = data.get(SESSION_KEY)
        user_id = int(raw_id) if isinstance(raw_id, str) and raw_id.isdigit() else None
        model_backend = (
            data.get(BACKEND_SESSION_KEY) == _MODEL_BACKEND
            and _MODEL_BACKEND in settings.AUTHENTICATION_BACKENDS
        )
        user = (
            await selectors.active_user_async(cursor, user_id=user_id)
            if user_id is not None and model_backend
            else None
        )
    if user_id is None or not model_backend:
        return await workers.db(authenticate)(session_key)
    if user is None:
        return None  # gone or deactivated: the model backend's get_user gives no one
    if not constant_time_compare(data.get(HASH_SESSION_KEY) or "", user.get_session_auth_hash()):
        return await workers.db(authenticate)(session_key)
    cast(Any, session)._session_cache = data  # as loaded: no second read
    return user, session, expires_at


def hello(user: User) -> dict[str, Any]:
    """The first frame; `user` was read from the database by `authenticate` just before."""
    summaries = selectors.chat_summaries(user_id=user.pk)
    peers = [s.peer for s in summaries]
    blocked = selectors.blocked_peers(user_id=user.pk, peer_ids=[p.pk for p in peers])
    statuses = presence.statuses(viewer=user, subjects=peers, blocked_ids=blocked)
    return _hello_of(user, summaries, statuses)


async def hello_async(user: User) -> dict[str, Any]:
    """`hello` from the event loop: on PostgreSQL its two statements run on an event-loop
    connection and presence on the loop's Redis client, with no worker hop (in a connect
    storm the event loop waited on the GIL while workers built hellos); SQLite hops to a
    worker."""
    if not aconn.enabled():
        return await workers.db(hello)(user)
    async with aconn.connection() as conn, conn.cursor() as cursor:
        summaries = await selectors.chat_summaries_async(cursor, user_id=user.pk)
        peer_ids = [s.peer.pk for s in summaries]
        blocked = await selectors.blocked_peers_async(cursor, user_id=user.pk, peer_ids=peer_ids)
    peers = [s.peer for s in summaries]
    statuses = await presence.statuses_async(viewer=user, subjects=peers, blocked_ids=blocked)
    return _hello_of(user, summaries, statuses)


def _hello_of(
    user: User,
    summaries: list[selectors.ChatSummary],
    statuses: dict[int, tuple[str, Any]],
) -> dict[str, Any]:
    peers = [s.peer for s in summaries]
    receipts = {p.pk: selectors.read_receipts_shared(viewer=user, subject=p) for p in peers}
    return protocol.hello(user.username, summaries, statuses, receipts)


async def send_batch(user: User, frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store queued send frames in one transaction; an ack or an error frame for each.
    Runs on the event loop (chats/aconn.py), unlike the other actions here."""

    async def allowance(count: int) -> int:
        return await limits.send_allowance_async(user_id=user.pk, count=count)

    results = await services.message_send_batch_async(
        sender=user,
        items=[(f["chat"], f["client_id"], f["body"]) for f in frames],
        allowance=allowance,
    )
    return _replies(frames, results)


def _replies(
    frames: list[dict[str, Any]], results: list[Message | Refused]
) -> list[dict[str, Any]]:
    replies = []
    for frame, result in zip(frames, results, strict=True):
        if isinstance(result, Refused):
            replies.append(
                protocol.error(result.code, result.detail, frame["client_id"], frame["chat"])
            )
        else:
            replies.append(protocol.ack(selectors.message_payload(result)))
    return replies


def sync(user: User, chat_id: int, after: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    try:
        chat = selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such chat.") from None
    messages, more = selectors.messages_after(chat_id=chat.pk, after=after)
    payloads = [selectors.message_payload(m) for m in messages]
    # Messages committed after the chat row was read may be in the reply: report the later.
    last_seq = max([chat.last_seq, *(m.seq for m in messages)])
    return payloads, protocol.synced(chat.pk, last_seq, more)


def between(chat_id: int, after: int, before: int) -> list[dict[str, Any]]:
    """Messages strictly between two seqs (a gap in live delivery), if the gap is small."""
    gap = before - after - 1
    if gap > selectors.SYNC_LIMIT:
        return []  # the client's gap detection will sync
    messages, _more = selectors.messages_after(chat_id=chat_id, after=after, limit=gap)
    return [selectors.message_payload(m) for m in messages]


def read(user: User, chat_id: int, seq: int) -> None:
    services.chat_mark_read(user=user, chat_id=chat_id, seq=seq)


def typing(user: User, chat_id: int) -> None:
    services.chat_typing(user=user, chat_id=chat_id)


def session_valid_until(scope: dict[str, Any]) -> datetime | None:
    """When the socket's session is next due to expire, if it still exists, still belongs
    to an active user and still matches the user's password; None if not."""
    session: SessionBase | None = scope.get("session")
    user = scope.get("user")
    if session is None or user is None or not session.session_key:
        return None
    store = session.__class__(session_key=session.session_key)
    if store.get(SESSION_KEY) is None or str(store.get(SESSION_KEY)) != str(user.pk):
        return None
    fresh = User.objects.filter(pk=user.pk, is_active=True).first()
    if fresh is None:
        return None
    if not constant_time_compare(store.get(HASH_SESSION_KEY, ""), fresh.get_session_auth_hash()):
        return None
    return session_expires_at(store)
