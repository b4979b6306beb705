"""Every write to chats and messages. Broadcasts leave through events.py after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from chats import events, limits, presence, rules, selectors
from chats.models import Block, Chat, Membership, Message
from chats.validation import Refused
from chatsite import metrics

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
class Send:
    """One send of a batch, clean and typed (the edges validate and rate-limit): its
    position in the batch and what to store."""

    index: int
    chat_id: int
    client_id: str
    body: str
    reply_to: int | None = None  # the seq answered, in the same chat (rules.reply_targets)


Sent = tuple[Message, bool]  # the stored message and whether this send stored it


def message_send(
    *, sender: User, chat_id: int, client_id: str, body: str, reply_to: int | None = None
) -> Sent:
    """Store a message once per (sender, client_id); returns it and whether it is new."""
    send = Send(0, chat_id, client_id, body, reply_to)
    result = message_send_batch(sender=sender, sends=[send])[0]
    if isinstance(result, Refused):
        raise result
    return result


@metrics.timed_store
def message_send_batch(*, sender: User, sends: list[Send]) -> dict[int, Sent | Refused]:
    """Store several sends of one sender, in order, in one transaction: one commit (one
    WAL flush) and a handful of statements for the lot. Each is stored or refused on its
    own; the results are keyed by `Send.index`."""
    try:
        with transaction.atomic():
            return _store_in_transaction(sender, sends)
    except IntegrityError:
        # A resend raced this batch (the same client_id from another socket or process):
        # store them one at a time, each in a savepoint, so the race costs only its send.
        return {send.index: _store_one(sender, send) for send in sends}


def _store_one(sender: User, send: Send) -> Sent | Refused:
    try:
        with transaction.atomic():
            return _store_in_transaction(sender, [send])[send.index]
    except IntegrityError:
        existing = selectors.messages_by_client_id(sender=sender, client_ids=[send.client_id])
        if send.client_id not in existing:
            raise
        return _resend_of(existing[send.client_id], send)


def _resend_of(existing: Message, send: Send) -> Sent | Refused:
    if existing.chat_id != send.chat_id:
        return Refused("invalid", "This client_id was already used for a message in another chat.")
    return existing, False


def new_message(
    sender: User,
    send: Send,
    seq: int,
    version: int,
    now: datetime,
    reply_to: Message | None = None,
) -> Message:
    """The Message a send stored with `seq` and `version` (its id is set by the caller);
    `reply_to`, the message it answers, as `rules.reply_targets` found it."""
    return Message(
        chat_id=send.chat_id,
        seq=seq,
        version=version,
        sender=sender,
        body=send.body,
        client_id=send.client_id,
        created_at=now,
        reply_to=reply_to,
    )


def _store_in_transaction(sender: User, sends: list[Send]) -> dict[int, Sent | Refused]:
    """The batch's writes, by the rules of chats/rules.py. Chats are locked in id order, so
    two batches never wait for each other in a cycle."""
    results: dict[int, Sent | Refused] = {}
    targets = rules.send_targets(user_id=sender.pk, chat_ids=sorted({s.chat_id for s in sends}))
    fresh: dict[int, list[Send]] = {}  # chat -> the sends to store there, in order
    firsts: dict[str, Send] = {}  # client_id -> the send in this batch that stores it
    repeats: list[tuple[Send, Send]] = []
    for send in sends:
        target = targets.get(send.chat_id)
        if target is None:
            results[send.index] = Refused("not_found", "No such chat.")
        elif send.client_id in firsts:
            repeats.append((send, firsts[send.client_id]))
        elif target.peer_deleted:
            results[send.index] = _refused_unless_resend(
                sender, send, Refused("account_deleted", PEER_DELETED)
            )
        elif target.blocked:
            results[send.index] = _blocked(sender, target.peer_id, send)
        else:
            # No look-up for resends first: the (sender, client_id) constraint catches them
            # (and message_send_batch then stores the batch one send at a time), so fresh
            # sends, nearly all of them, cost no query for it.
            firsts[send.client_id] = send
            fresh.setdefault(send.chat_id, []).append(send)
    originals = _reply_targets(sender, fresh, results)
    if fresh:
        now = timezone.now()
        messages: list[Message] = []
        for chat_id in sorted(fresh):
            group = fresh[chat_id]
            n = len(group)
            last, version = rules.seqs_take(chat_id=chat_id, count=n, now=now)
            for k, send in enumerate(group, start=1):
                original = None if send.reply_to is None else originals[(chat_id, send.reply_to)]
                message = new_message(sender, send, last - n + k, version - n + k, now, original)
                messages.append(message)
                results[send.index] = (message, True)
        Message.objects.bulk_create(messages)
        for chat_id in fresh:
            last_seq = max(m.seq for m in messages if m.chat_id == chat_id)
            rules.reply_marks_read(chat_id=chat_id, user_id=sender.pk, seq=last_seq)
        peers = {chat_id: targets[chat_id].peer_id for chat_id in fresh}
        _after_commit(lambda: events.messages_created(messages=messages, peers=peers))
    for send, first in repeats:
        stored = results[first.index]
        # A first send is stored, or refused for its reply target (then so is its repeat).
        results[send.index] = stored if isinstance(stored, Refused) else _resend_of(stored[0], send)
    return results


def _reply_targets(
    sender: User, fresh: dict[int, list[Send]], results: dict[int, Sent | Refused]
) -> dict[tuple[int, int], Message]:
    """The messages fresh sends answer, by (chat, seq), one query per chat with replies.
    A send whose target the rule refuses (`rules.reply_targets`) gets that refusal, unless
    it is a resend of a message stored before (then its ack), and is taken out of `fresh`."""
    found: dict[tuple[int, int], Message] = {}
    refused: list[tuple[Send, Refused]] = []
    for chat_id in list(fresh):
        seqs = {s.reply_to for s in fresh[chat_id] if s.reply_to is not None}
        if not seqs:
            continue
        targets = rules.reply_targets(chat_id=chat_id, seqs=seqs)
        keep = []
        for send in fresh[chat_id]:
            target = None if send.reply_to is None else targets[send.reply_to]
            if isinstance(target, Refused):
                refused.append((send, target))
                continue
            if target is not None:
                found[(chat_id, target.seq)] = target
            keep.append(send)
        if keep:
            fresh[chat_id] = keep
        else:
            del fresh[chat_id]
    if refused:
        results.update(messages_refused_unless_resent(sender=sender, refused=refused))
    return found


PEER_DELETED = "This account was deleted: it cannot receive messages."


def messages_refused_unless_resent(
    *, sender: User, refused: list[tuple[Send, Refused]]
) -> dict[int, Sent | Refused]:
    """Each send with the refusal it gets (a block, the peer's deletion, the rate limit's
    hold), unless it resends a message stored before: then its ack (`invalid` when that
    message is in another chat). One query for the lot; keyed by `Send.index`."""
    client_ids = [send.client_id for send, _ in refused]
    existing = selectors.messages_by_client_id(sender=sender, client_ids=client_ids)
    results: dict[int, Sent | Refused] = {}
    for send, refusal in refused:
        stored = existing.get(send.client_id)
        results[send.index] = refusal if stored is None else _resend_of(stored, send)
    return results


def _refused_unless_resend(sender: User, send: Send, refusal: Refused) -> Sent | Refused:
    return messages_refused_unless_resent(sender=sender, refused=[(send, refusal)])[send.index]


def _blocked(sender: User, peer_id: int, send: Send) -> Sent | Refused:
    if selectors.is_blocked(blocker_id=sender.pk, blocked_id=peer_id):
        refusal = Refused("blocked", "You blocked this user; unblock them to send messages.")
    else:
        refusal = Refused("blocked", "You cannot send messages to this user.")
    return _refused_unless_resend(sender, send, refusal)


def chat_mark_read(*, user: User, chat_id: int, seq: int) -> int:
    """Move the reader's read pointer forward to `seq` (clamped to the chat); never back.

    Three statements: the chat with both members, the reader's membership, and one UPDATE
    moving both pointers (a reader has also received what they read), each only forward.
    What moved is judged from the membership just read: a tab that moved a pointer in
    between makes this one announce it again, which changes nothing for the clients."""
    try:
        chat = selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such chat.") from None
    seq = min(seq, chat.last_seq)
    membership = selectors.membership_get(user_id=user.pk, chat_id=chat.pk)
    moved = membership.read_seq < seq
    delivered = membership.delivered_seq < seq
    if not (moved or delivered):
        return membership.read_seq  # nothing to move: no write (on SQLite, no write lock)
    rules.reply_marks_read(chat_id=chat.pk, user_id=user.pk, seq=seq)
    peer = selectors.peer_of(chat, user.pk)
    # The chat's own copy of the reader is fresh: their privacy setting may have changed
    # since their socket connected.
    reader = selectors.peer_of(chat, peer.pk)
    tell_peer = selectors.read_receipts_shared(viewer=peer, subject=reader)
    if moved:
        _after_commit(
            lambda: events.chat_read(
                chat_id=chat.pk, reader=reader, peer_id=peer.pk if tell_peer else None, seq=seq
            )
        )
    if delivered and not tell_peer:
        # Without read receipts the sender still learns that it arrived (issue 23, bug 2);
        # with them, the read event says more.
        _after_commit(
            lambda: events.chat_delivered(chat_id=chat.pk, user=reader, peer_id=peer.pk, seq=seq)
        )
    return max(membership.read_seq, seq)


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
        members = rules.members_of(chat_ids=unknown)
        announced = []
        for d in moved:
            peer_id = d.peer_id
            if peer_id is None:
                [peer_id] = [m for m in members[d.chat_id] if m != d.user.pk]
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
    if rules.blocked_peers(user_id=user.pk, peer_ids=[peer.pk]):
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


def account_forget(*, user: User) -> None:
    """The account is being deleted (`user` still has its name): its blocks (either way)
    and its receipts go. Its memberships stay, so the other members keep the chats and
    their history; its pointers drop to zero, so their messages show as sent, never as
    delivered or read. After commit the peers' open pages stop showing its presence."""
    Block.objects.filter(Q(blocker=user) | Q(blocked=user)).delete()
    Membership.objects.filter(user=user).update(read_seq=0, delivered_seq=0)
    peers = selectors.chat_peer_ids(user_id=user.pk)
    known_as = User(pk=user.pk, username=user.username)  # the name the peers' pages show
    _after_commit(
        lambda: events.presence(
            subject=known_as, status=presence.HIDDEN, last_seen=None, user_ids=peers
        )
    )


def presence_privacy_changed(*, user: User) -> None:
    """After `user` turns hiding presence on or off: they and everyone sharing a chat with
    them hear what they may now see of each other."""
    peers = list(User.objects.filter(memberships__chat__memberships__user=user).exclude(pk=user.pk))
    _after_commit(lambda: _presence_resend(user, peers))


def _presence_resend(user: User, peers: list[User]) -> None:
    """Tell `user` and each of `peers` what they may now see of the other."""
    user.refresh_from_db(fields=["hide_presence", "last_seen"])
    blocked = rules.blocked_peers(user_id=user.pk, peer_ids=[p.pk for p in peers])
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
    adapt = connection.ops.adapt_datetimefield_value
    pairs = [(user_id, adapt(at)) for user_id, (_status, at) in latest.items()]
    with transaction.atomic():
        with connection.cursor() as cursor:
            # One statement per LAST_SEEN_CHUNK users, where one per user (executemany) was
            # a tenth of a connect storm's announcing.
            for start in range(0, len(pairs), LAST_SEEN_CHUNK):
                chunk = pairs[start : start + LAST_SEEN_CHUNK]
                cursor.execute(_last_seen_sql(len(chunk)), [x for pair in chunk for x in pair])
        users = selectors.users_for_presence(user_ids=list(latest))
        audiences = selectors.presence_audiences(users=users)
        announce = [
            (user, *latest[user.pk], audiences[user.pk]) for user in users if audiences[user.pk]
        ]
        _after_commit(lambda: _announce_presences(announce))


def _announce_presences(
    announce: list[tuple[selectors.PresenceSubject, str, datetime, list[int]]],
) -> None:
    for user, status, at, audience in announce:
        events.presence(subject=user, status=status, last_seen=at, user_ids=audience)


LAST_SEEN_CHUNK = 1000


def _last_seen_sql(count: int) -> str:
    """Each (user id, time) of `count` sets that user's last_seen; a deleted account's
    sockets close after its deletion: its last_seen stays erased. VALUES columns are
    column1.. on both PostgreSQL and SQLite (as in `chats_mark_delivered`)."""
    table = User._meta.db_table
    values = ", ".join(["(%s, %s)"] * count)
    return (
        f"UPDATE {table} SET last_seen = v.column2 FROM (VALUES {values}) AS v "
        f"WHERE {table}.id = v.column1 AND {table}.deleted_at IS NULL"
    )


def _after_commit(announce: Callable[[], None]) -> None:
    """Announce once committed. Robust: the change is already stored, so a failing
    announcement is logged and never reported to the caller as a failed write (clients
    converge by sync)."""
    transaction.on_commit(announce, robust=True)
