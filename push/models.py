from __future__ import annotations

from django.conf import settings
from django.db import models


class PushSubscription(models.Model):
    """One browser's Push API subscription: where to POST, and the keys to encrypt for it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=1000)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    # The session that subscribed: logging that browser out removes its subscription.
    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint"], name="push_subscription_endpoint_once")
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"push {self.pk} of {self.user_id}"


class ChatMute(models.Model):
    """A member muted a chat: no push, toast or sound for it (the unread count still counts)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    chat = models.ForeignKey("chats.Chat", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "chat"], name="push_mute_once")]

    def __str__(self) -> str:
        return f"{self.user_id} muted {self.chat_id}"
