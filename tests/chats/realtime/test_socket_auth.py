"""Socket authentication answers what django.contrib.auth.get_user answers, both ways (on a
socket worker, and on the event loop with PostgreSQL's fast path), for every case get_user
decides."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import SessionRecord
from chats.realtime import pg_async, socket_auth
from tests.support.sessions import login_session

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "django.contrib.auth.backends.ModelBackend"
ALLOW_ALL = "django.contrib.auth.backends.AllowAllUsersModelBackend"
ONLY_ALICE = f"{__name__}.OnlyAliceBackend"
AXES = "axes.backends.AxesStandaloneBackend"
OLD_SECRET = "an-old-secret-that-signed-the-sessions-0123456789"
NEW_SECRET = "the-new-secret-after-a-rotation-0123456789abcdef"


class OnlyAliceBackend(ModelBackend):
    """A backend with a get_user of its own: the fast path must not stand in for it."""

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if user is not None and user.username == "alice" else None


def deactivate(user, settings):
    user.is_active = False
    user.save(update_fields=["is_active"])


def change_password(user, settings):
    user.set_password("a-new-password-93")
    user.save(update_fields=["password"])


def rotate_secret(user, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_SECRET, [OLD_SECRET]


def retire_secret(user, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_SECRET, []


@dataclass(frozen=True)
class Case:
    set: dict[str, Any] = field(default_factory=dict)  # session entries to overwrite
    drop: tuple[str, ...] = ()  # session entries to remove
    world: Any = None  # what changes after the session was made
    key: str | None = None  # a key that is no session's
    expired: bool = False
    corrupt: bool = False
    backends: tuple[str, ...] = (AXES, MODEL)  # AUTHENTICATION_BACKENDS (the project's)
    fast: bool = False  # answered on the event loop with no worker hop, on PostgreSQL


CASES = {
    "a fresh login": Case(fast=True),
    "no cookie": Case(key=""),
    "a key that is no session's": Case(key="nosuchsessionkey0000000000000000", fast=True),
    "an expired session": Case(expired=True, fast=True),
    "data that does not decode": Case(corrupt=True, fast=True),
    "no user id": Case(drop=(SESSION_KEY,), fast=True),
    "a user id that is not a number": Case(set={SESSION_KEY: "alice"}, fast=True),
    "a user id out of the column's range": Case(set={SESSION_KEY: str(2**70)}, fast=True),
    "a user that does not exist": Case(set={SESSION_KEY: "987654321"}, fast=True),
    "no backend": Case(drop=(BACKEND_SESSION_KEY,), fast=True),
    "a backend not in AUTHENTICATION_BACKENDS": Case(
        set={BACKEND_SESSION_KEY: ALLOW_ALL}, fast=True
    ),
    "a listed backend that finds no one": Case(set={BACKEND_SESSION_KEY: AXES}),
    "a backend with a get_user of its own, its user": Case(
        set={BACKEND_SESSION_KEY: ONLY_ALICE}, backends=(MODEL, ONLY_ALICE)
    ),
    "a deactivated user": Case(world=deactivate, fast=True),
    "a deactivated user, a backend that lets them in": Case(
        set={BACKEND_SESSION_KEY: ALLOW_ALL}, world=deactivate, backends=(ALLOW_ALL,), fast=True
    ),
    "no auth hash": Case(drop=(HASH_SESSION_KEY,)),
    "a password changed since": Case(world=change_password),
    "a hash made with a fallback secret": Case(world=rotate_secret),
    # Signed with the retired secret, the session's data no longer decodes: an empty session.
    "a session signed with a retired secret": Case(world=retire_secret, fast=True),
}
NO_SESSION_READ = {"no cookie"}


def _the_same_sessions(case: Case, user, settings, count: int) -> list[str]:
    """`count` identical sessions for `case` (one for Django, one for the socket), then the
    world changed as the case says."""
    settings.AUTHENTICATION_BACKENDS = list(case.backends)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_SECRET, []
    keys = []
    for _ in range(count):
        if case.key is not None:
            keys.append(case.key)
            continue
        key = login_session(user)
        store = SessionStore(key)
        for name, value in case.set.items():
            store[name] = value
        for name in case.drop:
            del store[name]
        store.save()
        if case.expired:
            past = timezone.now() - timedelta(seconds=1)
            Session.objects.filter(session_key=key).update(expire_date=past)
        if case.corrupt:
            Session.objects.filter(session_key=key).update(session_data="not:signed:at:all")
        keys.append(key)
    if case.world is not None:
        case.world(user, settings)
    return keys


def _django_answer(key: str) -> int | None:
    """The id of the user django.contrib.auth.get_user finds for a request with this session."""
    request = SimpleNamespace(session=SessionStore(key or None))
    try:
        user = auth.get_user(request)  # type: ignore[arg-type]
    except (ValidationError, AttributeError):
        # get_user raises for a user id that is not one, and for a listed backend with no
        # get_user (axes'): only a forged session has either, and the socket says "no one".
        return None
    return user.pk if user.is_authenticated else None


def _exists(key: str) -> bool:
    return bool(key) and Session.objects.filter(session_key=key).exists()


def _record(key: str, user) -> None:
    """The SessionRecord a login writes (accounts.services.session_record_login)."""
    if _exists(key):
        now = timezone.now()
        SessionRecord.objects.create(session_id=key, user=user, created_at=now, last_active=now)


@pytest.mark.parametrize("way", ["worker", "event loop", "event loop, recorded"])
@pytest.mark.parametrize("name", list(CASES))
async def test_socket_authentication_answers_as_get_user(name, way, alice, settings, monkeypatch):
    case = CASES[name]
    ours, djangos = await sync_to_async(_the_same_sessions)(case, alice, settings, 2)
    expected = await sync_to_async(_django_answer)(djangos)
    if way == "event loop, recorded":
        await sync_to_async(_record)(ours, alice)

    hops = []
    real_db = socket_auth.worker_pool.db

    def counting_db(func):
        hops.append(func.__name__)
        return real_db(func)

    monkeypatch.setattr(socket_auth.worker_pool, "db", counting_db)
    if way == "worker":
        opened = await sync_to_async(socket_auth.authenticate)(ours)
    else:
        opened = await socket_auth.authenticate_async(ours)

    assert (None if opened is None else opened[0].pk) == expected
    if opened is not None:
        user, session, expires_at = opened
        assert user.username == "alice" and session.session_key == ours
        assert session[SESSION_KEY] == str(alice.pk)
        stored = await sync_to_async(Session.objects.get)(session_key=ours)
        assert expires_at == stored.expire_date
    # Django flushes a session whose hash fails, and so does the socket. With a fallback
    # secret Django cycles the key (its response carries the new cookie); a socket cannot
    # set one, so the session stays as it was for the browser's next request.
    if name == "a hash made with a fallback secret":
        assert not await sync_to_async(_exists)(djangos)
        assert await sync_to_async(_exists)(ours)
    else:
        assert await sync_to_async(_exists)(ours) == await sync_to_async(_exists)(djangos)
    if way != "worker":
        fast = pg_async.enabled() and case.fast
        assert len(hops) == (0 if fast or name in NO_SESSION_READ else 1), hops


@pytest.mark.parametrize(
    ("record", "statements"),
    [("none", 2), ("its user", 1), ("another user", 2)],
)
async def test_a_login_with_its_record_reads_session_and_user_in_one_statement(
    record, statements, alice, bob, monkeypatch
):
    """The record a login writes names the user, read with the session; a session without
    one, or with a record naming someone else, still reads the user the session claims
    (SQLite reads through the ORM on a worker: the claim's user, no event-loop statement)."""
    key = await sync_to_async(login_session)(alice)
    if record != "none":
        await sync_to_async(_record)(key, alice if record == "its user" else bob)
    executed = []
    real_execute = psycopg.AsyncCursor.execute

    async def counting_execute(self, query, *args, **kwargs):
        executed.append(query)
        return await real_execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncCursor, "execute", counting_execute)
    opened = await socket_auth.authenticate_async(key)
    assert opened is not None and opened[0].pk == alice.pk
    assert opened[0].username == "alice" and opened[0].password == alice.password
    assert len(executed) == (statements if pg_async.enabled() else 0), executed


async def test_after_a_socket_accepted_a_fallback_hash_the_browser_is_still_logged_in(
    alice, settings
):
    (key,) = await sync_to_async(_the_same_sessions)(
        CASES["a hash made with a fallback secret"], alice, settings, 1
    )
    opened = await socket_auth.authenticate_async(key)
    assert opened is not None and opened[0].pk == alice.pk
    # The next page request upgrades the session the Django way.
    assert await sync_to_async(_django_answer)(key) == alice.pk


async def test_signed_in_until_is_none_for_another_users_session(alice, bob):
    key = await sync_to_async(login_session)(bob)
    stored = await sync_to_async(Session.objects.get)(session_key=key)
    assert await socket_auth.signed_in_until(key, bob.pk) == stored.expire_date
    assert await socket_auth.signed_in_until(key, alice.pk) is None
    assert await socket_auth.signed_in_until(None, bob.pk) is None


async def test_a_worker_hop_does_not_hold_the_event_loops_connection(alice, settings, monkeypatch):
    """With one event-loop connection, a session that must hop to a worker (a backend with a
    get_user of its own) does not keep the next socket's fast path waiting."""
    settings.SEND_PATH_CONNECTIONS = 1
    (slow_key,) = await sync_to_async(_the_same_sessions)(
        CASES["a backend with a get_user of its own, its user"], alice, settings, 1
    )
    fast_key = await sync_to_async(login_session)(alice)
    release = asyncio.Event()
    real_db = socket_auth.worker_pool.db

    def held_back(func):
        call = real_db(func)

        async def run(key):
            if key == slow_key:
                await release.wait()
            return await call(key)

        return run

    monkeypatch.setattr(socket_auth.worker_pool, "db", held_back)
    slow = asyncio.ensure_future(socket_auth.authenticate_async(slow_key))
    await asyncio.sleep(0.1)  # the slow one is on its way to the worker
    fast = await asyncio.wait_for(socket_auth.authenticate_async(fast_key), timeout=5)
    release.set()
    assert fast is not None and fast[0].pk == alice.pk
    opened = await slow
    assert opened is not None and opened[0].pk == alice.pk
