"""The only module that touches the channel layer.

The database is the truth and the layer only a doorbell: every function here runs after
commit, and a failure to ring is logged, never raised to the caller (the next sync heals it).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.models import User
from chats import selectors
from chats.models import Message
from chatsite import aio, metrics
from push import dispatch as push_dispatch

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


# The event loop of the socket whose worker thread is running: set by `ring_from_loop`.
_socket_loop: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar("socket_loop", default=None)


class _Doorbell:
    """One queue per event loop, drained by one task: rings leave in the order they were
    made, and the worker thread that made them never waits for Redis. What queued while a
    publish was in flight leaves together, in one round trip where the layer can
    (chatsite/layers.py)."""

    BATCH = 500

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.task = loop.create_task(self.run())

    async def run(self) -> None:
        while True:
            aio.raise_if_cancelled()  # a publish may have swallowed the loop's cancel
            rings = [await self.queue.get()]
            while len(rings) < self.BATCH and not self.queue.empty():
                rings.append(self.queue.get_nowait())
            await _group_send_many(rings)


_doorbells: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Doorbell] = (
    weakref.WeakKeyDictionary()
)


def _ring_on_loop(loop: asyncio.AbstractEventLoop, group: str, event: dict[str, Any]) -> None:
    doorbell = _doorbells.get(loop)
    if doorbell is None or doorbell.task.done():
        doorbell = _doorbells[loop] = _Doorbell(loop)
    doorbell.queue.put_nowait((group, event))


def ring_from_loop() -> None:
    """Called in a socket's task: its worker threads hand rings to this event loop instead
    of blocking on each send (sockets do their writes on worker threads)."""
    _socket_loop.set(asyncio.get_running_loop())


async def _group_send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, event)
    except Exception:
        logger.exception("channel layer send failed for %s (%s)", group, event["type"])


async def _group_send_many(rings: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    send_many = getattr(layer, "group_send_many", None)
    if send_many is None:  # the in-memory layer: no round trips to save
        for group, event in rings:
            await _group_send(group, event)
        return
    try:
        await send_many(rings)
    except Exception:
        logger.exception("channel layer send failed for %d events", len(rings))


def _send(user_id: int, event: dict[str, Any]) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None:  # on the event loop itself (the send path's fast driver)
        _ring_on_loop(running, user_group(user_id), event)
        return
    loop = _socket_loop.get()
    if loop is not None and not loop.is_closed():  # a socket's worker thread
        loop.call_soon_threadsafe(_ring_on_loop, loop, user_group(user_id), event)
        return
    async_to_sync(_group_send)(user_group(user_id), event)


def messages_created(
    *,
    messages: list[Message],
    peers: dict[int, int],
    counts: dict[tuple[int, int], tuple[int, int]] | None = None,
) -> None:
    """Ring both members of each message's chat; `peers` maps chat to the sender's peer.

    The unread counts (`selectors.unread_of_members`) come from one query after the commit,
    made here unless the caller has them; for a message followed by others of the same
    batch, the peer's counts leave those later ones out.
    """
    committed_at = metrics.messages_stored(len(messages))
    if counts is None:
        counts = selectors.unread_of_members(chat_ids=list(peers))
    push_dispatch.messages_stored(messages=messages, peers=peers)
    last = {m.chat_id: m.seq for m in messages}  # messages are in seq order per chat
    for message in messages:
        payload = selectors.message_payload(message)
        peer_id = peers[message.chat_id]
        later = last[message.chat_id] - message.seq
        for user_id in (message.sender_id, peer_id):
            unread, total = counts.get((message.chat_id, user_id), (0, 0))
            if user_id == peer_id:
                unread, total = max(0, unread - later), max(0, total - later)
            _send(
                user_id,
                {
                    "type": "chat.message",
                    "message": payload,
                    "sender_id": message.sender_id,
                    "unread": unread,
                    "unread_total": total,
                    "committed_at": committed_at,
                },
            )


def chat_read(*, chat_id: int, reader: User, peer_id: int | None, seq: int) -> None:
    """Update the reader's unread counts in every tab; tell the peer (None when read
    receipts are off on either side)."""
    counts = selectors.unread_of_members(chat_ids=[chat_id])
    unread, total = counts.get((chat_id, reader.pk), (0, 0))
    _send(
        reader.pk,
        {
            "type": "chat.unread",
            "chat": chat_id,
            "unread": unread,
            "unread_total": total,
        },
    )
    if peer_id is None:
        return
    _send(
        peer_id,
        {
            "type": "chat.read",
            "chat": chat_id,
            "user": reader.username,
            "user_id": reader.pk,
            "seq": seq,
        },
    )


def chat_delivered(*, chat_id: int, user: User, peer_id: int, seq: int) -> None:
    _send(
        peer_id,
        {"type": "chat.delivered", "chat": chat_id, "user": user.username, "seq": seq},
    )


def chat_muted(*, user_id: int, chat_id: int, muted: bool) -> None:
    """The user (un)muted a chat: their tabs stop (or resume) its toasts and sounds."""
    _send(user_id, {"type": "chat.muted", "chat": chat_id, "muted": muted})


def typing(*, chat_id: int, user: User, peer_id: int) -> None:
    _send(peer_id, {"type": "chat.typing", "chat": chat_id, "user": user.username})


def presence(
    *,
    subject: User | selectors.PresenceSubject,
    status: str,
    last_seen: datetime | None,
    user_ids: list[int],
) -> None:
    event = {
        "type": "presence.changed",
        "user_id": subject.pk,
        "user": subject.username,
        "status": status,
        "last_seen": selectors.iso_utc(last_seen) if last_seen else None,
    }
    for user_id in user_ids:
        _send(user_id, event)


def user_sessions_changed(*, user_id: int) -> None:
    """Ask every socket of the user to re-check its session (a password change)."""
    _send(user_id, {"type": "session.check"})


def message_changed(*, message: Message, member_ids: list[int]) -> None:
    """Give both members' sockets a changed message's full current state (same seq, a
    higher version), read after commit: the truth, whatever the caller holds."""
    current = selectors.message_get(chat_id=message.chat_id, seq=message.seq)
    (payload,) = selectors.message_payloads([current])
    for user_id in member_ids:
        _send(user_id, {"type": "chat.message", "message": payload})


def session_digest(session_key: str) -> str:
    """How events name a session: its key is a credential, and stays off the layer."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def session_ended(*, user_id: int, session_key: str) -> None:
    """Close the sockets of a session that is gone (a logout, a deletion on the server)."""
    _send(user_id, {"type": "session.ended", "session": session_digest(session_key)})


def message_removed(*, message: Message, member_ids: list[int]) -> None:
    """Tell both members' sockets that a moderator removed a message (ids only, no text):
    the `message_removed` frame of clients older than versions."""
    event = {
        "type": "chat.message_removed",
        "chat": message.chat_id,
        "seq": message.seq,
        "id": message.pk,
    }
    for user_id in member_ids:
        _send(user_id, event)


def user_renamed(*, user_id: int, old: str, new: str) -> None:
    """Tell every socket of the user and of everyone sharing a chat with them (a block
    included: pages show names whatever the block) that the user is now `new`."""
    event = {"type": "user.renamed", "old": old, "new": new}
    for peer_id in [user_id, *selectors.chat_peer_ids(user_id=user_id)]:
        _send(peer_id, event)


def user_deactivated(*, user_id: int) -> None:
    """Close every socket of a deactivated user: their session no longer passes the check."""
    _send(user_id, {"type": "session.check"})
