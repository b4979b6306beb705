"""Bulk seeding for benchmarks: COPY on PostgreSQL, executemany on SQLite.

Rows are given as tuples for a few columns; every other column gets its model default,
prepared once, so new fields with defaults need no change here. All users share one
precomputed password hash, and sessions are encoded by Django's session engine.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

from accounts.models import SessionRecord, User
from chats.models import Block, Chat, Membership, Message

PASSWORD = "bench-password-Zq8"
BATCH = 20_000


def _default(field: models.Field[Any, Any], now: datetime) -> Any:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    return field.get_default()


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Insert rows given for `columns` (attnames); other columns take their defaults."""
    now = timezone.now()
    fields = {f.attname: f for f in model._meta.concrete_fields}
    rest = [name for name in fields if name not in columns]
    tail = tuple(
        fields[name].get_db_prep_save(_default(fields[name], now), connection) for name in rest
    )
    table = model._meta.db_table
    names = [fields[c].column for c in columns] + [fields[c].column for c in rest]
    count = 0
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            quoted = ", ".join(connection.ops.quote_name(n) for n in names)
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + tail)
                    count += 1
        else:
            quoted = ", ".join(connection.ops.quote_name(n) for n in names)
            marks = ", ".join("?" for _ in names)
            statement = f"INSERT INTO {table} ({quoted}) VALUES ({marks})"
            batch: list[tuple] = []
            raw = cursor.cursor
            for row in rows:
                batch.append(tuple(_sqlite_value(v) for v in row) + tail)
                if len(batch) >= BATCH:
                    raw.executemany(statement, batch)
                    count += len(batch)
                    batch = []
            if batch:
                raw.executemany(statement, batch)
                count += len(batch)
    return count


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def reset_sequences(*model_list: type[models.Model]) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), list(model_list))
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def settle() -> None:
    """What a database in service has and a freshly loaded one lacks: planner statistics and
    a visibility map (VACUUM ANALYZE, as autovacuum would in time), and the load's dirty
    pages written out (CHECKPOINT), so that neither lands in a measurement. Without it the
    live rows measured the bulk load's aftermath: at B2's load, sends took 4-5 ms instead of
    1.5 to be acked, every statement planned without statistics."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")
        else:
            cursor.execute("ANALYZE")


def next_id(model: type[models.Model]) -> int:
    last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
    return (last or 0) + 1


def random_usernames(count: int, *, seed: int = 8) -> list[str]:
    """Distinct (case-insensitively) usernames of 4-14 characters, like people pick."""
    rng = random.Random(seed)
    first = string.ascii_lowercase
    rest = string.ascii_lowercase + string.digits + "_."
    seen: set[str] = set()
    names: list[str] = []
    while len(names) < count:
        name = rng.choice(first) + "".join(rng.choices(rest, k=rng.randint(3, 13)))
        if rng.random() < 0.2:
            name = name.capitalize()
        if name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    return names


def seed_users(usernames: Sequence[str]) -> list[int]:
    """Users with one shared password hash; returns their ids in order."""
    password = make_password(PASSWORD)
    start = next_id(User)
    now = timezone.now()
    rows = ((start + i, name, password, True, now) for i, name in enumerate(usernames))
    insert_rows(User, ["id", "username", "password", "is_active", "date_joined"], rows)
    reset_sequences(User)
    return list(range(start, start + len(usernames)))


def seed_chats(pairs: Sequence[tuple[int, int]], *, last_seq: int = 0) -> list[int]:
    """One chat (and both memberships) per pair of user ids; returns the chat ids."""
    start = next_id(Chat)
    now = timezone.now()
    ordered = [tuple(sorted(pair)) for pair in pairs]
    stamp = now if last_seq else None
    rows = (
        (start + i, low, high, last_seq, last_seq, now, stamp)
        for i, (low, high) in enumerate(ordered)
    )
    insert_rows(
        Chat,
        [
            "id",
            "user_low_id",
            "user_high_id",
            "last_seq",
            "version",
            "created_at",
            "last_message_at",
        ],
        rows,
    )
    start_m = next_id(Membership)
    members = (
        (start_m + 2 * i + k, user, start + i, last_seq, last_seq)
        for i, pair in enumerate(ordered)
        for k, user in enumerate(pair)
    )
    insert_rows(Membership, ["id", "user_id", "chat_id", "read_seq", "delivered_seq"], members)
    reset_sequences(Chat, Membership)
    return list(range(start, start + len(ordered)))


# Seeded messages have had no change but their creation: version = seq.
MESSAGE_COLUMNS = (
    "id",
    "chat_id",
    "seq",
    "sender_id",
    "body",
    "client_id",
    "created_at",
    "version",
)


def seed_messages(chat_id: int, senders: tuple[int, int], count: int, *, tag: str) -> None:
    """`count` messages in one chat, alternating senders, seq 1..count; updates last_seq."""
    start = next_id(Message)
    base = timezone.now() - timedelta(seconds=count)
    rows = (
        (
            start + i,
            chat_id,
            i + 1,
            senders[i % 2],
            f"Message {i + 1} of a long conversation, with some ordinary text in it.",
            f"{tag}-{i}",
            base + timedelta(seconds=i),
            i + 1,
        )
        for i in range(count)
    )
    insert_rows(Message, [*MESSAGE_COLUMNS], rows)
    Chat.objects.filter(pk=chat_id).update(
        last_seq=count, version=count, last_message_at=base + timedelta(seconds=count)
    )
    Membership.objects.filter(chat_id=chat_id).update(read_seq=count, delivered_seq=count)
    reset_sequences(Message)


def seed_sessions(user_ids: Sequence[int]) -> dict[int, str]:
    """A logged-in session per user, encoded by Django's session engine, with its
    SessionRecord as a login writes it; returns the keys."""
    if not user_ids:
        return {}
    store = SessionStore()
    # Every user has the same password hash, hence the same session auth hash.
    auth_hash = User.objects.get(pk=user_ids[0]).get_session_auth_hash()
    expire = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    backend = settings.AUTHENTICATION_BACKENDS[-1]
    keys: dict[int, str] = {}
    rows = []
    for user_id in user_ids:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {
            SESSION_KEY: str(user_id),
            BACKEND_SESSION_KEY: backend,
            HASH_SESSION_KEY: auth_hash,
        }
        rows.append((key, store.encode(data), expire))
        keys[user_id] = key
    insert_rows(Session, ["session_key", "session_data", "expire_date"], rows)
    # And the record a login writes beside it (accounts.services.session_record_login).
    now, start = timezone.now(), next_id(SessionRecord)
    records = [
        (start + i, key, user_id, "bench", now, now)
        for i, (user_id, key) in enumerate(keys.items())
    ]
    columns = ["id", "session_id", "user_id", "user_agent", "created_at", "last_active"]
    insert_rows(SessionRecord, columns, records)
    reset_sequences(SessionRecord)
    return keys


def seed_many_chats(specs: Sequence[tuple[int, tuple[int, int], int]], *, tag: str) -> None:
    """Messages for many chats at once: (chat_id, (sender_a, sender_b), count) each."""
    start = next_id(Message)
    base = timezone.now() - timedelta(days=1)

    def rows() -> Iterable[tuple]:
        n = 0
        for k, (chat_id, senders, count) in enumerate(specs):
            for i in range(count):
                yield (
                    start + n,
                    chat_id,
                    i + 1,
                    senders[i % 2],
                    f"Message {i + 1} in chat {chat_id}.",
                    f"{tag}-{chat_id}-{i}",
                    base + timedelta(seconds=k * 10 + i),
                    i + 1,
                )
                n += 1

    insert_rows(Message, [*MESSAGE_COLUMNS], rows())
    finish_chats([spec[0] for spec in specs])


def finish_chats(chat_ids: Sequence[int]) -> None:
    """Each chat's last_seq, version and last_message_at from its seeded messages."""
    message, chat = Message._meta.db_table, Chat._meta.db_table
    with connection.cursor() as cursor:
        for i in range(0, len(chat_ids), 500):
            chunk = list(chat_ids[i : i + 500])
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"UPDATE {chat} SET "
                f"last_seq = (SELECT MAX(seq) FROM {message} m WHERE m.chat_id = {chat}.id), "
                f"version = (SELECT MAX(version) FROM {message} m WHERE m.chat_id = {chat}.id), "
                f"last_message_at = (SELECT MAX(created_at) FROM {message} m "
                f"WHERE m.chat_id = {chat}.id) WHERE id IN ({marks})",
                chunk,
            )
    reset_sequences(Message)


def seed_blocks(pairs: Sequence[tuple[int, int]]) -> None:
    """A block per (blocker id, blocked id) pair."""
    start = next_id(Block)
    rows = ((start + i, blocker, blocked) for i, (blocker, blocked) in enumerate(pairs))
    insert_rows(Block, ["id", "blocker_id", "blocked_id"], rows)
    reset_sequences(Block)
