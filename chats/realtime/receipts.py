"""Delivered pointers of all the sockets of a process, written together.

Every message a socket forwards moves its user's delivered pointer. Written one socket at a
time, that is a worker-thread hop, a transaction, a statement, a "delivered" event and frame
per message; here the pointers of every socket on the event loop collect for
RECEIPTS_FLUSH_SECONDS (and while a write is in flight), and one write takes them all: one
hop, one statement and one commit per flush, one event per chat.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from django.conf import settings
from django.db import DatabaseError

from accounts.models import User
from chats import services
from chats.realtime import worker_pool

logger = logging.getLogger(__name__)


class _Writer:
    def __init__(self) -> None:
        self.pending: dict[tuple[int, int], services.Delivery] = {}
        self.task: asyncio.Task[None] | None = None

    def note(self, delivery: services.Delivery) -> None:
        key = (delivery.user.pk, delivery.chat_id)
        known = self.pending.get(key)
        if known is None or delivery.seq > known.seq:
            self.pending[key] = delivery
        if self.task is None:
            self.task = asyncio.ensure_future(self.flush())

    async def flush(self) -> None:
        write = worker_pool.db(services.chats_mark_delivered)
        try:
            await asyncio.sleep(settings.RECEIPTS_FLUSH_SECONDS)
            while self.pending:
                batch, self.pending = list(self.pending.values()), {}
                try:
                    await write(batch)
                except DatabaseError:
                    # The next delivery (or the client's sync) records them again.
                    logger.exception("could not record %d delivered pointers", len(batch))
        finally:
            self.task = None


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Writer] = (
    weakref.WeakKeyDictionary()
)


def _writer() -> _Writer:
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = _Writer()
    return writer


def note_delivered(user: User, chat_id: int, seq: int, peer_id: int | None) -> None:
    """Record (soon) that `user` has received chat `chat_id` up to `seq`."""
    _writer().note(services.Delivery(user, chat_id, seq, peer_id))


async def settle(timeout: float) -> None:
    """Wait (at most `timeout` seconds) for the write in flight and what it has taken on."""
    writer = _writers.get(asyncio.get_running_loop())
    if writer is not None and writer.task is not None:
        await asyncio.wait([writer.task], timeout=timeout)
