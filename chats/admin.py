"""Moderation in the admin: chats, messages (soft delete with a reason), the reports queue
and the audit log. Every moderator write goes through chats.moderation."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from chats import moderation
from chats.admin_actions import ask_reason_then, moderator_of
from chats.models import Chat, Membership, Message, MessageEdit, ModerationLog, Report

EXCERPT = 80


def excerpt(message: Message) -> str:
    return Truncator(message.body).chars(EXCERPT)


def describe_message(message: Message) -> str:
    return f"{message.sender} in chat {message.chat_id} (#{message.seq}): {excerpt(message)}"


def messages_url(chat_id: int) -> str:
    return f"{reverse('admin:chats_message_changelist')}?chat={chat_id}"


class ReadOnlyMixin:
    """No adding or deleting: moderation is soft and leaves a record."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NoSaveButtonsMixin:
    """Every field is read-only: actions (remove, dismiss...) act, the form never saves."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().changeform_view(  # type: ignore[misc,no-any-return]
            request, object_id, form_url, extra_context
        )


class ChatIdFilter(admin.SimpleListFilter):
    """Filter by chat id with a text box (a list of every chat would not fit)."""

    title = "chat"
    parameter_name = "chat"
    template = "admin/chats/input_filter.html"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("", "")]  # one placeholder choice, so Django shows the filter at all

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit() or not 0 < int(value) < 2**63:
            messages.error(request, f"The chat filter needs a chat id (a number), not {value!r}.")
            return queryset.none()
        return queryset.filter(chat_id=int(value))

    def choices(self, changelist: Any) -> Any:
        yield {
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "clear_url": changelist.get_query_string(remove=[self.parameter_name]),
            "hidden": [
                (key, value)
                for key, value in changelist.params.items()
                if key not in {self.parameter_name, "p"}
            ],
        }


class RemovedFilter(admin.SimpleListFilter):
    title = "moderation"
    parameter_name = "removed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Removed by a moderator"), ("no", "Visible")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(removed_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(removed_at__isnull=True)
        return queryset


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "read_seq", "delivered_seq")
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("user")


@admin.register(Chat)
class ChatAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "members", "message_count", "last_message_at", "created_at")
    list_select_related = ("user_low", "user_high")
    search_fields = ("user_low__username", "user_high__username")
    ordering = ("-last_message_at", "-id")
    fields = ("user_low", "user_high", "message_count", "last_message_at", "created_at")
    readonly_fields = fields
    inlines = (MembershipInline,)
    show_full_result_count = False

    @admin.display(description="members")
    def members(self, chat: Chat) -> str:
        return f"{chat.user_low} ↔ {chat.user_high}"

    # Seqs are gapless and messages are never hard-deleted, so the last seq is the count:
    # no COUNT over the message table per row.
    @admin.display(description="messages", ordering="last_seq")
    def message_count(self, chat: Chat) -> str:
        return format_html('<a href="{}">{}</a>', messages_url(chat.pk), chat.last_seq)


class ReportInline(admin.TabularInline):
    model = Report
    fk_name = "message"
    fields = ("reporter", "body", "reason", "created_at", "status", "resolution", "resolved_by")
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Report]:
        return super().get_queryset(request).select_related("reporter", "resolved_by")


class MessageEditInline(admin.TabularInline):
    """The texts a message had before its author edited it (erased if they delete it)."""

    model = MessageEdit
    verbose_name = "earlier text"
    verbose_name_plural = "Earlier texts (before each edit, oldest first)"
    fields = ("body", "replaced_at")
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0


@admin.register(Message)
class MessageAdmin(ReadOnlyMixin, NoSaveButtonsMixin, admin.ModelAdmin):
    list_display = ("id", "chat_link", "seq", "sender", "text", "created_at", "removed")
    list_select_related = ("sender",)
    list_filter = (RemovedFilter, "created_at", ChatIdFilter)
    search_fields = ("body", "sender__username")
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    # Facet counts are one COUNT per filter choice over the largest table.
    show_facets = admin.ShowFacets.NEVER
    actions = ("remove_messages",)
    fieldsets = (
        (None, {"fields": ("chat_link", "seq", "sender", "created_at", "client_id")}),
        ("Text (moderators only)", {"fields": ("body", "edited_at", "deleted_at")}),
        ("Moderation", {"fields": ("removed_at", "removed_by", "removed_reason")}),
    )
    readonly_fields = (
        "chat_link",
        "seq",
        "sender",
        "created_at",
        "client_id",
        "body",
        "edited_at",
        "deleted_at",
        "removed_at",
        "removed_by",
        "removed_reason",
    )
    inlines = (MessageEditInline, ReportInline)

    @admin.display(description="chat", ordering="chat_id")
    def chat_link(self, message: Message) -> str:
        return format_html('<a href="{}">{}</a>', messages_url(message.chat_id), message.chat_id)

    @admin.display(description="text")
    def text(self, message: Message) -> str:
        return excerpt(message)

    @admin.display(description="removed", boolean=True, ordering="removed_at")
    def removed(self, message: Message) -> bool:
        return message.removed_at is not None

    @admin.action(
        description="Remove selected messages (asks for a reason)", permissions=["change"]
    )
    def remove_messages(
        self, request: HttpRequest, queryset: QuerySet[Message]
    ) -> HttpResponse | None:
        return ask_reason_then(
            self,
            request,
            queryset.select_related("sender"),
            title="Remove messages",
            verb="Remove messages",
            required=True,
            help_text=(
                "Both members will see “Message removed by a moderator” instead of the text, "
                "at once. The text stays visible here, to moderators."
            ),
            describe=describe_message,
            run=lambda message, reason: moderation.message_remove(
                message=message, moderator=moderator_of(request), reason=reason
            ),
        )


class ReportStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), ("closed", "Resolved or dismissed"), ("all", "All")]

    def value(self) -> str:
        """The queue opens on the open reports: the work still to do."""
        return super().value() or "open"

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "open":
            return queryset.filter(status=Report.Status.OPEN)
        if self.value() == "closed":
            return queryset.exclude(status=Report.Status.OPEN)
        return queryset


@admin.register(Report)
class ReportAdmin(ReadOnlyMixin, NoSaveButtonsMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "status",
        "reporter",
        "sender",
        "reported_text",
        "reason",
        "resolution",
        "resolved_by",
    )
    list_select_related = ("reporter", "message__sender", "resolved_by")
    list_filter = (ReportStateFilter, "status", "resolution", "created_at")
    search_fields = ("reporter__username", "message__sender__username", "reason")
    ordering = ("-created_at", "-id")
    actions = ("remove_reported_messages", "deactivate_senders", "dismiss_reports")
    fields = (
        "message_link",
        "sender",
        "reported_text",
        "reporter",
        "reason",
        "created_at",
        "status",
        "resolution",
        "resolved_at",
        "resolved_by",
    )
    readonly_fields = fields

    @admin.display(description="sender", ordering="message__sender__username")
    def sender(self, report: Report) -> str:
        return str(report.message.sender)

    @admin.display(description="reported text (as reported)")
    def reported_text(self, report: Report) -> str:
        message = report.message
        prefix = "[removed] " if message.removed_at else "[deleted] " if message.deleted_at else ""
        return prefix + Truncator(report.body).chars(EXCERPT)

    @admin.display(description="message")
    def message_link(self, report: Report) -> str:
        url = reverse("admin:chats_message_change", args=[report.message_id])
        return format_html('<a href="{}">{}</a>', url, report.message)

    def _describe(self, report: Report) -> str:
        return f"Report {report.pk} by {report.reporter}: {describe_message(report.message)}"

    def _reports(self, queryset: QuerySet[Report]) -> QuerySet[Report]:
        return queryset.select_related("reporter", "message__sender")

    def _lacks(self, request: HttpRequest, perm: str, what: str) -> bool:
        if request.user.has_perm(perm):
            return False
        self.message_user(request, f"You do not have permission to {what}.", messages.ERROR)
        return True

    @admin.action(
        description="Remove the reported messages (asks for a reason)", permissions=["change"]
    )
    def remove_reported_messages(
        self, request: HttpRequest, queryset: QuerySet[Report]
    ) -> HttpResponse | None:
        if self._lacks(request, "chats.change_message", "remove messages"):
            return None
        return ask_reason_then(
            self,
            request,
            self._reports(queryset),
            title="Remove reported messages",
            verb="Remove messages",
            required=True,
            help_text="Removing a message resolves every open report on it.",
            describe=self._describe,
            run=lambda report, reason: moderation.report_remove_message(
                report=report, moderator=moderator_of(request), reason=reason
            ),
        )

    @admin.action(description="Deactivate the senders (asks for a reason)", permissions=["change"])
    def deactivate_senders(
        self, request: HttpRequest, queryset: QuerySet[Report]
    ) -> HttpResponse | None:
        if self._lacks(request, "accounts.change_user", "deactivate users"):
            return None
        return ask_reason_then(
            self,
            request,
            self._reports(queryset),
            title="Deactivate senders",
            verb="Deactivate senders",
            required=False,
            help_text=(
                "A deactivated user cannot log in, disappears from search, and their open "
                "connections close at once."
            ),
            describe=self._describe,
            run=lambda report, reason: moderation.report_deactivate_sender(
                report=report, moderator=moderator_of(request), reason=reason
            ),
        )

    @admin.action(description="Dismiss the reports", permissions=["change"])
    def dismiss_reports(
        self, request: HttpRequest, queryset: QuerySet[Report]
    ) -> HttpResponse | None:
        return ask_reason_then(
            self,
            request,
            self._reports(queryset),
            title="Dismiss reports",
            verb="Dismiss reports",
            required=False,
            describe=self._describe,
            run=lambda report, reason: moderation.report_dismiss(
                report=report, moderator=moderator_of(request), reason=reason
            ),
        )


@admin.register(ModerationLog)
class ModerationLogAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "moderator",
        "action",
        "target_user",
        "message_link",
        "report_link",
        "reason",
    )
    list_select_related = ("moderator", "target_user")
    list_filter = ("action", "created_at")
    search_fields = ("moderator__username", "target_user__username", "reason")
    fields = (
        "created_at",
        "moderator",
        "action",
        "target_user",
        "message_link",
        "report_link",
        "reason",
    )
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="message")
    def message_link(self, entry: ModerationLog) -> str:
        if entry.message_id is None:
            return "—"
        url = reverse("admin:chats_message_change", args=[entry.message_id])
        return format_html('<a href="{}">message {}</a>', url, entry.message_id)

    @admin.display(description="report")
    def report_link(self, entry: ModerationLog) -> str:
        if entry.report_id is None:
            return "—"
        url = reverse("admin:chats_report_change", args=[entry.report_id])
        return format_html('<a href="{}">report {}</a>', url, entry.report_id)
