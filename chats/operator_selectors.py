"""Reads behind the operator commands: site statistics and a user's data export."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import User
from chats.models import Block, Chat, Membership, Message, Report
from chats.selectors import iso_utc, peer_of

EXPORT_FORMAT = "chatsite-export/1"


def _iso(value: datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


def site_stats(*, days: int = 7, now: datetime | None = None) -> dict[str, Any]:
    """Counts for the operator: users, activity in the last day, chats, messages per day
    (UTC, the last `days` days, oldest first, zeros included) and open reports."""
    now = now or timezone.now()
    day_ago = now - timedelta(days=1)
    first_day = (now - timedelta(days=days - 1)).date()
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=now.tzinfo)
    sent_recently = Message.objects.filter(sender=OuterRef("pk"), created_at__gte=day_ago)
    active_last_day = User.objects.filter(
        Q(is_active=True)
        & (Q(last_seen__gte=day_ago) | Q(last_login__gte=day_ago) | Exists(sent_recently))
    ).count()
    per_day_rows = (
        Message.objects.filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(count=Count("id"))
        .order_by("day")
    )
    counts: dict[date, int] = {row["day"]: row["count"] for row in per_day_rows}
    dates = [first_day + timedelta(days=i) for i in range(days)]
    per_day = [{"date": d.isoformat(), "messages": counts.get(d, 0)} for d in dates]
    return {
        "generated_at": iso_utc(now),
        "users": User.objects.count(),
        "active_accounts": User.objects.filter(is_active=True).count(),
        "active_last_day": active_last_day,
        "chats": Chat.objects.count(),
        "messages": Message.objects.count(),
        "messages_removed": Message.objects.filter(removed_at__isnull=False).count(),
        "messages_per_day": per_day,
        "open_reports": Report.objects.filter(status=Report.Status.OPEN).count(),
    }


def user_export(*, user: User) -> dict[str, Any]:
    """Everything the user can see of their own data, as JSON-ready values.

    Messages a moderator removed appear without their text, as they do to the user.
    """
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("chat__user_low", "chat__user_high")
        .order_by("chat_id")
    )
    chats: dict[int, dict[str, Any]] = {}
    for membership in memberships:
        chat = membership.chat
        chats[chat.pk] = {
            "id": chat.pk,
            "with": peer_of(chat, user.pk).username,
            "started_at": _iso(chat.created_at),
            "last_seq": chat.last_seq,
            "read_seq": membership.read_seq,
            "messages": [],
        }
    rows = (
        Message.objects.filter(chat_id__in=list(chats))
        .order_by("chat_id", "seq")
        .values_list("chat_id", "seq", "sender__username", "body", "created_at", "removed_at")
    )
    for chat_id, seq, sender, body, created_at, removed_at in rows.iterator(chunk_size=2000):
        removed = removed_at is not None
        chats[chat_id]["messages"].append(
            {
                "seq": seq,
                "sender": sender,
                "body": None if removed else body,
                "sent_at": _iso(created_at),
                "removed_by_moderator": removed,
            }
        )
    blocked = (
        Block.objects.filter(blocker=user)
        .order_by("blocked__username")
        .values_list("blocked__username", flat=True)
    )
    reports = Report.objects.filter(reporter=user).select_related("message").order_by("id")
    return {
        "format": EXPORT_FORMAT,
        "exported_at": iso_utc(timezone.now()),
        "profile": {
            "username": user.username,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": _iso(user.date_joined),
            "last_login": _iso(user.last_login),
            "last_seen": _iso(user.last_seen),
            "is_active": user.is_active,
            "hide_presence": user.hide_presence,
            "send_read_receipts": user.send_read_receipts,
        },
        "chats": list(chats.values()),
        "blocked_users": list(blocked),
        "reports": [
            {
                "chat": report.message.chat_id,
                "seq": report.message.seq,
                "reason": report.reason,
                "reported_at": _iso(report.created_at),
                "status": report.status,
            }
            for report in reports
        ],
    }
