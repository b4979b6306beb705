"""Every write to chats and messages. Broadcasts leave through events.py after commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import User
from chats import events, limits, presence, selectors
from chats.models import Block, Chat, Membership, Message
from chats.validation import Refused, clean_body, clean_client_id


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


def message_send(*, sender: User, chat_id: int, client_id: str, body: str) -> tuple[Message, bool]:
    """Store a message once per (sender, client_id); returns it and whether it is new.

    The seq is taken by an UPDATE ... RETURNING on the chat row, which holds the row lock
    until commit, so seqs are gapless and in commit order.
    """
    client_id = clean_client_id(client_id)
    body = clean_body(body)
    try:
        target = selectors.send_target(user_id=sender.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such chat.") from None
    if target.blocked:
        # A resend of a message stored before the block still gets its ack.
        existing = _resent(sender=sender, chat_id=target.chat_id, client_id=client_id)
        if existing is not None:
            return existing, False
        if selectors.is_blocked(blocker_id=sender.pk, blocked_id=target.peer_id):
            raise Refused("blocked", "You blocked this user; unblock them to send messages.")
        raise Refused("blocked", "You cannot send messages to this user.")
    now = timezone.now()
    try:
        # No look-up for a resend first: the (sender, client_id) constraint catches it, and
        # the rollback returns the seq it took, so resends cost a statement and fresh sends
        # (nearly all of them) none.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {Chat._meta.db_table} SET last_seq = last_seq + 1, "
                    "last_message_at = %s WHERE id = %s RETURNING last_seq",
                    [now, target.chat_id],
                )
                (seq,) = cursor.fetchone()
            message = Message.objects.create(
                chat_id=target.chat_id,
                seq=seq,
                sender=sender,
                body=body,
                client_id=client_id,
                created_at=now,
            )
            # Replying means the sender has read (and so received) everything before it.
            Membership.objects.filter(chat_id=target.chat_id, user_id=sender.pk).update(
                read_seq=Greatest("read_seq", seq), delivered_seq=Greatest("delivered_seq", seq)
            )
            member_ids = [sender.pk, target.peer_id]
            _after_commit(lambda: events.message_created(message=message, member_ids=member_ids))
    except IntegrityError:
        existing = _resent(sender=sender, chat_id=target.chat_id, client_id=client_id)
        if existing is None:
            raise
        return existing, False
    return message, True


def message_send_batch(
    *, sender: User, items: list[tuple[int, str, str]], check: Callable[[], None] | None = None
) -> list[Message | Refused]:
    """Store several (chat_id, client_id, body) sends of one sender, in order, in one
    transaction: one commit (one WAL flush) for the lot. Each item succeeds or is refused on
    its own (a savepoint each); `check` runs before each one (the rate limit)."""
    results: list[Message | Refused] = []
    with transaction.atomic():
        for chat_id, client_id, body in items:
            try:
                if check is not None:
                    check()
                with transaction.atomic():
                    message, _created = message_send(
                        sender=sender, chat_id=chat_id, client_id=client_id, body=body
                    )
                results.append(message)
            except Refused as refused:
                results.append(refused)
    return results


def _resent(*, sender: User, chat_id: int, client_id: str) -> Message | None:
    """The message already stored for this client_id, if any (a resend)."""
    existing = selectors.message_get_by_client_id(sender_id=sender.pk, client_id=client_id)
    if existing is not None and existing.chat_id != chat_id:
        raise Refused("invalid", "This client_id was already used for a message in another chat.")
    return existing


def chat_mark_read(*, user: User, chat_id: int, seq: int) -> int:
    """Move the reader's read pointer forward to `seq` (clamped to the chat); never back."""
    try:
        chat = selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such chat.") from None
    seq = min(seq, chat.last_seq)
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


def chat_mark_delivered(*, user: User, chat_id: int, seq: int, peer_id: int | None = None) -> bool:
    """Record that the user's client has received up to `seq`; True when the pointer moved.
    Callers that know the other member (from a live event) pass `peer_id` to save a read."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # A pointer lost in a crash is simply recorded again by the next delivery:
            # not worth waiting for the WAL flush.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        moved = Membership.objects.filter(
            chat_id=chat_id, user_id=user.pk, delivered_seq__lt=seq
        ).update(delivered_seq=seq)
        if moved:
            if peer_id is None:
                chat = Chat.objects.only("user_low_id", "user_high_id").get(pk=chat_id)
                peer_id = chat.user_high_id if chat.user_low_id == user.pk else chat.user_low_id
            to = peer_id
            _after_commit(
                lambda: events.chat_delivered(chat_id=chat_id, user=user, peer_id=to, seq=seq)
            )
    return bool(moved)


def chat_typing(*, user: User, chat_id: int) -> None:
    """Tell the other member that `user` is typing (nothing is stored).

    Typing is a hint: too frequent ones, and any between users with a block either way,
    are dropped silently.
    """
    try:
        chat = selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such chat.") from None
    peer = selectors.peer_of(chat, user.pk)
    if selectors.blocked_peers(user_id=user.pk, peer_ids=[peer.pk]):
        return
    if not limits.typing_allowed(user_id=user.pk, chat_id=chat.pk):
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


def presence_changed(*, user_id: int, status: str, at: datetime) -> None:
    """Record that a user went online or offline at `at`, and tell whoever may know."""
    with transaction.atomic():
        User.objects.filter(pk=user_id).update(last_seen=at)
        user = User.objects.get(pk=user_id)
        audience = selectors.presence_audience(user=user)
        _after_commit(
            lambda: events.presence(subject=user, status=status, last_seen=at, user_ids=audience)
        )


def _after_commit(announce: Callable[[], None]) -> None:
    """Announce once committed. Robust: the change is already stored, so a failing
    announcement is logged and never reported to the caller as a failed write (clients
    converge by sync)."""
    transaction.on_commit(announce, robust=True)
