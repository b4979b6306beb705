"""Every write to accounts goes through here."""

from __future__ import annotations

import ipaddress
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import selectors, throttling
from accounts.hashers import RecoveryCodeHasher
from accounts.models import (
    DELETED_ACCOUNT_NAME,
    RecoveryCode,
    SessionRecord,
    User,
    UsernameReservation,
    canonical_username,
)
from chats import events, limits, message_changes, moderation
from chats import services as chat_services
from chatsite import presence_store, ratelimit
from chatsite.net import client_ip
from push import mutes as push_mutes
from push import services as push_services

RECOVERY_CODE_COUNT = 10
# Crockford's base32: no i, l, o or u, so a code read aloud or copied by hand survives.
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RECOVERY_CODE_LENGTH = 10  # 50 random bits
_RECOVERY_LOOKALIKES = str.maketrans({"o": "0", "i": "1", "l": "1"})
_recovery_hasher = RecoveryCodeHasher()
# Checked when an account has fewer unused codes (or none, or no account), so every attempt
# costs the same ten hashes and its time tells nothing.
_DUMMY_CODE_HASH = _recovery_hasher.encode("0" * RECOVERY_CODE_LENGTH, "dummysalt0123456")
USER_AGENT_MAX = 500


class UsernameTaken(Exception):
    """Another account holds this username (case-insensitively)."""


class UsernameReserved(UsernameTaken):
    """The username was given up less than USERNAME_RESERVE_DAYS ago by another account."""


def user_create(*, username: str, password: str) -> User:
    try:
        with transaction.atomic():
            if selectors.username_status(username=username) == "reserved":
                raise UsernameReserved(username)
            return User.objects.create_user(username=username, password=password)
    except IntegrityError:
        raise UsernameTaken(username) from None


def user_change_username(*, user: User, username: str) -> User:
    old, user.username = user.username, username
    try:
        with transaction.atomic():
            user.save(update_fields=["username"])
            username_given_up(user=user, old=old, new=username)
            if old != username:
                transaction.on_commit(
                    lambda: events.user_renamed(user_id=user.pk, old=old, new=username)
                )
    except (IntegrityError, UsernameReserved) as error:
        user.refresh_from_db(fields=["username"])
        if isinstance(error, UsernameReserved):
            raise
        raise UsernameTaken(username) from None
    return user


def username_given_up(*, user: User, old: str, new: str | None) -> None:
    """`user` goes from `old` to `new` (None: the account is deleted): `new` must not be
    reserved for another account (UsernameReserved), and is theirs again if it was
    reserved for them; `old` is reserved for them for USERNAME_RESERVE_DAYS. In the
    caller's transaction."""
    if new is not None and canonical_username(old) == canonical_username(new):
        return  # only the case changed: the name stays theirs
    now = timezone.now()
    if new is not None:
        if selectors.username_status(username=new, user_id=user.pk) == "reserved":
            raise UsernameReserved(new)
        UsernameReservation.objects.filter(canonical=canonical_username(new)).delete()
    UsernameReservation.objects.filter(reserved_until__lte=now).delete()  # lapsed ones
    UsernameReservation.objects.update_or_create(
        canonical=canonical_username(old),
        defaults={
            "previous_owner": user,
            "reserved_until": now + timedelta(days=settings.USERNAME_RESERVE_DAYS),
        },
    )


def user_change_password(*, user: User, password: str) -> User:
    """Set a new password; sessions made with the old one stop being valid."""
    user.set_password(password)
    return user_save_password(user=user)


def user_save_password(*, user: User) -> User:
    """Store the password just set on `user` (usable or not): the sessions made with the
    old one stop being valid, and their sockets close."""
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


def user_delete(*, user: User, erase_messages: bool = False) -> None:
    """Delete the account (the edge checked the password, the code and the typed name).

    The row stays as a tombstone, so the other members keep their chats and history, shown
    as sent by "Deleted account" (User.display_name): no username (a freed name outside the
    username pattern, so no one can sign in as it), no password, no profile, no settings.
    Its sessions end (their sockets close with 4401 after commit), and its recovery codes,
    authenticator, session records, push subscriptions and mutes, blocks, receipts and
    lockout records go; its name is reserved for USERNAME_RESERVE_DAYS; with
    `erase_messages` every text it wrote is erased as "delete for everyone" does
    (chats.message_changes.messages_erase_of). Nothing of it stays in Redis: its presence
    and rate-limit counts are dropped after commit. What is kept, and why: docs/privacy.md."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.deleted_at is not None:
            return
        former = user.username
        session_keys = list(
            Session.objects.filter(record__user=user).values_list("session_key", flat=True)
        )
        sessions_end(user=user)  # their SessionRecords cascade with the sessions
        RecoveryCode.objects.filter(user=user).delete()
        TOTPDevice.objects.filter(user=user).delete()
        push_services.subscriptions_remove_all(user=user)
        push_mutes.mutes_remove_all(user=user)
        throttling.attempts_forget(user=user)
        chat_services.account_forget(user=user)
        if erase_messages:
            message_changes.messages_erase_of(user=user)
        username_given_up(user=user, old=former, new=None)
        moderation.account_deleted_log(user=user, former_username=former)
        _tombstone(user)
        # Sockets of sessions without a record (none since records exist) re-check and close.
        transaction.on_commit(lambda: events.user_sessions_changed(user_id=user.pk), robust=True)
        # The peers' open pages show "Deleted account" wherever the old name was.
        transaction.on_commit(
            lambda: events.user_renamed(user_id=user.pk, old=former, new=DELETED_ACCOUNT_NAME),
            robust=True,
        )
        transaction.on_commit(lambda: _forget_outside_database(user.pk, session_keys), robust=True)


def _tombstone(user: User) -> None:
    user.username = f"{DELETED_USERNAME_PREFIX}{user.pk}"
    user.set_unusable_password()
    user.deleted_at = timezone.now()
    user.is_active = user.is_staff = user.is_superuser = False
    user.first_name = user.last_name = user.email = ""
    user.last_login = user.last_seen = None
    user.hide_presence, user.send_read_receipts = True, False
    user.toast_sound = user.notification_previews = False
    user.save()
    user.groups.clear()
    user.user_permissions.clear()


# Outside the username pattern (accounts.models.is_username): no one signs up or in as it.
DELETED_USERNAME_PREFIX = "~deleted-"


def _forget_outside_database(user_id: int, session_keys: list[str]) -> None:
    presence_store.store().forget(user_id)
    ratelimit.forget(limits.user_keys(user_id))
    cache.delete_many([_activity_key(key) for key in session_keys])


def session_ended(*, user_id: int, session_key: str) -> None:
    """A session of the user is gone, whichever way (accounts.receivers): its sockets
    close at once."""
    transaction.on_commit(lambda: events.session_ended(user_id=user_id, session_key=session_key))


class RecoveryFailed(Exception):
    """No such user, a wrong or used code: deliberately one error for all of them."""


def recovery_code_normalize(code: str) -> str:
    """What a typed code means: case, spaces and dashes do not matter; O, I and L read as
    0, 1 and 1."""
    return "".join(code.split()).replace("-", "").lower().translate(_RECOVERY_LOOKALIKES)


def recovery_codes_create(*, user: User) -> list[str]:
    """A new set of codes for the user, shown once; every earlier code stops working."""
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            RecoveryCode(user=user, code_hash=_recovery_hash(code)) for code in codes
        )
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _recovery_hash(code: str) -> str:
    return _recovery_hasher.encode(code, _recovery_hasher.salt())


def recovery_code_use(*, user: User | None, code: str) -> int:
    """Consume one unused code of the user; returns how many are left, or raises
    RecoveryFailed. Every unused code is checked (constant-time, ten hashes whatever the
    input), and the code is taken with a conditional UPDATE, so two attempts racing with the
    same code cannot both succeed."""
    normalized = recovery_code_normalize(code)
    rows = RecoveryCode.objects.filter(user=user, used_at=None).order_by("pk")
    unused = list(rows[:RECOVERY_CODE_COUNT]) if user is not None else []
    hashes = [row.code_hash for row in unused]
    hashes += [_DUMMY_CODE_HASH] * (RECOVERY_CODE_COUNT - len(hashes))
    matched: RecoveryCode | None = None
    for index, encoded in enumerate(hashes):
        if _recovery_hasher.verify(normalized, encoded) and index < len(unused):
            matched = unused[index]
    if matched is None or user is None:
        raise RecoveryFailed
    taken = RecoveryCode.objects.filter(pk=matched.pk, used_at=None).update(used_at=timezone.now())
    if not taken:
        raise RecoveryFailed
    return len(unused) - 1


def user_recover(*, username: str, code: str, password: str) -> int:
    """Set a new password with a recovery code: the code is used up and every session of
    the account ends (its sockets close). Returns how many codes are left."""
    user = User.objects.filter(username__iexact=username, is_active=True).first()
    with transaction.atomic():
        left = recovery_code_use(user=user, code=code)
        assert user is not None  # recovery_code_use raised otherwise
        user.set_password(password)
        user_save_password(user=user)
        sessions_end(user=user)
    return left


def sessions_end(*, user: User, keep: str | None = None, ids: list[int] | None = None) -> int:
    """End the user's sessions (those with these record ids, or all), but `keep` (a session
    key); their sockets close once this commits. The one way sessions are ended here."""
    ended = Session.objects.filter(record__user=user)
    if ids is not None:
        ended = ended.filter(record__id__in=ids)
    if keep is not None:
        ended = ended.exclude(session_key=keep)
    # Each deleted row passes accounts.receivers.session_deleted, which closes exactly that
    # session's sockets after commit (session_ended): nothing more to ring here.
    _, deleted = ended.delete()
    return deleted.get(Session._meta.label, 0)


def session_record_login(*, request: HttpRequest, user: User) -> None:
    """Note who the session just signed in belongs to, from where and with what."""
    session_key = request.session.session_key
    if not session_key or not Session.objects.filter(session_key=session_key).exists():
        return  # a session engine without rows (or a test request without a session)
    now = timezone.now()
    _activity_window_open(session_key)  # just noted here: the next requests need not
    SessionRecord.objects.update_or_create(
        session_id=session_key,
        defaults={
            "user": user,
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
            "ip": _ip_or_none(client_ip(request)),
            "created_at": now,
            "last_active": now,
        },
    )


def session_record_touch(*, session_key: str, ip: str) -> None:
    """Note that the session was used, from `ip`: at most one write per
    SESSION_ACTIVITY_SECONDS (the cache remembers the last one, so a busy session costs one
    cache call per request, not a database write)."""
    if _activity_window_open(session_key):
        SessionRecord.objects.filter(session_id=session_key).update(
            ip=_ip_or_none(ip), last_active=timezone.now()
        )


def _activity_window_open(session_key: str) -> bool:
    """True once per window per session (and starts the next window)."""
    window = settings.SESSION_ACTIVITY_SECONDS
    return bool(cache.add(_activity_key(session_key), 1, timeout=window))


def _activity_key(session_key: str) -> str:
    return f"session-active:{session_key}"


def _ip_or_none(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
