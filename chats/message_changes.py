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
from datetime import timedelta

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
        MessageEdit.objects.filter(message_id=message.pk).delete()
        Reaction.objects.filter(message_id=message.pk).delete()
        Message.objects.filter(pk=message.pk).update(body="", deleted_at=now)
        message.body, message.deleted_at = "", now
        return _changed(message, members)


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
