"""manage.py seed_bulk: bulk users, chats and messages for benchmarks, fast.

Rows go in with COPY on PostgreSQL and batched multi-row inserts elsewhere, each batch in its
own transaction, and every user shares one precomputed password hash (hashing a million
passwords would take hours). The targets are totals, so running it again only tops up.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import connection, transaction
from django.db.models import Field, Model, OuterRef, Subquery
from django.utils import timezone

from accounts.models import User
from chats.models import Chat, Membership, Message

DEFAULT_PREFIX = "bulk"
DEFAULT_PASSWORD = "bulk-password"  # noqa: S105 (printed on purpose: benchmark accounts)
WIDTH = 7  # bulk0000001: zero-padded so names sort in number order
MAX_USERS = 10**WIDTH - 1
MAX_CHATS_PER_BATCH = 1000
MESSAGE_SPACING = timedelta(seconds=60)
PHRASES = [
    "Hey, how are you?",
    "Running late, be there in ten.",
    "Did you see the game last night?",
    "Can you send me the report when you get a chance?",
    "Sounds good to me!",
    "Let's catch up tomorrow.",
    "Thanks, that helps a lot.",
    "Where should we meet?",
]


class Progress:
    """A one-line progress bar, drawn only when the output is a terminal."""

    def __init__(self, out: OutputWrapper, label: str, total: int, enabled: bool) -> None:
        self.out, self.label, self.total, self.enabled = out, label, total, enabled
        self.done = 0
        self.shown = -1
        self.started = time.monotonic()

    def advance(self, count: int) -> None:
        self.done += count
        if not self.enabled or self.total <= 0:
            return
        percent = min(100, self.done * 100 // self.total)
        if percent == self.shown:
            return
        self.shown = percent
        filled = percent * 30 // 100
        elapsed = time.monotonic() - self.started
        self.out.write(
            f"\r{self.label:<9}[{'#' * filled}{'.' * (30 - filled)}] {percent:3d}% "
            f"{self.done}/{self.total} {elapsed:.0f}s",
            ending="",
        )
        self.out.flush()

    def finish(self) -> None:
        if self.enabled and self.shown >= 0:
            self.out.write("")


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field) and field.column is not None
    return field.column


def write_rows(model: type[Model], fields: Sequence[str], rows: list[list[Any]]) -> None:
    """Insert ready-to-store rows into the model's table: COPY on PostgreSQL."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(_column(model, name)) for name in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)


class Command(BaseCommand):
    help = (
        "Top up bulk data for benchmarks: --users N makes sure users <prefix>0000001 .. N "
        "exist (all with one password), --messages M makes sure the bulk chats (pairs of "
        "consecutive bulk users) hold M messages in total. Shows a progress bar on a "
        "terminal. Example: seed_bulk --users 1000000 --messages 1000000"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=0, help="Total bulk users wanted.")
        parser.add_argument(
            "--messages", type=int, default=0, help="Total messages wanted in the bulk chats."
        )
        parser.add_argument(
            "--chats",
            type=int,
            default=None,
            help="Number of bulk chats the messages are spread over "
            "(default: min(bulk users / 2, 1000)).",
        )
        parser.add_argument(
            "--prefix",
            default=DEFAULT_PREFIX,
            help=f"Username prefix, lowercase letters, '.', '_' or '-' (default {DEFAULT_PREFIX}).",
        )
        parser.add_argument(
            "--password",
            default=DEFAULT_PASSWORD,
            help=f"Password of new bulk users (default {DEFAULT_PASSWORD}).",
        )
        parser.add_argument(
            "--batch-size", type=int, default=20_000, help="Rows per insert (default 20000)."
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="No progress bar, even on a terminal."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users, messages, chats = options["users"], options["messages"], options["chats"]
        prefix, batch = options["prefix"], options["batch_size"]
        if not 0 <= users <= MAX_USERS:
            raise CommandError(f"--users must be between 0 and {MAX_USERS}.")
        if not 0 <= messages <= 10**10:
            raise CommandError("--messages must be 0 or more.")
        if chats is not None and chats < 1:
            raise CommandError("--chats must be at least 1.")
        if not re.fullmatch(r"[a-z_.\-]{1,23}", prefix):
            raise CommandError(
                "--prefix must be 1 to 23 lowercase letters, '.', '_' or '-' (no digits)."
            )
        if not 100 <= batch <= 1_000_000:
            raise CommandError("--batch-size must be between 100 and 1000000.")
        if not options["password"]:
            raise CommandError("--password must not be empty.")
        self.prefix, self.batch = prefix, batch
        self.show_progress = not options["no_progress"] and self.stdout.isatty()
        started = time.monotonic()

        created_users = self.seed_users(users, make_password(options["password"]))
        bulk_users = self.highest_index()
        created_chats = created_messages = 0
        if messages:
            chats = chats if chats is not None else min(bulk_users // 2, 1000)
            if chats < 1 or chats * 2 > bulk_users:
                raise CommandError(
                    f"{max(chats, 1)} chats need {max(chats, 1) * 2} bulk users and there are "
                    f"{bulk_users}: raise --users or lower --chats."
                )
            created_chats, created_messages = self.seed_messages(chats, messages)

        self.stdout.write(
            f"Users: {created_users} created, {bulk_users} bulk users "
            f"({prefix}{1:0{WIDTH}d} .. {prefix}{max(bulk_users, 1):0{WIDTH}d})."
        )
        if messages:
            self.stdout.write(
                f"Chats: {created_chats} created. Messages: {created_messages} created."
            )
        if created_users:
            self.stdout.write(f"Password of the new bulk users: {options['password']}")
        if created_users or created_messages:
            self.analyze()
        self.stdout.write(f"Done in {time.monotonic() - started:.1f}s.")

    def analyze(self) -> None:
        """Refresh the planner's statistics, which a bulk load leaves far out of date."""
        if connection.vendor != "postgresql":
            return
        tables = [m._meta.db_table for m in (User, Chat, Membership, Message)]
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(map(connection.ops.quote_name, tables)))

    def name(self, index: int) -> str:
        return f"{self.prefix}{index:0{WIDTH}d}"

    def highest_index(self) -> int:
        """The number of the last bulk user (bulk users are made in order, without holes)."""
        pattern = re.compile(rf"{re.escape(self.prefix)}[0-9]{{{WIDTH}}}")
        # A range on the username index, read backwards: instant even at millions of rows.
        candidates = (
            User.objects.filter(username__gte=self.name(0), username__lte=self.name(MAX_USERS))
            .order_by("-username")
            .values_list("username", flat=True)
        )
        for username in candidates[:20]:
            if pattern.fullmatch(username):
                return int(username[len(self.prefix) :])
        return 0

    def seed_users(self, target: int, password_hash: str) -> int:
        first = self.highest_index() + 1
        if first > target:
            return 0
        fields = [f for f in User._meta.concrete_fields if not f.primary_key]
        template = User(username="-", password=password_hash, date_joined=timezone.now())
        base = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields]
        at = [f.attname for f in fields].index("username")
        progress = Progress(self.stdout, "users", target - first + 1, self.show_progress)
        for start in range(first, target + 1, self.batch):
            rows = []
            for index in range(start, min(start + self.batch, target + 1)):
                row = base.copy()
                row[at] = self.name(index)
                rows.append(row)
            with transaction.atomic():
                write_rows(User, [f.attname for f in fields], rows)
            progress.advance(len(rows))
        progress.finish()
        return target - first + 1

    def seed_messages(self, chats: int, messages: int) -> tuple[int, int]:
        """Make sure chats 1..`chats` exist and together hold `messages` messages."""
        per_chat = max(1, messages // chats)
        step = max(1, min(MAX_CHATS_PER_BATCH, self.batch // per_chat))
        progress = Progress(self.stdout, "messages", messages, self.show_progress)
        created_chats = created_messages = 0
        for start in range(0, chats, step):
            numbers = range(start, min(start + step, chats))
            targets = [messages // chats + (1 if n < messages % chats else 0) for n in numbers]
            with transaction.atomic():
                made_chats, made_messages = self.seed_chat_batch(numbers, targets)
            created_chats += made_chats
            created_messages += made_messages
            progress.advance(sum(targets))
        progress.finish()
        return created_chats, created_messages

    def seed_chat_batch(self, numbers: range, targets: list[int]) -> tuple[int, int]:
        names = [self.name(i) for n in numbers for i in (2 * n + 1, 2 * n + 2)]
        pks = dict(User.objects.filter(username__in=names).values_list("username", "pk"))
        pairs = []
        for n in numbers:
            a, b = pks[self.name(2 * n + 1)], pks[self.name(2 * n + 2)]
            pairs.append((min(a, b), max(a, b)))
        chats = {
            (chat.user_low_id, chat.user_high_id): chat
            for chat in Chat.objects.filter(user_low_id__in=[low for low, _ in pairs])
        }
        missing = [Chat(user_low_id=low, user_high_id=high) for low, high in pairs]
        missing = [c for c in missing if (c.user_low_id, c.user_high_id) not in chats]
        Chat.objects.bulk_create(missing)
        Membership.objects.bulk_create(
            Membership(user_id=user_id, chat_id=chat.pk)
            for chat in missing
            for user_id in (chat.user_low_id, chat.user_high_id)
        )
        chats.update({(c.user_low_id, c.user_high_id): c for c in missing})

        now = timezone.now()
        adapt = connection.ops.adapt_datetimefield_value
        rows: list[list[Any]] = []
        changed: list[Chat] = []
        for pair, target in zip(pairs, targets, strict=True):
            chat = chats[pair]
            if chat.last_seq >= target:
                continue
            for seq in range(chat.last_seq + 1, target + 1):
                sent_at: datetime = now - MESSAGE_SPACING * (target - seq)
                sender = chat.user_low_id if seq % 2 else chat.user_high_id
                body = f"{PHRASES[seq % len(PHRASES)]} ({seq})"
                client_id = f"bulk:{chat.pk}:{seq}"
                rows.append([chat.pk, seq, sender, body, client_id, adapt(sent_at), None, "", seq])
            # Seeded chats have had no change but their messages: version = seq.
            chat.last_seq = chat.version = target
            chat.last_message_at = now
            changed.append(chat)
        fields = ["chat", "seq", "sender", "body", "client_id", "created_at", "removed_at"]
        write_rows(Message, [*fields, "removed_reason", "version"], rows)
        Chat.objects.bulk_update(changed, ["last_seq", "version", "last_message_at"])
        # Everything seeded counts as delivered and read, so no chat starts with a backlog.
        last_seq = Subquery(Chat.objects.filter(pk=OuterRef("chat_id")).values("last_seq")[:1])
        Membership.objects.filter(chat_id__in=[c.pk for c in changed]).update(
            read_seq=last_seq, delivered_seq=last_seq
        )
        return len(missing), len(rows)
