"""Members' changes to sent messages: edit, delete for everyone, react.

Each accepted change takes the chat's next version with `rules.message_version_take` (the
step a moderator's removal takes too, chats/moderation.py) inside its transaction, and is
announced after commit as the message's full current state to both members
(`events.message_changed`). A refused change raises Refused and writes nothing; a change
that changes nothing (the same text, a reaction already there) takes no version and is
not announced. Input is validated and the send rate counted at the edges (chats/validation.py,
chats/limits.py: the API and the socket, as for a send); the rules are here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from chats import events, rules, selectors
from chats.models import Chat, Message, MessageEdit, Reaction
from chats.validation import Refused

MAX_REACTIONS = 20  # distinct emoji on one message


@dataclass(frozen=True)
class Change:
    """The message after an action, and whether the action changed it."""

    message: Message
    changed: bool


def message_edit(*, user: User, chat_id: int, seq: int, body: str) -> Change:
    """Replace the text of the author's own message (within MESSAGE_EDIT_WINDOW); the
    previous text is kept in MessageEdit for moderators. `body` is clean (clean_body)."""
    with transaction.atomic():
        message, members = _access(user=user, chat_id=chat_id, seq=seq)
        _check_author(user, message)
        window = settings.MESSAGE_EDIT_WINDOW
        if window and timezone.now() - message.created_at > timedelta(seconds=window):
            raise Refused("forbidden", "This message can no longer be edited.")
        if body == message.body:
            return Change(message, False)
        _check_allowed(user, members)
        now = timezone.now()
        MessageEdit.objects.create(message=message, body=message.body, replaced_at=now)
        Message.objects.filter(pk=message.pk).update(body=body, edited_at=now)
        message.body, message.edited_at = body, now
        return _changed(message, members)


def message_delete(*, user: User, chat_id: int, seq: int) -> Change:
    """Delete the author's own message for both members: its text, earlier texts and
    reactions are erased; it keeps its place (seq) as a deleted message. Reports keep their
    own copy of the text they reported."""
    with transaction.atomic():
        message, members = _access(user=user, chat_id=chat_id, seq=seq)
        _check_author(user, message)
        _check_allowed(user, members)
        now = timezone.now()
        Message.objects.filter(pk=message.pk).update(**_erase([message.pk], now))
        message.body, message.deleted_at = "", now
        return _changed(message, members)


def _erase(message_ids: list[int], now: datetime) -> dict[str, Any]:
    """The delete rule: the messages' earlier texts and reactions go; returns what their
    rows become (no text, deleted at `now`), for the caller to write with their versions."""
    MessageEdit.objects.filter(message_id__in=message_ids).delete()
    Reaction.objects.filter(message_id__in=message_ids).delete()
    return {"body": "", "deleted_at": now}


ERASE_CHUNK = 500  # rows per statement (SQLite's parameter limit, PostgreSQL's plan size)


def messages_erase_of(*, user: User) -> int:
    """Delete for everyone every message `user` wrote that members still see, and take
    their reactions off other messages (their account is being deleted, with "also delete
    everything I wrote"): the rule of `message_delete`, each changed message taking its
    chat's next version in seq order. After commit each chat's other member hears of its
    last change, and their sockets fill the versions before it from the database
    (chats/realtime/delivery.py), as a client syncs. Returns how many messages were erased.
    Reports keep their own copy of what they reported (moderators need it)."""
    now = timezone.now()
    own = Message.objects.filter(rules.shown_q(), sender=user)
    changed: dict[int, list[tuple[int, int]]] = {}  # chat -> (seq, id), own or reacted to
    erased: set[int] = set()
    for pk, chat_id, seq in own.values_list("pk", "chat_id", "seq").iterator():
        changed.setdefault(chat_id, []).append((seq, pk))
        erased.add(pk)
    reacted = Message.objects.filter(reactions__user=user).exclude(pk__in=own.values("pk"))
    for pk, chat_id, seq in reacted.values_list("pk", "chat_id", "seq").distinct():
        changed.setdefault(chat_id, []).append((seq, pk))
    Reaction.objects.filter(user=user).delete()
    members = rules.members_of(chat_ids=changed)
    last: list[tuple[Message, list[int]]] = []
    for chat_id in sorted(changed):  # chat rows are locked in id order, as sends lock them
        rows = sorted(changed[chat_id])
        top = rules.versions_take(chat_id=chat_id, count=len(rows))
        first = top - len(rows) + 1
        for start in range(0, len(rows), ERASE_CHUNK):
            chunk = list(enumerate(rows[start : start + ERASE_CHUNK], start=first + start))
            ids = [pk for _version, (_seq, pk) in chunk if pk in erased]
            fields = _erase(ids, now) if ids else {}
            rules.versions_write([(pk, v) for v, (_s, pk) in chunk if pk in erased], fields)
            # Messages that only lost the user's reaction.
            rules.versions_write([(pk, v) for v, (_s, pk) in chunk if pk not in erased], {})
        seq, _pk = rows[-1]
        peers = [m for m in members.get(chat_id, []) if m != user.pk]
        last.append((Message(chat_id=chat_id, seq=seq, version=top), peers))

    def announce() -> None:
        for message, peers in last:
            events.message_changed(message=message, member_ids=peers)

    transaction.on_commit(announce, robust=True)
    return len(erased)


def message_react(*, user: User, chat_id: int, seq: int, emoji: str, on: bool) -> Change:
    """Put the user's `emoji` (clean_emoji) on a message, or take it off: one of each emoji
    per user and message, at most MAX_REACTIONS distinct emoji per message."""
    with transaction.atomic():
        message, members = _access(user=user, chat_id=chat_id, seq=seq)
        mine = Reaction.objects.filter(message_id=message.pk, user_id=user.pk, emoji=emoji)
        if on == mine.exists():
            return Change(message, False)
        _check_allowed(user, members)
        if on:
            present = set(
                Reaction.objects.filter(message_id=message.pk).values_list("emoji", flat=True)
            )
            if emoji not in present and len(present) >= MAX_REACTIONS:
                raise Refused("invalid", f"A message takes at most {MAX_REACTIONS} emoji.")
            Reaction.objects.create(message_id=message.pk, user_id=user.pk, emoji=emoji)
        else:
            mine.delete()
        return _changed(message, members)


def _access(*, user: User, chat_id: int, seq: int) -> tuple[Message, list[int]]:
    """Message `seq` of a chat of `user`'s, locked until commit (concurrent changes to it
    queue), and the chat's members; not_found for anything else, gone once deleted or
    removed."""
    try:
        chat = selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such message.") from None
    message = Message.objects.select_for_update().filter(chat_id=chat.pk, seq=seq).first()
    if message is None:
        raise Refused("not_found", "No such message.")
    if message.deleted_at is not None or message.removed_at is not None:
        raise Refused("gone", "This message was deleted.")
    return message, rules.members_of(chat_ids=[chat.pk]).get(chat.pk, [])


def _check_author(user: User, message: Message) -> None:
    if message.sender_id != user.pk:
        raise Refused("forbidden", "Only its author can change this message.")


def _check_allowed(user: User, members: list[int]) -> None:
    """Blocks, as for a send (the rate limit is the edges', as for a send)."""
    if rules.blocked_peers(user_id=user.pk, peer_ids=[m for m in members if m != user.pk]):
        raise Refused("blocked", "You cannot change messages in a chat with a blocked user.")


def _changed(message: Message, members: list[int]) -> Change:
    rules.message_version_take(message=message)
    transaction.on_commit(
        lambda: events.message_changed(message=message, member_ids=members), robust=True
    )
    return Change(message, True)
