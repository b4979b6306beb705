"""Every write to chats and messages. Broadcasts leave through events.py after commit."""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from chats import events, selectors
from chats.models import Chat, Membership, Message
from chats.validation import Refused, clean_body, clean_client_id
from chatsite import ratelimit


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
        chat = selectors.chat_get_for_member(user_id=sender.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such chat.") from None
    existing = selectors.message_get_by_client_id(sender_id=sender.pk, client_id=client_id)
    if existing is not None:
        return existing, False
    peer = selectors.peer_of(chat, sender.pk)
    if selectors.is_blocked(blocker_id=peer.pk, blocked_id=sender.pk):
        raise Refused("blocked", "You cannot send messages to this user.")
    now = timezone.now()
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {Chat._meta.db_table} SET last_seq = last_seq + 1, "
                    "last_message_at = %s WHERE id = %s RETURNING last_seq",
                    [now, chat.pk],
                )
                (seq,) = cursor.fetchone()
            message = Message.objects.create(
                chat_id=chat.pk,
                seq=seq,
                sender=sender,
                body=body,
                client_id=client_id,
                created_at=now,
            )
            # Replying means the sender has read everything before their message.
            Membership.objects.filter(chat_id=chat.pk, user_id=sender.pk, read_seq__lt=seq).update(
                read_seq=seq
            )
            member_ids = [chat.user_low_id, chat.user_high_id]
            transaction.on_commit(
                lambda: events.message_created(message=message, member_ids=member_ids)
            )
    except IntegrityError:
        # A concurrent resend with the same client_id won the race.
        existing = selectors.message_get_by_client_id(sender_id=sender.pk, client_id=client_id)
        if existing is None:
            raise
        return existing, False
    return message, True


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
            transaction.on_commit(
                lambda: events.chat_read(chat_id=chat.pk, reader=user, peer_id=peer.pk, seq=seq)
            )
    return selectors.membership_get(user_id=user.pk, chat_id=chat.pk).read_seq


def chat_mark_delivered(*, user: User, chat_id: int, seq: int) -> bool:
    """Record that the user's client has received up to `seq`; True when the pointer moved."""
    with transaction.atomic():
        moved = Membership.objects.filter(
            chat_id=chat_id, user_id=user.pk, delivered_seq__lt=seq
        ).update(delivered_seq=seq)
        if moved:
            chat = Chat.objects.get(pk=chat_id)
            peer_id = chat.user_high_id if chat.user_low_id == user.pk else chat.user_low_id
            transaction.on_commit(
                lambda: events.chat_delivered(chat_id=chat_id, user=user, peer_id=peer_id, seq=seq)
            )
    return bool(moved)


def chat_typing(*, user: User, chat_id: int) -> None:
    """Tell the other member that `user` is typing (nothing is stored; extra hints dropped)."""
    try:
        chat = selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such chat.") from None
    if not ratelimit.hit(f"typing:{user.pk}:{chat.pk}", limit=2, window=2):
        return
    peer = selectors.peer_of(chat, user.pk)
    if selectors.is_blocked(blocker_id=peer.pk, blocked_id=user.pk):
        return
    events.typing(chat_id=chat.pk, user=user, peer_id=peer.pk)
