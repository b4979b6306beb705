"""Every read of push subscriptions."""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from push.models import PushSubscription


def subscriptions_of(*, user: User) -> list[PushSubscription]:
    """The user's subscribed browsers, newest first."""
    return list(
        PushSubscription.objects.filter(user=user).order_by("-created_at", "-id")[
            : settings.PUSH_MAX_SUBSCRIPTIONS
        ]
    )


def push_targets(*, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], list[int]]:
    """For (chat, recipient) pairs: the recipient's subscription ids, for the pairs whose
    recipient has any. One query."""
    by_user: dict[int, list[int]] = {}
    rows = PushSubscription.objects.filter(user_id__in={u for _, u in pairs}).order_by("pk")
    for pk, user_id in rows.values_list("pk", "user_id"):
        by_user.setdefault(user_id, []).append(pk)
    return {(c, u): by_user[u] for c, u in pairs if u in by_user}
