"""Every write to accounts goes through here."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import User
from push import services as push_services


class UsernameTaken(Exception):
    """Another account holds this username (case-insensitively)."""


def user_create(*, username: str, password: str) -> User:
    try:
        with transaction.atomic():
            return User.objects.create_user(username=username, password=password)
    except IntegrityError:
        raise UsernameTaken(username) from None


def user_change_username(*, user: User, username: str) -> User:
    user.username = username
    try:
        with transaction.atomic():
            user.save(update_fields=["username"])
    except IntegrityError:
        user.refresh_from_db(fields=["username"])
        raise UsernameTaken(username) from None
    return user


def user_change_password(*, user: User, password: str) -> User:
    """Set a new password; sessions made with the old one stop being valid."""
    user.set_password(password)
    return user_save_password(user=user)


def user_save_password(*, user: User) -> User:
    """Store the password just set on `user` (usable or not): the sessions made with the
    old one stop being valid, and their sockets close."""
    from chats import events

    with transaction.atomic():
        user.save(update_fields=["password"])
        push_services.subscriptions_remove_all(user=user)
        transaction.on_commit(lambda: events.user_sessions_changed(user_id=user.pk))
    return user


def user_update_privacy(*, user: User, hide_presence: bool, send_read_receipts: bool) -> User:
    from chats import services as chat_services

    with transaction.atomic():
        # Compared with the stored value: a ModelForm may already have set it on `user`.
        stored = User.objects.filter(pk=user.pk).values_list("hide_presence", flat=True).get()
        presence_changed = stored != hide_presence
        user.hide_presence = hide_presence
        user.send_read_receipts = send_read_receipts
        user.save(update_fields=["hide_presence", "send_read_receipts"])
        if presence_changed:
            chat_services.presence_privacy_changed(user=user)
    return user


def user_set_toast_sound(*, user: User, toast_sound: bool) -> User:
    user.toast_sound = toast_sound
    user.save(update_fields=["toast_sound"])
    return user


def session_ended(*, user_id: int, session_key: str) -> None:
    """A session of the user is gone, whichever way (accounts.receivers): its sockets
    close at once."""
    from chats import events

    transaction.on_commit(lambda: events.session_ended(user_id=user_id, session_key=session_key))
