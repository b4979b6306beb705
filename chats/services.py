"""Every write to chats and messages. Broadcasts leave through events.py after commit."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from chats import events, limits, presence, selectors
from chats.models import Block, Chat, Membership, Message
from chats.realtime import pg_async, worker_pool
from chats.validation import Refused, clean_body, clean_client_id

logger = logging.getLogger(__name__)


def chat_start(*, user: User, username: str) -> tuple[Chat, bool]:
    """Get or create the direct chat between `user` and the user named `username`."""
    username = (username or "").strip()
    peer = User.objects.filter(username__iexact=username, is_active=True).first()
    if peer is None:
        raise Refused("not_found", f"There is no active user named {username!r}.")
    if peer.pk == user.pk:
        raise Refused("invalid", "You cannot start a chat with yourself.")
    low, high = sorted([user.pk, peer.pk])
    existing = Chat.objects.filter(user_low_id=low, user_high_id=high).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            chat = Chat.objects.create(user_low_id=low, user_high_id=high)
            Membership.objects.bulk_create(
                [Membership(user_id=low, chat=chat), Membership(user_id=high, chat=chat)]
            )
    except IntegrityError:
        # Another request created the pair first: the constraint makes that one the chat.
        return Chat.objects.get(user_low_id=low, user_high_id=high), False
    return chat, True


@dataclass(frozen=True)
class _Send:
    """One send of a batch, validated: its position in the batch and what to store."""

    index: int
    chat_id: int
    client_id: str
    body: str


Sent = tuple[Message, bool]  # the stored message and whether this send stored it


def message_send(*, sender: User, chat_id: int, client_id: str, body: str) -> Sent:
    """Store a message once per (sender, client_id); returns it and whether it is new."""
    (result,) = _store(sender=sender, items=[(chat_id, client_id, body)])
    if isinstance(result, Refused):
        raise result
    return result


def message_send_batch(
    *,
    sender: User,
    items: list[tuple[int, str, str]],
    allowance: Callable[[int], int] | None = None,
) -> list[Message | Refused]:
    """Store several (chat_id, client_id, body) sends of one sender, in order, in one
    transaction: one commit (one WAL flush) and a handful of statements for the lot. Each
    item is stored or refused on its own; `allowance(n)` says how many of the n valid sends
    the rate limit lets through (the first ones)."""
    return [
        r if isinstance(r, Refused) else r[0]
        for r in _store(sender=sender, items=items, allowance=allowance)
    ]


def _store(
    *,
    sender: User,
    items: list[tuple[int, str, str]],
    allowance: Callable[[int], int] | None = None,
) -> list[Sent | Refused]:
    results, sends = _validated(items)
    if allowance is not None and sends:
        sends = _within_allowance(results, sends, allowance(len(sends)))
    results.update(_store_sends(sender, sends))
    return [results[index] for index in range(len(items))]


def _validated(items: list[tuple[int, str, str]]) -> tuple[dict[int, Sent | Refused], list[_Send]]:
    """The refusals of malformed items (by position) and the well-formed sends."""
    results: dict[int, Sent | Refused] = {}
    sends: list[_Send] = []
    for index, (chat_id, client_id, body) in enumerate(items):
        try:
            client_id, body = clean_client_id(client_id), clean_body(body)
            if isinstance(chat_id, bool) or not isinstance(chat_id, int) or not 0 < chat_id < 2**63:
                raise Refused("not_found", "No such chat.")
        except Refused as refused:
            results[index] = refused
            continue
        sends.append(_Send(index, chat_id, client_id, body))
    return results, sends


def _within_allowance(
    results: dict[int, Sent | Refused], sends: list[_Send], allowed: int
) -> list[_Send]:
    for send in sends[max(0, allowed) :]:
        results[send.index] = Refused("rate_limited", limits.RATE_LIMITED)
    return sends[: max(0, allowed)]


def _store_sends(sender: User, sends: list[_Send]) -> dict[int, Sent | Refused]:
    try:
        with transaction.atomic():
            return _store_in_transaction(sender, sends)
    except IntegrityError:
        # A resend raced this batch (the same client_id from another socket or process):
        # store them one at a time, each in a savepoint, so the race costs only its send.
        return {send.index: _store_one(sender, send) for send in sends}


async def message_send_batch_async(
    *,
    sender: User,
    items: list[tuple[int, str, str]],
    allowance: Callable[[int], Awaitable[int]],
) -> list[Message | Refused]:
    """`message_send_batch` for the event loop. On PostgreSQL the same statements run
    through psycopg's async driver, with no worker thread (chats/realtime/pg_async.py); a batch with
    anything but fresh sends to open chats (a resend, a block, a foreign chat), and every
    batch on SQLite, goes the ORM way on a socket worker."""
    results, sends = _validated(items)
    if sends:
        sends = _within_allowance(results, sends, await allowance(len(sends)))
    if sends:
        stored = None
        if pg_async.enabled():
            try:
                stored = await _store_fresh_async(sender, sends)
            except psycopg.OperationalError:
                # The connection broke (a database restart, an idle link cut): once more on
                # a new one. Sends that did commit come back as resends of themselves.
                logger.warning("send connection failed; retrying once", exc_info=True)
                stored = await _store_fresh_async(sender, sends)
        if stored is None:
            stored = await worker_pool.db(_store_sends)(sender, sends)
        results.update(stored)
    return [r if isinstance(r, Refused) else r[0] for r in (results[i] for i in range(len(items)))]


async def _store_fresh_async(sender: User, sends: list[_Send]) -> dict[int, Sent | Refused] | None:
    """Store sends that are all fresh and to open chats of the sender; None (and nothing
    written) when some are not, or when the client_id constraint catches a resend."""
    events.ring_from_loop()
    by_chat: dict[int, list[_Send]] = {}
    for send in sends:
        by_chat.setdefault(send.chat_id, []).append(send)
    if len({s.client_id for s in sends}) < len(sends):
        return None  # a repeat inside the batch
    async with pg_async.connection() as conn:
        if len(by_chat) == 1:
            ((chat_id, group),) = by_chat.items()
            try:
                async with conn.cursor() as cursor:
                    one = await _store_one_chat_async(cursor, sender, chat_id, group)
            except psycopg.errors.UniqueViolation:
                return None  # a resend raced this batch: the ORM way sorts it out
            if one is None:
                return None
            messages, peer_id, counts = one
            peers = {chat_id: peer_id}
        else:
            stored = await _store_chats_async(conn, sender, by_chat)
            if stored is None:
                return None
            messages, peers, counts = stored
    events.messages_created(messages=messages, peers=peers, counts=counts)
    by_client_id = {m.client_id: m for m in messages}
    return {send.index: (by_client_id[send.client_id], True) for send in sends}


async def _store_chats_async(
    conn: psycopg.AsyncConnection[Any], sender: User, by_chat: dict[int, list[_Send]]
) -> tuple[list[Message], dict[int, int], dict[tuple[int, int], tuple[int, int]]] | None:
    """A batch for several chats: one transaction, a statement per step."""
    try:
        async with conn.transaction(), conn.cursor() as cursor:
            targets = await selectors.send_targets_async(
                cursor, user_id=sender.pk, chat_ids=sorted(by_chat)
            )
            if len(targets) < len(by_chat) or any(t.blocked for t in targets.values()):
                return None
            now = timezone.now()
            messages: list[Message] = []
            last_seqs: dict[int, int] = {}
            for chat_id in sorted(by_chat):
                group = by_chat[chat_id]
                n = len(group)
                await cursor.execute(_SEQ_SQL, [n, n, now, chat_id])
                row = await cursor.fetchone()
                assert row is not None  # the chat row was read just above
                last, version = row
                last_seqs[chat_id] = last
                messages += [
                    _new_message(sender, send, last - n + k, version - n + k, now)
                    for k, send in enumerate(group, start=1)
                ]
            await cursor.execute(_insert_sql(len(messages)), _insert_params(messages))
            for message, (pk,) in zip(messages, await cursor.fetchall(), strict=True):
                message.pk = pk
            for chat_id, seq in last_seqs.items():
                await cursor.execute(_POINTERS_SQL, [seq, seq, seq, seq, chat_id, sender.pk])
    except psycopg.errors.UniqueViolation:
        return None  # a resend raced this batch: the ORM way sorts it out
    peers = {chat_id: targets[chat_id].peer_id for chat_id in by_chat}
    try:
        async with conn.cursor() as cursor:
            counts = await selectors.unread_of_members_async(cursor, chat_ids=list(peers))
    except psycopg.Error:
        # Stored and about to be acked: ring without counts rather than not at all.
        logger.exception("could not read unread counts after a send")
        counts = {}
    return messages, peers, counts


async def _store_one_chat_async(
    cursor: psycopg.AsyncCursor[Any], sender: User, chat_id: int, group: list[_Send]
) -> tuple[list[Message], int, dict[tuple[int, int], tuple[int, int]]] | None:
    """A batch for one chat in one statement (one round trip, its own transaction): the
    messages, the peer and both members' unread counts; None, with nothing written, when
    the sender may not send there (not a member, a block)."""
    now = timezone.now()
    params: dict[str, Any] = {"user": sender.pk, "chat": chat_id, "n": len(group), "now": now}
    for k, send in enumerate(group, start=1):
        params[f"b{k}"], params[f"c{k}"] = send.body, send.client_id
    await cursor.execute(_one_chat_sql(len(group)), params)
    rows = await cursor.fetchall()
    if not rows:
        return None
    n = len(group)
    first = rows[0][2] - n + 1
    messages = []
    for pk, seq, last, _peer, *_counts, version in rows:
        message = _new_message(sender, group[seq - first], seq, version - last + seq, now)
        message.pk = pk
        messages.append(message)
    messages.sort(key=lambda m: m.seq)
    _, _, _, peer_id, sender_total, peer_unread, peer_total, _ = rows[0]
    counts = {
        (chat_id, sender.pk): (0, max(0, sender_total)),
        (chat_id, peer_id): (max(0, peer_unread), max(0, peer_total)),
    }
    return messages, peer_id, counts


@functools.cache
def _one_chat_sql(count: int) -> str:
    """Seqs, rows and the sender's pointers for `count` sends to one chat, as one statement.

    Every part sees the snapshot from before the statement, but the chat row's UPDATE
    waits for (and then sees) a concurrent send's seqs; the row lock is held to the end, so
    seqs stay gapless and in commit order. The unread counts are worked out from that
    snapshot plus what this statement changes (the sender has read this chat; the peer
    has `count` more unread)."""
    chat, membership = Chat._meta.db_table, Membership._meta.db_table
    message, block = Message._meta.db_table, Block._meta.db_table
    values = ", ".join(f"({k}, %(b{k})s, %(c{k})s)" for k in range(1, count + 1))
    # A user's total unread: their memberships by index, each chat's last_seq by its key.
    # Written as a probe per membership, not a join, so that the plan cannot depend on the
    # statistics: without them (a freshly loaded database) the join hashed the whole chat
    # table, twice per send (docs/benchmarks.md, "Settling the database").
    unread_total = (
        f"(SELECT COALESCE(SUM((SELECT c2.last_seq FROM {chat} c2 WHERE c2.id = m2.chat_id) "
        f"- m2.read_seq), 0) FROM {membership} m2 WHERE m2.user_id = {{}})"
    )
    return (
        f"WITH t AS (SELECT c.id, c.last_seq AS before, CASE WHEN c.user_low_id = %(user)s "
        f"THEN c.user_high_id ELSE c.user_low_id END AS peer FROM {chat} c "
        "WHERE c.id = %(chat)s AND (c.user_low_id = %(user)s OR c.user_high_id = %(user)s) "
        f"AND NOT EXISTS (SELECT 1 FROM {block} b WHERE (b.blocker_id = c.user_low_id AND "
        "b.blocked_id = c.user_high_id) OR (b.blocker_id = c.user_high_id AND "
        "b.blocked_id = c.user_low_id))), "
        f"s AS (UPDATE {chat} c SET last_seq = c.last_seq + %(n)s, "
        "version = c.version + %(n)s, last_message_at = %(now)s "
        "FROM t WHERE c.id = t.id RETURNING c.last_seq, c.version), "
        f"i AS (INSERT INTO {message} ({', '.join(_INSERT_COLUMNS)}, removed_reason) "
        "SELECT %(chat)s, s.last_seq - %(n)s + v.k, %(user)s, v.body, v.client_id, %(now)s, "
        "s.version - %(n)s + v.k, '' "
        f"FROM s, (VALUES {values}) AS v (k, body, client_id) RETURNING id, seq), "
        f"p AS (UPDATE {membership} m SET read_seq = GREATEST(m.read_seq, s.last_seq), "
        "delivered_seq = GREATEST(m.delivered_seq, s.last_seq) FROM s "
        "WHERE m.chat_id = %(chat)s AND m.user_id = %(user)s) "
        "SELECT i.id, i.seq, s.last_seq, t.peer, "
        f"{unread_total.format('%(user)s')} - (t.before - COALESCE(sm.read_seq, 0)), "
        "s.last_seq - COALESCE(pm.read_seq, 0), "
        f"{unread_total.format('t.peer')} - t.before + s.last_seq, s.version "
        f"FROM i CROSS JOIN s CROSS JOIN t "
        f"LEFT JOIN {membership} sm ON sm.chat_id = t.id AND sm.user_id = %(user)s "
        f"LEFT JOIN {membership} pm ON pm.chat_id = t.id AND pm.user_id = t.peer"
    )


def _store_one(sender: User, send: _Send) -> Sent | Refused:
    try:
        with transaction.atomic():
            return _store_in_transaction(sender, [send])[send.index]
    except IntegrityError:
        existing = selectors.messages_by_client_id(sender=sender, client_ids=[send.client_id])
        if send.client_id not in existing:
            raise
        return _resend_of(existing[send.client_id], send)


def _resend_of(existing: Message, send: _Send) -> Sent | Refused:
    if existing.chat_id != send.chat_id:
        return Refused("invalid", "This client_id was already used for a message in another chat.")
    return existing, False


# Seqs and versions for n new messages of a chat: the row lock is held until commit.
_SEQ_SQL = (
    f"UPDATE {Chat._meta.db_table} SET last_seq = last_seq + %s, version = version + %s, "
    "last_message_at = %s WHERE id = %s RETURNING last_seq, version"
)
# Replying means the sender has read (and so received) everything before it.
_POINTERS_SQL = (
    f"UPDATE {Membership._meta.db_table} SET "
    "read_seq = CASE WHEN read_seq < %s THEN %s ELSE read_seq END, "
    "delivered_seq = CASE WHEN delivered_seq < %s THEN %s ELSE delivered_seq END "
    "WHERE chat_id = %s AND user_id = %s"
)
_INSERT_COLUMNS = ("chat_id", "seq", "sender_id", "body", "client_id", "created_at", "version")


def _insert_sql(count: int) -> str:
    row = "(" + ", ".join(["%s"] * (len(_INSERT_COLUMNS) + 1)) + ")"
    return (
        f"INSERT INTO {Message._meta.db_table} ({', '.join(_INSERT_COLUMNS)}, removed_reason) "
        f"VALUES {', '.join([row] * count)} RETURNING id"
    )


def _insert_params(messages: list[Message]) -> list[object]:
    return [
        x
        for m in messages
        for x in (m.chat_id, m.seq, m.sender_id, m.body, m.client_id, m.created_at, m.version, "")
    ]


def _new_message(sender: User, send: _Send, seq: int, version: int, now: datetime) -> Message:
    return Message(
        chat_id=send.chat_id,
        seq=seq,
        version=version,
        sender=sender,
        body=send.body,
        client_id=send.client_id,
        created_at=now,
    )


def _store_in_transaction(sender: User, sends: list[_Send]) -> dict[int, Sent | Refused]:
    """The batch's writes. Seqs are taken with UPDATE ... RETURNING on each chat row, which
    holds the row lock until commit, so seqs are gapless and in commit order; chats are
    locked in id order, so two batches never wait for each other in a cycle."""
    results: dict[int, Sent | Refused] = {}
    targets = selectors.send_targets(user_id=sender.pk, chat_ids=sorted({s.chat_id for s in sends}))
    fresh: dict[int, list[_Send]] = {}  # chat -> the sends to store there, in order
    firsts: dict[str, _Send] = {}  # client_id -> the send in this batch that stores it
    repeats: list[tuple[_Send, _Send]] = []
    for send in sends:
        target = targets.get(send.chat_id)
        if target is None:
            results[send.index] = Refused("not_found", "No such chat.")
        elif send.client_id in firsts:
            repeats.append((send, firsts[send.client_id]))
        elif target.blocked:
            results[send.index] = _blocked(sender, target.peer_id, send)
        else:
            # No look-up for resends first: the (sender, client_id) constraint catches them
            # (and _store then stores the batch one send at a time), so fresh sends, nearly
            # all of them, cost no query for it.
            firsts[send.client_id] = send
            fresh.setdefault(send.chat_id, []).append(send)
    if fresh:
        now = timezone.now()
        messages: list[Message] = []
        last_seqs: dict[int, int] = {}
        with connection.cursor() as cursor:
            for chat_id in sorted(fresh):
                group = fresh[chat_id]
                stamp = connection.ops.adapt_datetimefield_value(now)
                n = len(group)
                cursor.execute(_SEQ_SQL, [n, n, stamp, chat_id])
                last, version = cursor.fetchone()
                last_seqs[chat_id] = last
                for k, send in enumerate(group, start=1):
                    message = _new_message(sender, send, last - n + k, version - n + k, now)
                    messages.append(message)
                    results[send.index] = (message, True)
            Message.objects.bulk_create(messages)
            for chat_id, seq in last_seqs.items():
                cursor.execute(_POINTERS_SQL, [seq, seq, seq, seq, chat_id, sender.pk])
        peers = {chat_id: targets[chat_id].peer_id for chat_id in fresh}
        _after_commit(lambda: events.messages_created(messages=messages, peers=peers))
    for send, first in repeats:
        stored = results[first.index]
        assert isinstance(stored, tuple)  # a first send is always stored
        results[send.index] = _resend_of(stored[0], send)
    return results


def _blocked(sender: User, peer_id: int, send: _Send) -> Sent | Refused:
    # A resend of a message stored before the block still gets its ack.
    existing = selectors.messages_by_client_id(sender=sender, client_ids=[send.client_id])
    if send.client_id in existing:
        return _resend_of(existing[send.client_id], send)
    if selectors.is_blocked(blocker_id=sender.pk, blocked_id=peer_id):
        return Refused("blocked", "You blocked this user; unblock them to send messages.")
    return Refused("blocked", "You cannot send messages to this user.")


def chat_mark_read(*, user: User, chat_id: int, seq: int) -> int:
    """Move the reader's read pointer forward to `seq` (clamped to the chat); never back."""
    try:
        chat = selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such chat.") from None
    seq = min(seq, chat.last_seq)
    membership = selectors.membership_get(user_id=user.pk, chat_id=chat.pk)
    if membership.read_seq >= seq and membership.delivered_seq >= seq:
        return membership.read_seq  # nothing to move: no write (on SQLite, no write lock)
    with transaction.atomic():
        moved = Membership.objects.filter(
            chat_id=chat.pk, user_id=user.pk, read_seq__lt=seq
        ).update(read_seq=seq)
        # A reader has also received what they read.
        Membership.objects.filter(chat_id=chat.pk, user_id=user.pk, delivered_seq__lt=seq).update(
            delivered_seq=seq
        )
        if moved:
            peer = selectors.peer_of(chat, user.pk)
            # The chat's own copy of the reader is fresh: their privacy setting may have changed
            # since their socket connected.
            reader = selectors.peer_of(chat, peer.pk)
            tell_peer = selectors.read_receipts_shared(viewer=peer, subject=reader)
            _after_commit(
                lambda: events.chat_read(
                    chat_id=chat.pk, reader=reader, peer_id=peer.pk if tell_peer else None, seq=seq
                )
            )
    return selectors.membership_get(user_id=user.pk, chat_id=chat.pk).read_seq


@dataclass(frozen=True)
class Delivery:
    """`user`'s client has received chat `chat_id` up to `seq`; `peer_id` when known."""

    user: User
    chat_id: int
    seq: int
    peer_id: int | None = None


def chats_mark_delivered(deliveries: list[Delivery]) -> list[Delivery]:
    """Move several delivered pointers forward (never back) in one statement and one
    transaction, and tell each peer; returns the deliveries that moved a pointer.

    Sockets of a whole process write theirs together (chats/realtime/receipts.py).
    """
    latest: dict[tuple[int, int], Delivery] = {}
    for d in deliveries:
        known = latest.get((d.user.pk, d.chat_id))
        if known is None or d.seq > known.seq:
            latest[(d.user.pk, d.chat_id)] = d
    if not latest:
        return []
    table = Membership._meta.db_table
    values = ", ".join(["(%s, %s, %s)"] * len(latest))
    params = [x for d in latest.values() for x in (d.chat_id, d.user.pk, d.seq)]
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # A pointer lost in a crash is simply recorded again by the next delivery:
                # not worth waiting for the WAL flush.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            # VALUES columns are column1.. on both PostgreSQL and SQLite.
            cursor.execute(
                f"UPDATE {table} SET delivered_seq = v.column3 FROM (VALUES {values}) AS v "
                f"WHERE {table}.chat_id = v.column1 AND {table}.user_id = v.column2 "
                f"AND {table}.delivered_seq < v.column3 RETURNING {table}.chat_id, {table}.user_id",
                params,
            )
            moved = [latest[(user_id, chat_id)] for chat_id, user_id in cursor.fetchall()]
        unknown = [d.chat_id for d in moved if d.peer_id is None]
        pairs = dict(
            (pk, (low, high))
            for pk, low, high in Chat.objects.filter(pk__in=unknown).values_list(
                "pk", "user_low_id", "user_high_id"
            )
        )
        announced = []
        for d in moved:
            peer_id = d.peer_id
            if peer_id is None:
                low, high = pairs[d.chat_id]
                peer_id = high if low == d.user.pk else low
            announced.append(Delivery(d.user, d.chat_id, d.seq, peer_id))
        _after_commit(lambda: _announce_deliveries(announced))
    return moved


def _announce_deliveries(deliveries: list[Delivery]) -> None:
    for d in deliveries:
        assert d.peer_id is not None
        events.chat_delivered(chat_id=d.chat_id, user=d.user, peer_id=d.peer_id, seq=d.seq)


def chat_typing(*, user: User, chat_id: int) -> None:
    """Tell the other member that `user` is typing (nothing is stored).

    Typing is a hint: too frequent ones, and any between users with a block either way,
    are dropped silently.
    """
    if not limits.typing_allowed(user_id=user.pk, chat_id=chat_id):
        return  # before any query: a flood of hints costs one Redis call each
    try:
        chat = selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such chat.") from None
    peer = selectors.peer_of(chat, user.pk)
    if selectors.blocked_peers(user_id=user.pk, peer_ids=[peer.pk]):
        return
    events.typing(chat_id=chat.pk, user=user, peer_id=peer.pk)


def block_user(*, blocker: User, blocked: User) -> bool:
    """`blocker` stops receiving messages, typing and presence from `blocked` (and shows
    them none); history stays readable. True when the block is new."""
    if blocker.pk == blocked.pk:
        raise Refused("invalid", "You cannot block yourself.")
    with transaction.atomic():
        _block, created = Block.objects.get_or_create(blocker=blocker, blocked=blocked)
        if created:
            _after_commit(lambda: _presence_resend(blocker, [blocked]))
    return created


def unblock_user(*, blocker: User, blocked: User) -> bool:
    """Lift a block; True when there was one."""
    with transaction.atomic():
        deleted, _ = Block.objects.filter(blocker=blocker, blocked=blocked).delete()
        if deleted:
            _after_commit(lambda: _presence_resend(blocker, [blocked]))
    return bool(deleted)


def presence_privacy_changed(*, user: User) -> None:
    """After `user` turns hiding presence on or off: they and everyone sharing a chat with
    them hear what they may now see of each other."""
    peers = list(User.objects.filter(memberships__chat__memberships__user=user).exclude(pk=user.pk))
    _after_commit(lambda: _presence_resend(user, peers))


def _presence_resend(user: User, peers: list[User]) -> None:
    """Tell `user` and each of `peers` what they may now see of the other."""
    user.refresh_from_db(fields=["hide_presence", "last_seen"])
    blocked = selectors.blocked_peers(user_id=user.pk, peer_ids=[p.pk for p in peers])
    for peer in peers:
        peer.refresh_from_db(fields=["hide_presence", "last_seen"])
        pair_blocked = peer.pk in blocked
        for viewer, subject in ((user, peer), (peer, user)):
            status, last_seen = presence.statuses(
                viewer=viewer,
                subjects=[subject],
                blocked_ids={subject.pk} if pair_blocked else set(),
            )[subject.pk]
            events.presence(
                subject=subject, status=status, last_seen=last_seen, user_ids=[viewer.pk]
            )


def presences_changed(changes: list[tuple[int, str, datetime]]) -> None:
    """Record that users went online or offline, each at its time, and tell whoever may
    know (a process's batch, chats/realtime/presence.py): one transaction, the same few
    statements whatever the count; a user listed twice keeps the later change."""
    latest = {user_id: (status, at) for user_id, status, at in changes}
    if not latest:
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.executemany(
                _LAST_SEEN_SQL,
                [
                    (connection.ops.adapt_datetimefield_value(at), user_id)
                    for user_id, (_status, at) in latest.items()
                ],
            )
        users = selectors.users_for_presence(user_ids=list(latest))
        audiences = selectors.presence_audiences(users=users)
        announce = [
            (user, *latest[user.pk], audiences[user.pk]) for user in users if audiences[user.pk]
        ]
        _after_commit(lambda: _announce_presences(announce))


def _announce_presences(announce: list[tuple[User, str, datetime, list[int]]]) -> None:
    for user, status, at, audience in announce:
        events.presence(subject=user, status=status, last_seen=at, user_ids=audience)


_LAST_SEEN_SQL = f"UPDATE {User._meta.db_table} SET last_seen = %s WHERE id = %s"


def _after_commit(announce: Callable[[], None]) -> None:
    """Announce once committed. Robust: the change is already stored, so a failing
    announcement is logged and never reported to the caller as a failed write (clients
    converge by sync)."""
    transaction.on_commit(announce, robust=True)
