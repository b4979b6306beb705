"""Every write to push subscriptions (muting a chat: `push.mutes`)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from push.models import PushSubscription


class TooManySubscriptions(Exception):
    """The user already has PUSH_MAX_SUBSCRIPTIONS browsers subscribed."""


class SubscriptionNotFound(Exception):
    """No such subscription of this user (a foreign one looks the same)."""


def subscription_save(
    *, user: User, endpoint: str, p256dh: str, auth: str, session_key: str, user_agent: str
) -> tuple[PushSubscription, bool]:
    """Store a browser's subscription (validated at the edge); (subscription, created).

    An endpoint belongs to one browser profile: subscribing it again updates its keys, and
    when another account subscribed it before, it moves to this one.
    """
    fields = {
        "user": user,
        "p256dh": p256dh,
        "auth": auth,
        "session_key": session_key,
        "user_agent": user_agent[:300],
    }
    with transaction.atomic():
        # The user's row orders concurrent subscribes, so the limit holds.
        User.objects.select_for_update().filter(pk=user.pk).exists()
        existing = PushSubscription.objects.select_for_update().filter(endpoint=endpoint).first()
        if existing is not None and existing.user_id == user.pk:
            for name, value in fields.items():
                setattr(existing, name, value)
            existing.save(update_fields=list(fields))
            return existing, False
        if PushSubscription.objects.filter(user=user).count() >= settings.PUSH_MAX_SUBSCRIPTIONS:
            raise TooManySubscriptions
        if existing is not None:
            existing.delete()
        return PushSubscription.objects.create(endpoint=endpoint, **fields), True


def subscription_remove(*, user: User, subscription_id: int) -> None:
    deleted, _ = PushSubscription.objects.filter(user=user, pk=subscription_id).delete()
    if not deleted:
        raise SubscriptionNotFound(subscription_id)


def subscriptions_remove_for_session(*, session_key: str) -> None:
    """A browser logged out: its subscription goes with its session."""
    if session_key:
        PushSubscription.objects.filter(session_key=session_key).delete()


def subscriptions_remove_all(*, user: User) -> None:
    """The password changed: no browser keeps receiving this account's messages."""
    PushSubscription.objects.filter(user=user).delete()


def subscription_gone(*, subscription_id: int) -> None:
    """The push service answered 404/410: the browser unsubscribed or the endpoint expired."""
    PushSubscription.objects.filter(pk=subscription_id).delete()


def notification_previews_set(*, user: User, previews: bool) -> User:
    user.notification_previews = previews
    user.save(update_fields=["notification_previews"])
    return user


def subscription_used(*, subscription_id: int) -> None:
    PushSubscription.objects.filter(pk=subscription_id).update(last_used_at=timezone.now())
