"""Users in the admin: search, filters, and deactivation that takes effect at once."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.models import User
from chats import moderation
from chats.admin_actions import ask_reason_then, moderator_of
from chats.validation import Refused


class PasswordChangeForm(AdminPasswordChangeForm):
    """The admin's password change, stored by the service: the user's other sessions end
    and their sockets close, as after a change on the site."""

    def save(self, commit: bool = True) -> User:
        user: User = super().save(commit=False)
        return services.user_save_password(user=user) if commit else user


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    change_password_form = PasswordChangeForm
    list_display = ("username", "is_active", "is_staff", "date_joined", "last_seen")
    list_filter = ("is_active", "is_staff", "is_superuser", "date_joined")
    search_fields = ("username",)
    ordering = ("username",)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # counts per filter choice, over millions of users
    actions = ("deactivate_users", "reactivate_users")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,  # type: ignore[misc]
        ("Chat", {"fields": ("last_seen", "hide_presence", "send_read_receipts")}),
    )

    @admin.action(
        description="Deactivate selected users (asks for a reason)", permissions=["change"]
    )
    def deactivate_users(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> HttpResponse | None:
        return ask_reason_then(
            self,
            request,
            queryset,
            title="Deactivate users",
            verb="Deactivate users",
            required=False,
            help_text=(
                "A deactivated user cannot log in, disappears from search, and their open "
                "connections close at once. Their messages stay."
            ),
            run=lambda user, reason: moderation.user_deactivate(
                user=user, moderator=moderator_of(request), reason=reason
            ),
        )

    @admin.action(description="Reactivate selected users", permissions=["change"])
    def reactivate_users(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> HttpResponse | None:
        return ask_reason_then(
            self,
            request,
            queryset,
            title="Reactivate users",
            verb="Reactivate users",
            required=False,
            run=lambda user, reason: moderation.user_reactivate(
                user=user, moderator=moderator_of(request), reason=reason
            ),
        )

    def save_model(self, request: HttpRequest, obj: User, form: Form, change: bool) -> None:
        # Unticking "active" on the form is a deactivation like the action's: the same rules,
        # log entry and socket closing. Save the rest with the old state, then apply it.
        toggled = change and "is_active" in form.changed_data
        wanted = obj.is_active
        if toggled:
            obj.is_active = not wanted
        super().save_model(request, obj, form, change)
        if not toggled:
            return
        try:
            if wanted:
                moderation.user_reactivate(user=obj, moderator=moderator_of(request))
            else:
                moderation.user_deactivate(user=obj, moderator=moderator_of(request))
        except Refused as refused:
            messages.error(request, f"{obj} was not deactivated: {refused.detail}")


# django-otp registers its devices in the admin, whose pages show each user's TOTP secret as
# a QR code: a staff member could copy a user's second factor. Users manage their own.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)

_admin_login = admin.site.login


def _admin_login_through_the_site(
    request: HttpRequest, extra_context: dict[str, object] | None = None
) -> HttpResponse:
    """The admin's own login form would sign in with the password alone: a staff member with
    two-factor sign-in goes through the site's login (and its code step) instead."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.GET.get("next") or "/admin/", settings.LOGIN_URL)
    return _admin_login(request, extra_context)


admin.site.login = _admin_login_through_the_site  # type: ignore[method-assign]
