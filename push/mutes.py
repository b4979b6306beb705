"""Muting a chat: the one write, and the doorbell that tells the user's open tabs.

Apart from `push.services` because it rings through `chats.events`, which hands stored
messages to `push.dispatch`: the push worker's modules (`push.sending` uses
`push.services`) must not import the events back.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from chats import events
from push.models import ChatMute


def chat_mute_set(*, user: User, chat_id: int, muted: bool) -> bool:
    """Mute or unmute a chat the user is a member of (checked by the caller); the user's
    tabs stop (or resume) toasts and sounds for it after commit."""
    with transaction.atomic():
        if muted:
            ChatMute.objects.get_or_create(user=user, chat_id=chat_id)
        else:
            ChatMute.objects.filter(user=user, chat_id=chat_id).delete()
        transaction.on_commit(
            lambda: events.chat_muted(user_id=user.pk, chat_id=chat_id, muted=muted), robust=True
        )
    return muted


def mutes_remove_all(*, user: User) -> None:
    """The account is deleted: its mutes go."""
    ChatMute.objects.filter(user=user).delete()
