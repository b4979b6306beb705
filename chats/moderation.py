"""Moderation: every write behind user reports and the admin's moderation actions.

Each moderator action runs in one transaction with its ModerationLog row, and its live effect
(a removed message, a closed socket) leaves through events.py after commit. Permission to
moderate is checked by the admin; the rules here hold whoever calls.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from chats import events, rules, selectors
from chats.models import Chat, Message, ModerationLog, Report
from chats.validation import Refused, clean_seq
from chatsite import ratelimit

MAX_REASON = 500
REPORT_RATE: tuple[int, int] = getattr(settings, "REPORT_RATE", (20, 3600))


def clean_reason(reason: Any, *, required: bool) -> str:
    """A reason stripped of surrounding whitespace, at most MAX_REASON characters."""
    if reason is None:
        reason = ""
    if not isinstance(reason, str):
        raise Refused("invalid", "The reason must be text.")
    reason = reason.strip()
    if required and not reason:
        raise Refused("empty", "Give a reason.")
    if len(reason) > MAX_REASON:
        raise Refused("too_long", f"A reason is at most {MAX_REASON} characters.")
    if "\x00" in reason:
        raise Refused("invalid", "The reason must not contain NUL characters.")
    return reason


def account_deleted_log(*, user: User, former_username: str) -> None:
    """An account was deleted by its owner: the audit log keeps which tombstone had which
    name (its reports and removed messages stay readable to moderators), nothing else."""
    ModerationLog.objects.create(
        moderator=None,
        action=ModerationLog.Action.ACCOUNT_DELETED,
        target_user=user,
        reason=f"Former username: {former_username}",
    )


# Reports, by members.


def report_create(*, reporter: User, chat_id: int, seq: Any, reason: Any = "") -> Report:
    """Report the other member's message `seq` in `chat_id`, once per message and reporter."""
    reason = clean_reason(reason, required=False)
    seq = clean_seq(seq, "seq")
    try:
        chat = selectors.chat_get_for_member(user_id=reporter.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such message.") from None
    message = Message.objects.filter(chat_id=chat.pk, seq=seq).first()
    if message is None:
        raise Refused("not_found", "No such message.")
    if message.sender_id == reporter.pk:
        raise Refused("invalid", "You cannot report your own messages.")
    if message.removed_at is not None:
        raise Refused("invalid", "A moderator has already removed this message.")
    if message.deleted_at is not None:
        raise Refused("gone", "This message was deleted.")
    if Report.objects.filter(message=message, reporter=reporter).exists():
        raise Refused("duplicate", "You have already reported this message.")
    limit, window = REPORT_RATE
    if not ratelimit.hit(f"report:{reporter.pk}", limit=limit, window=window):
        raise Refused("rate_limited", "You have sent many reports; try again later.")
    try:
        with transaction.atomic():
            return Report.objects.create(
                message=message, reporter=reporter, reason=reason, body=message.body
            )
    except IntegrityError:
        # A double-clicked report: the constraint lets only the first one in.
        raise Refused("duplicate", "You have already reported this message.") from None


# Moderator actions.


def _log(*, action: str, moderator: User, **about: Any) -> ModerationLog:
    """The audit record of an action; `about`: target_user_id, message, report, reason."""
    return ModerationLog.objects.create(action=action, moderator=moderator, **about)


def _close_reports(reports: Any, *, status: str, resolution: str, moderator: User, now: Any) -> int:
    return reports.filter(status=Report.Status.OPEN).update(
        status=status, resolution=resolution, resolved_at=now, resolved_by=moderator
    )


# What resolving a report by each action records.
_RESOLUTIONS: dict[str, str] = {
    ModerationLog.Action.MESSAGE_REMOVED: Report.Resolution.MESSAGE_REMOVED,
    ModerationLog.Action.USER_DEACTIVATED: Report.Resolution.SENDER_DEACTIVATED,
}


def _acted(action: str, reports: Any, moderator: User, now: Any, **about: Any) -> None:
    """An action was taken: resolve the open ones of `reports` with it, and log it
    (`about`: what `_log` records)."""
    _close_reports(
        reports,
        status=Report.Status.RESOLVED,
        resolution=_RESOLUTIONS[action],
        moderator=moderator,
        now=now,
    )
    _log(action=action, moderator=moderator, **about)


def message_remove(
    *, message: Message, moderator: User, reason: Any, report: Report | None = None
) -> bool:
    """Soft-delete a message for both members; False when it was already removed.

    The text stays in the row for moderators; members see a placeholder, live and in
    history. Open reports on the message are resolved with it.
    """
    reason = clean_reason(reason, required=True)
    now = timezone.now()
    with transaction.atomic():
        removed = Message.objects.filter(pk=message.pk, removed_at__isnull=True).update(
            removed_at=now, removed_by=moderator, removed_reason=reason
        )
        if not removed:
            _resolve_already_handled(report, moderator, Report.Resolution.MESSAGE_REMOVED, now)
            return False
        reports = Report.objects.filter(message_id=message.pk)
        about = {"target_user_id": message.sender_id, "message": message, "report": report}
        _acted(
            ModerationLog.Action.MESSAGE_REMOVED, reports, moderator, now, reason=reason, **about
        )
        rules.message_version_take(message=message)
        message.removed_at, message.removed_by, message.removed_reason = now, moderator, reason
        members = rules.members_of(chat_ids=[message.chat_id])[message.chat_id]
        transaction.on_commit(lambda: _announce_removal(message, members))
    return True


def _announce_removal(message: Message, member_ids: list[int]) -> None:
    events.message_changed(message=message, member_ids=member_ids)
    events.message_removed(message=message, member_ids=member_ids)


def user_deactivate(
    *, user: User, moderator: User, reason: Any = "", report: Report | None = None
) -> bool:
    """Deactivate an account: no log-in, hidden from search, open sockets closed at once.

    False when it was already inactive. Moderators cannot deactivate themselves, and only
    a superuser can deactivate a staff account.
    """
    reason = clean_reason(reason, required=False)
    if user.pk == moderator.pk:
        raise Refused("invalid", "You cannot deactivate your own account.")
    if (user.is_staff or user.is_superuser) and not moderator.is_superuser:
        raise Refused("forbidden", "Only a superuser can deactivate a staff account.")
    now = timezone.now()
    with transaction.atomic():
        changed = User.objects.filter(pk=user.pk, is_active=True).update(is_active=False)
        if not changed:
            _resolve_already_handled(report, moderator, Report.Resolution.SENDER_DEACTIVATED, now)
            user.is_active = False
            return False
        reports = Report.objects.filter(pk=report.pk) if report else Report.objects.none()
        about = {"target_user_id": user.pk, "report": report, "reason": reason}
        _acted(ModerationLog.Action.USER_DEACTIVATED, reports, moderator, now, **about)
        user_id = user.pk
        transaction.on_commit(lambda: events.user_deactivated(user_id=user_id))
    user.is_active = False
    return True


def user_reactivate(*, user: User, moderator: User, reason: Any = "") -> bool:
    """Let a deactivated account log in again; False when it was already active, or
    was deleted by its owner (a tombstone never comes back)."""
    reason = clean_reason(reason, required=False)
    with transaction.atomic():
        changed = User.objects.filter(pk=user.pk, is_active=False, deleted_at=None).update(
            is_active=True
        )
        if changed:
            _log(
                action=ModerationLog.Action.USER_REACTIVATED,
                moderator=moderator,
                target_user_id=user.pk,
                reason=reason,
            )
            user.is_active = True
    return bool(changed)


def report_dismiss(*, report: Report, moderator: User, reason: Any = "") -> bool:
    """Close a report without acting on it; False when it was no longer open."""
    reason = clean_reason(reason, required=False)
    with transaction.atomic():
        return _close_report(
            report,
            moderator,
            Report.Status.DISMISSED,
            Report.Resolution.DISMISSED,
            ModerationLog.Action.REPORT_DISMISSED,
            timezone.now(),
            reason,
        )


def report_remove_message(*, report: Report, moderator: User, reason: Any) -> bool:
    """Remove the reported message (resolving every open report on it)."""
    return message_remove(message=report.message, moderator=moderator, reason=reason, report=report)


def report_deactivate_sender(*, report: Report, moderator: User, reason: Any = "") -> bool:
    """Deactivate the author of the reported message and resolve the report."""
    return user_deactivate(
        user=report.message.sender, moderator=moderator, reason=reason, report=report
    )


def _resolve_already_handled(
    report: Report | None, moderator: User, resolution: str, now: Any
) -> None:
    """Close a report whose action was already taken (by another moderator), and log that."""
    if report is not None:
        _close_report(
            report,
            moderator,
            Report.Status.RESOLVED,
            resolution,
            ModerationLog.Action.REPORT_RESOLVED,
            now,
        )


def _close_report(
    report: Report,
    moderator: User,
    status: str,
    resolution: str,
    action: str,
    now: Any,
    reason: str = "",
) -> bool:
    """Close one report if it is still open, and log that; whether it was."""
    closed = _close_reports(
        Report.objects.filter(pk=report.pk),
        status=status,
        resolution=resolution,
        moderator=moderator,
        now=now,
    )
    if closed:
        _log(
            action=action,
            moderator=moderator,
            target_user_id=report.message.sender_id,
            message=report.message,
            report=report,
            reason=reason,
        )
    return bool(closed)
