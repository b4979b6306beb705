"""Every read of push subscriptions."""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from push.models import ChatMute, PushSubscription


def subscriptions_of(*, user: User) -> list[PushSubscription]:
    """The user's subscribed browsers, newest first."""
    return list(
        PushSubscription.objects.filter(user=user).order_by("-created_at", "-id")[
            : settings.PUSH_MAX_SUBSCRIPTIONS
        ]
    )


def push_targets(*, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], list[int]]:
    """For (chat, recipient) pairs: the recipient's subscription ids, for the pairs whose
    recipient has any and has not muted the chat. One query, two when anyone has one."""
    by_user: dict[int, list[int]] = {}
    rows = PushSubscription.objects.filter(user_id__in={u for _, u in pairs}).order_by("pk")
    for pk, user_id in rows.values_list("pk", "user_id"):
        by_user.setdefault(user_id, []).append(pk)
    pairs = {(c, u) for c, u in pairs if u in by_user}
    if not pairs:
        return {}
    muted = set(
        ChatMute.objects.filter(
            user_id__in={u for _, u in pairs}, chat_id__in={c for c, _ in pairs}
        ).values_list("chat_id", "user_id")
    )
    return {(c, u): by_user[u] for c, u in pairs if (c, u) not in muted}


def muted_chat_ids(*, user_id: int) -> set[int]:
    return set(ChatMute.objects.filter(user_id=user_id).values_list("chat_id", flat=True))


def chat_muted(*, user_id: int, chat_id: int) -> bool:
    return ChatMute.objects.filter(user_id=user_id, chat_id=chat_id).exists()
