"""A socket's presence: its lease in the store (chatsite/presence_store.py), renewed while it
lives; the user's online and offline transitions (after the grace period), announced in
batches through services.presences_changed. What each viewer may see: chats/presence.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from accounts.models import User
from chats import services
from chats.presence import HIDDEN as HIDDEN  # the consumer forwards these as they come
from chats.presence import OFFLINE, ONLINE
from chats.realtime import worker_pool
from chatsite import aio, presence_store
from chatsite.presence_store import lease_seconds, store

logger = logging.getLogger(__name__)


@dataclass
class Connection:
    """One open socket's registration; renewed until `close`."""

    user_id: int
    socket_id: str
    renewing: asyncio.Task[None] | None = field(default=None, repr=False)
    here: bool = field(default=False, repr=False)  # counted in presence_store.sockets_here

    async def renew_forever(self) -> None:
        while True:
            aio.raise_if_cancelled()  # a renewal may have swallowed the socket's cancel
            # Jittered: sockets that connected together (a storm, a restart) would otherwise
            # renew together every period, a burst that set a load's latency tail; and each
            # renewal is a batched script item, one Redis call for the sockets renewing at once.
            await asyncio.sleep(lease_seconds() / 3 * random.uniform(0.75, 1.0))
            try:
                await store().renew_async(self.user_id, self.socket_id)
            except Exception:
                logger.exception("could not renew presence of user %s", self.user_id)


async def connect(user: User, socket_id: str) -> Connection | None:
    """Register a socket; None when the user already has the maximum number open."""
    came_online = await store().attach_async(user.pk, socket_id, settings.MAX_SOCKETS_PER_USER)
    if came_online < 0:
        return None
    connection = Connection(user.pk, socket_id)
    presence_store.opened_here(user.pk)
    connection.here = True
    connection.renewing = asyncio.ensure_future(connection.renew_forever())
    if came_online:
        await _changed(user.pk, ONLINE, datetime.now(UTC))
    return connection


def leave(connection: Connection) -> None:
    """The socket is closing: no longer counted as open in this process (before its lease
    is given back; called again by `disconnect`, which may never run if Redis is down)."""
    if connection.here:
        connection.here = False
        presence_store.closed_here(connection.user_id)


async def disconnect(connection: Connection) -> None:
    """Unregister a socket; after the last one, the user goes offline once the grace ends."""
    leave(connection)
    if connection.renewing is not None:
        # Dropped as well as cancelled: the task's coroutine holds the connection, so the
        # two would otherwise wait for the (rare) cyclic collector.
        connection.renewing.cancel()
        connection.renewing = None
    token = uuid.uuid4().hex
    closed_at = datetime.now(UTC)
    if await store().detach_async(connection.user_id, connection.socket_id, token):
        task = asyncio.ensure_future(_settle_later(connection.user_id, token, closed_at))
        _settling.add(task)
        task.add_done_callback(_settling.discard)


# Pending offline transitions, referenced so they are not collected before they run.
_settling: set[asyncio.Task[None]] = set()


async def _settle_later(user_id: int, token: str, closed_at: datetime) -> None:
    await asyncio.sleep(float(settings.PRESENCE_GRACE_SECONDS))
    if await store().settle_async(user_id, token):
        await _changed(user_id, OFFLINE, closed_at)


class _Announcer:
    """Presence changes of a process's sockets, announced together: during a connect storm
    each batch is one worker hop, one transaction and the same few statements, instead of
    a hop and five statements per socket. A change waits ANNOUNCE_SECONDS at most, and its
    caller until it is announced (so it precedes whatever the socket does next). While
    changes keep coming (more arrived while a batch ran: a storm), the next batch waits up
    to STORM_SECONDS for STORM_BATCH of them: a storm's batches were of four or five users,
    the batch's fixed cost (the hop, the transaction, three statements) a tenth of its CPU."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, str, datetime, asyncio.Future[None]]] = []
        self.task: asyncio.Task[None] | None = None
        self.full = asyncio.Event()  # set once STORM_BATCH changes wait

    def note(self, user_id: int, status: str, at: datetime) -> asyncio.Future[None]:
        done = asyncio.get_running_loop().create_future()
        self.pending.append((user_id, status, at, done))
        if len(self.pending) >= STORM_BATCH:
            self.full.set()
        if self.task is None:
            self.task = asyncio.ensure_future(self.flush())
        return done

    async def flush(self) -> None:
        try:
            await asyncio.sleep(ANNOUNCE_SECONDS)
            while self.pending:
                batch, self.pending = self.pending, []
                self.full.clear()
                try:
                    await worker_pool.db(services.presences_changed)([c[:3] for c in batch])
                except Exception:
                    # Presence is advisory: a failed broadcast must not break the sockets.
                    logger.exception("could not announce %d presence changes", len(batch))
                for *_change, done in batch:
                    if not done.done():
                        done.set_result(None)
                if self.pending and not self.full.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.full.wait(), STORM_SECONDS)
        finally:
            self.task = None


ANNOUNCE_SECONDS = 0.02
STORM_SECONDS = 0.1
STORM_BATCH = 200
_announcers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Announcer] = (
    weakref.WeakKeyDictionary()
)


async def settle(timeout: float) -> None:
    """Wait (at most `timeout` seconds) for this loop's announcements in flight."""
    announcer = _announcers.get(asyncio.get_running_loop())
    if announcer is not None and announcer.task is not None:
        await asyncio.wait([announcer.task], timeout=timeout)


async def _changed(user_id: int, status: str, at: datetime) -> None:
    loop = asyncio.get_running_loop()
    announcer = _announcers.get(loop)
    if announcer is None:
        announcer = _announcers[loop] = _Announcer()
    await asyncio.shield(announcer.note(user_id, status, at))


async def current(user_id: int) -> str | None:
    """The user's status now; None when the store cannot be reached (Redis down)."""
    try:
        online = await store().online_async([user_id])
    except Exception:
        logger.warning("presence store unavailable", exc_info=True)
        return None
    return ONLINE if online else OFFLINE
