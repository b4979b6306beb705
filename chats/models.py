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
    # The chat's change cursor: every change to its messages takes the next one
    # (chats/rules.py, `versions_take`), and the changed row records it.
    version = models.PositiveIntegerField(default=0, db_default=0)
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
    # The chat's version of this message's latest change (its creation, a removal...).
    version = models.PositiveIntegerField(default=0, db_default=0)
    edited_at = models.DateTimeField(null=True, blank=True)
    # Deleted for everyone by its author: the body (and its edit history) is erased.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The message this one answers, always in the same chat (chats/message_changes.py).
    reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["chat", "version"], name="chats_message_version")]
        constraints = [
            models.UniqueConstraint(fields=["chat", "seq"], name="chats_message_seq_unique"),
            models.UniqueConstraint(
                fields=["sender", "client_id"], name="chats_message_client_id_unique"
            ),
            models.CheckConstraint(condition=Q(seq__gte=1), name="chats_message_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.chat_id}#{self.seq}"


class MessageEdit(models.Model):
    """A text a message had before an edit, kept for moderators (erased with the message)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="edits")
    body = models.TextField()
    # When this text was replaced.
    replaced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["message", "id"]

    def __str__(self) -> str:
        return f"Edit {self.pk} of {self.message_id}"


class Reaction(models.Model):
    """One user's emoji on a message: at most one of each emoji per user and message."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["message", "user", "emoji"], name="chats_reaction_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


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


class Report(models.Model):
    """A member's report of the other member's message; one per (message, reporter)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    class Resolution(models.TextChoices):
        NONE = "", "—"
        MESSAGE_REMOVED = "message_removed", "Message removed"
        SENDER_DEACTIVATED = "sender_deactivated", "Sender deactivated"
        DISMISSED = "dismissed", "Dismissed"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_made"
    )
    reason = models.CharField(max_length=500, blank=True)
    # The text as reported: the author may edit or delete the message afterwards.
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolution = models.CharField(
        max_length=20, choices=Resolution.choices, default=Resolution.NONE, blank=True
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "reporter"], name="chats_report_once"),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True)
                | (~Q(status="open") & Q(resolved_at__isnull=False)),
                name="chats_report_resolved_at_iff_closed",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="chats_report_queue")]

    def __str__(self) -> str:
        return f"Report {self.pk} on {self.message_id}"


class ModerationLog(models.Model):
    """An audit record of one moderation action; written by chats.moderation only."""

    class Action(models.TextChoices):
        MESSAGE_REMOVED = "message_removed", "Message removed"
        USER_DEACTIVATED = "user_deactivated", "User deactivated"
        USER_REACTIVATED = "user_reactivated", "User reactivated"
        REPORT_DISMISSED = "report_dismissed", "Report dismissed"
        REPORT_RESOLVED = "report_resolved", "Report resolved (action already taken)"
        # By the account's owner (no moderator): the former username, kept for moderators.
        ACCOUNT_DELETED = "account_deleted", "Account deleted by its owner"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Null only once the moderator's own account has been deleted.
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    report = models.ForeignKey(
        Report, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.created_at:%Y-%m-%d %H:%M})"
