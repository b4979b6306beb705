"""The only module that touches the channel layer.

The database is the truth and the layer only a doorbell: every function here runs after
commit, and a failure to ring is logged, never raised to the caller (the next sync heals it).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.models import User
from chats import selectors
from chats.models import Message

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _send(user_id: int, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), event)
    except Exception:
        logger.exception("channel layer send failed for user %s (%s)", user_id, event["type"])


def message_created(*, message: Message, member_ids: list[int]) -> None:
    payload = selectors.message_payload(message)
    counts = selectors.unread_counts(chat_id=message.chat_id, user_ids=member_ids)
    for user_id in member_ids:
        unread, total = counts[user_id]
        _send(
            user_id,
            {
                "type": "chat.message",
                "message": payload,
                "sender_id": message.sender_id,
                "unread": unread,
                "unread_total": total,
            },
        )


def chat_read(*, chat_id: int, reader: User, peer_id: int | None, seq: int) -> None:
    """Update the reader's unread counts in every tab; tell the peer (None when read
    receipts are off on either side)."""
    counts = selectors.unread_counts(chat_id=chat_id, user_ids=[reader.pk])
    unread, total = counts[reader.pk]
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


def typing(*, chat_id: int, user: User, peer_id: int) -> None:
    _send(peer_id, {"type": "chat.typing", "chat": chat_id, "user": user.username})


def presence(
    *, subject: User, status: str, last_seen: datetime | None, user_ids: list[int]
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
    """Ask every socket of the user to re-check its session (logout, password change)."""
    _send(user_id, {"type": "session.check"})


def message_removed(*, message: Message, member_ids: list[int]) -> None:
    """Tell both members' sockets that a moderator removed a message (ids only, no text)."""
    event = {
        "type": "chat.message_removed",
        "chat": message.chat_id,
        "seq": message.seq,
        "id": message.pk,
    }
    for user_id in member_ids:
        _send(user_id, event)


def user_deactivated(*, user_id: int) -> None:
    """Close every socket of a deactivated user: their session no longer passes the check."""
    _send(user_id, {"type": "session.check"})
