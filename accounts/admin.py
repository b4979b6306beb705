from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "is_active", "is_staff", "date_joined", "last_seen")
    list_filter = ("is_active", "is_staff", "date_joined")
    search_fields = ("username",)
    fieldsets = (
        *DjangoUserAdmin.fieldsets,  # type: ignore[misc]
        ("Chat", {"fields": ("last_seen", "hide_presence", "send_read_receipts")}),
    )
