from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Chat(models.Model):
    """A direct chat between two distinct users, stored once per unordered pair."""

    # The pair is stored ordered (user_low.pk < user_high.pk) so A->B and B->A are one row.
    user_low = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    user_high = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    last_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user_low", "user_high"], name="chats_chat_one_per_pair"
            ),
            models.CheckConstraint(
                condition=Q(user_low__lt=F("user_high")), name="chats_chat_pair_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"Chat {self.pk}"

    def get_absolute_url(self) -> str:
        return f"/chats/{self.pk}/"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="memberships")
    read_seq = models.PositiveIntegerField(default=0)
    delivered_seq = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "chat"], name="chats_membership_once"),
            models.CheckConstraint(
                condition=Q(read_seq__gte=0) & Q(delivered_seq__gte=0),
                name="chats_membership_pointers_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.chat_id}"


class Message(models.Model):
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sent_messages"
    )
    body = models.TextField()
    client_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    removed_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chat", "seq"], name="chats_message_seq_unique"),
            models.UniqueConstraint(
                fields=["sender", "client_id"], name="chats_message_client_id_unique"
            ),
            models.CheckConstraint(condition=Q(seq__gte=1), name="chats_message_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.chat_id}#{self.seq}"


class Block(models.Model):
    """`blocker` refuses messages, typing and presence from `blocked`."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_made"
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_received"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="chats_block_once"),
            models.CheckConstraint(condition=~Q(blocker=F("blocked")), name="chats_block_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"
