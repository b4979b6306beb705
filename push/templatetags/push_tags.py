from __future__ import annotations

from django import template

from accounts.models import User
from chats.models import Chat
from push import selectors

register = template.Library()


@register.simple_tag
def chat_muted(user: User, chat: Chat) -> bool:
    """Whether `user` muted `chat` (the chat header's Mute/Unmute button)."""
    return selectors.chat_muted(user_id=user.pk, chat_id=chat.pk)


@register.simple_tag
def muted_chat_set(user: User) -> set[int]:
    """The chats `user` muted: read once per request (the page and its chat list both ask)."""
    cached: set[int] | None = user.__dict__.get("_muted_chat_ids")
    if cached is None:
        cached = user.__dict__["_muted_chat_ids"] = selectors.muted_chat_ids(user_id=user.pk)
    return cached


@register.simple_tag
def muted_chats(user: User) -> str:
    """The chats `user` muted, as space-separated ids (`data-muted-chats` on every page: the
    tabs show no toast and play no sound for them)."""
    return " ".join(str(chat_id) for chat_id in sorted(muted_chat_set(user)))
