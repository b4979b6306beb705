"""The socket's send path: a batch of clean, rate-limited sends stored from the event loop.

On PostgreSQL each chat's sends are one statement on an event-loop connection
(chats/realtime/pg_async.py): `rules.send_one_chat_sql`, the rules of chats/rules.py as one
round trip, in autocommit. Anything that statement does not store (a resend caught by the
(sender, client_id) constraint, a block, a chat the sender is not in, and a chat's sends
when one of them is a reply, whose target `rules.reply_targets` checks), and every batch on
SQLite, goes the portable way, `services.message_send_batch`, on a socket worker: the rules
live in one place, and this module only drives them.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from django.utils import timezone

from accounts.models import User
from chats import events, rules, services
from chats.models import Message
from chats.realtime import pg_async, worker_pool
from chats.validation import Refused
from chatsite import metrics

logger = logging.getLogger(__name__)

Result = services.Sent | Refused


async def store(sender: User, sends: list[services.Send]) -> dict[int, Result]:
    """Store the sends (in order per chat); a result for each, keyed by `Send.index`."""
    results: dict[int, Result] = {}
    rest = sends
    if pg_async.enabled() and len({s.client_id for s in sends}) == len(sends):
        events.ring_from_loop()
        try:
            rest = await _store_by_chat(sender, sends, results)
        except psycopg.OperationalError:
            # The connection broke (a database restart, an idle link cut): once more on a
            # new one. Sends that did commit come back as resends of themselves.
            logger.warning("send connection failed; retrying once", exc_info=True)
            left = [send for send in sends if send.index not in results]
            rest = await _store_by_chat(sender, left, results)
    if rest:
        results.update(await worker_pool.db(services.message_send_batch)(sender=sender, sends=rest))
    return results


@metrics.timed_store
async def _store_by_chat(
    sender: User, sends: list[services.Send], results: dict[int, Result]
) -> list[services.Send]:
    """One statement per chat, each its own transaction; the sends it did not store."""
    by_chat: dict[int, list[services.Send]] = {}
    for send in sends:
        by_chat.setdefault(send.chat_id, []).append(send)
    rest: list[services.Send] = []
    async with pg_async.connection() as conn:
        for chat_id, group in by_chat.items():
            if any(send.reply_to is not None for send in group):
                rest += group  # replies are rare: their rule has no SQL twin
                continue
            try:
                async with conn.cursor() as cursor:
                    stored = await _store_one_chat(cursor, sender, chat_id, group)
            except psycopg.errors.UniqueViolation:
                stored = None  # a resend raced this batch: the portable way sorts it out
            if stored is None:
                rest += group
                continue
            messages, peer_id, counts = stored
            for send, message in zip(group, messages, strict=True):
                results[send.index] = (message, True)
            events.messages_created(messages=messages, peers={chat_id: peer_id}, counts=counts)
    return rest


async def _store_one_chat(
    cursor: psycopg.AsyncCursor[Any], sender: User, chat_id: int, group: list[services.Send]
) -> tuple[list[Message], int, dict[tuple[int, int], tuple[int, int]]] | None:
    """The messages (in the order of `group`), the peer and both members' unread counts;
    None, with nothing written, when the sender may not send there."""
    now = timezone.now()
    sends = [(send.client_id, send.body) for send in group]
    params = rules.send_one_chat_params(user_id=sender.pk, chat_id=chat_id, now=now, sends=sends)
    await cursor.execute(rules.send_one_chat_sql(len(group)), params)
    rows = await cursor.fetchall()
    if not rows:
        return None
    n = len(group)
    _, _, last, version, peer_id, sender_total, peer_unread, peer_total = rows[0]
    ids = {seq: pk for pk, seq, *_ in rows}
    messages = []
    for k, send in enumerate(group, start=1):
        seq = last - n + k
        message = services.new_message(sender, send, seq, version - n + k, now)
        message.pk = ids[seq]
        messages.append(message)
    counts = {
        (chat_id, sender.pk): (0, max(0, sender_total)),
        (chat_id, peer_id): (max(0, peer_unread), max(0, peer_total)),
    }
    return messages, peer_id, counts
