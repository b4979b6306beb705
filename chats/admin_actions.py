"""Admin actions that ask the moderator for a reason on an intermediate page, then call a
moderation service once per selected object. Shared by the chats and accounts admins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.models import User
from chats.moderation import MAX_REASON
from chats.validation import Refused

MAX_SELECTED = 500


def moderator_of(request: HttpRequest) -> User:
    """The admin only lets staff accounts in, so the request's user is a real User."""
    assert isinstance(request.user, User)
    return request.user


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        strip=True,
    )

    def __init__(self, *args: Any, required: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required
        self.fields["reason"].label = "Reason" if required else "Reason (optional)"


def ask_reason_then(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    title: str,
    verb: str,
    required: bool,
    run: Callable[[Any, str], bool],
    help_text: str = "",
    describe: Callable[[Any], str] = str,
) -> HttpResponse | None:
    """Show the reason form; on a valid submit run `run(obj, reason)` for each object.

    Returns None (back to the change list, with a summary message) once applied.
    """
    count = queryset.count()
    if count > MAX_SELECTED:
        modeladmin.message_user(
            request,
            f"Select at most {MAX_SELECTED} items for {verb.lower()} (you selected {count}).",
            messages.ERROR,
        )
        return None
    if request.POST.get("apply"):
        form = ReasonForm(request.POST, required=required)
        if form.is_valid():
            _apply(modeladmin, request, queryset, verb, form.cleaned_data["reason"], run)
            return None
    else:
        form = ReasonForm(required=required)
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "verb": verb,
        "help_text": help_text,
        "objects": [(obj.pk, describe(obj)) for obj in queryset[:MAX_SELECTED]],
        "form": form,
        "action": request.POST.get("action", ""),
        "opts": opts,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media,
    }
    return TemplateResponse(request, "admin/chats/moderation_reason.html", context)


def _apply(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    verb: str,
    reason: str,
    run: Callable[[Any, str], bool],
) -> None:
    done = unchanged = 0
    for obj in queryset:
        try:
            changed = run(obj, reason)
        except Refused as refused:
            modeladmin.message_user(request, f"{obj}: {refused.detail}", messages.ERROR)
            continue
        if changed:
            done += 1
        else:
            unchanged += 1
    summary = f"{verb}: {done} done"
    if unchanged:
        summary += f", {unchanged} already done before"
    modeladmin.message_user(request, summary + ".", messages.SUCCESS if done else messages.INFO)
