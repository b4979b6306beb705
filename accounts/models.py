from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

USERNAME_PATTERN = r"^[A-Za-z0-9_.\-]{3,30}$"

_USERNAME = re.compile(USERNAME_PATTERN)


def is_username(value: Any) -> bool:
    """Whether `value` could be a username (the pattern every account's name matches)."""
    return isinstance(value, str) and _USERNAME.fullmatch(value) is not None


def canonical_username(username: str) -> str:
    """The form in which usernames are compared: the case-insensitive uniqueness of
    `User.username` (its Lower("username") constraint; names are ASCII)."""
    return username.lower()


# How a deleted account is named wherever a sender or a peer shows.
DELETED_ACCOUNT_NAME = "Deleted account"


username_validator = RegexValidator(
    USERNAME_PATTERN,
    "Usernames are 3 to 30 characters: letters, digits, underscores, dots and hyphens.",
)


class UserManager(DjangoUserManager["User"]):
    def get_by_natural_key(self, username: Any) -> User:
        """Log-in looks usernames up case-insensitively (they are unique that way).

        A name outside the username pattern is no one, without a query: the database folds
        case beyond ASCII (PostgreSQL's UPPER() of the dotless i, U+0131, is I), so such a
        name could reach an account under a spelling its lockout does not count."""
        if not is_username(username):
            raise self.model.DoesNotExist(f"{username!r} is not a username")
        return self.get(username__iexact=username)


class User(AbstractUser):
    username = models.CharField(
        "username",
        max_length=30,
        unique=True,
        validators=[username_validator],
        help_text="3 to 30 characters: letters, digits, _ . and -",
        error_messages={"unique": "That username is taken."},
    )
    last_seen = models.DateTimeField(null=True, blank=True)
    hide_presence = models.BooleanField(
        default=False, help_text="Hide my online status and last seen (and see nobody's)."
    )
    send_read_receipts = models.BooleanField(
        default=True, help_text="Send read receipts (and see other people's)."
    )
    toast_sound = models.BooleanField(
        default=False, help_text="Play a short sound when a message toast appears."
    )
    notification_previews = models.BooleanField(
        default=True, help_text="Show message text in notifications."
    )
    # Set when the account was deleted: the row stays as a tombstone (its messages keep a
    # sender), named DELETED_ACCOUNT_NAME, with a freed username and no way to sign in.
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()  # type: ignore[misc]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_message="That username is taken.",
            )
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def display_name(self) -> str:
        """The name others see: the username, or DELETED_ACCOUNT_NAME once deleted."""
        return display_name_of(self.username, self.deleted_at)


def display_name_of(username: str, deleted_at: object) -> str:
    """`User.display_name` from the two values a query read (no User built)."""
    return DELETED_ACCOUNT_NAME if deleted_at is not None else username


class UsernameReservation(models.Model):
    """A name given up (by a rename or a deleted account) that no other account may take
    before `reserved_until`; its previous owner may take it back."""

    canonical = models.CharField(max_length=30, unique=True)
    previous_owner = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="username_reservations"
    )
    reserved_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.canonical} reserved until {self.reserved_until:%Y-%m-%d}"


class RecoveryCode(models.Model):
    """One of a user's one-time recovery codes, stored hashed (accounts.hashers)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=200)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "used_at"], name="accounts_recovery_unused")]

    def __str__(self) -> str:
        return f"recovery code {self.pk} of user {self.user_id}"


class SessionRecord(models.Model):
    """Who a session belongs to and where it was used: the sessions page, and ending every
    session of a user without decoding every session row. Goes with its session."""

    # Its own id: the session key is the cookie's secret and never leaves the server.
    session = models.OneToOneField(
        "sessions.Session", on_delete=models.CASCADE, related_name="record"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="session_records")
    user_agent = models.CharField(max_length=500, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField()
    last_active = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "-last_active"], name="accounts_session_user")]

    def __str__(self) -> str:
        return f"session of user {self.user_id}"
