"""manage.py seed_demo: demo users and conversations to try the site at once (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import User
from accounts.services import user_create
from chats import services
from chats.validation import Refused

DEMO_PASSWORD = "try-chatsite-demo"  # noqa: S105 (printed on purpose: demo accounts)
DEMO_USERS = ["alice", "bob", "carol", "dave", "erin"]
CONVERSATIONS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "alice",
        "bob",
        [
            ("alice", "Hi Bob! Have you tried Chatsite yet?"),
            ("bob", "Just now. Messages show up before I finish blinking."),
            ("alice", "Open this chat in a second tab and watch both update."),
            ("bob", "Nice. And the ticks turn green when you read it."),
        ],
    ),
    (
        "alice",
        "carol",
        [
            ("carol", "Lunch tomorrow?"),
            ("alice", "Sure, 12:30 at the usual place?"),
            ("carol", "Perfect, see you there."),
        ],
    ),
    (
        "bob",
        "carol",
        [
            ("bob", "Did you get the slides?"),
            ("carol", "Yes, thanks! I'll send comments tonight."),
        ],
    ),
]
MODERATORS_GROUP = "Moderators"
MODERATOR_PERMISSIONS = [
    ("accounts", "view_user"),
    ("accounts", "change_user"),
    ("chats", "view_chat"),
    ("chats", "view_message"),
    ("chats", "change_message"),
    ("chats", "view_report"),
    ("chats", "change_report"),
    ("chats", "view_moderationlog"),
]


class Command(BaseCommand):
    help = (
        "Create demo users (alice, bob, carol, dave, erin) sharing one printed password, a few "
        "conversations between them, and a 'Moderators' group for staff. Running it again "
        "creates nothing new."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=DEMO_PASSWORD,
            help=f"Password for newly created demo users (default: {DEMO_PASSWORD}).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (demo accounts with a known password are a risk "
            "on a public site).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password: str = options["password"]
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DEBUG is off, so this looks like a production site: demo accounts with a "
                "known password would let anyone log in. Use --force to seed anyway."
            )
        if not password:
            raise CommandError("--password must not be empty.")
        users, created_users, kept = self._users(password)
        created_chats = created_messages = 0
        for low_name, high_name, lines in CONVERSATIONS:
            try:
                chat, chat_created = services.chat_start(user=users[low_name], username=high_name)
                created_chats += chat_created
                for index, (sender_name, body) in enumerate(lines, start=1):
                    _message, created = services.message_send(
                        sender=users[sender_name],
                        chat_id=chat.pk,
                        client_id=f"seed-demo:{low_name}-{high_name}:{index}",
                        body=body,
                    )
                    created_messages += created
            except Refused as refused:
                self.stderr.write(f"Skipped {low_name} ↔ {high_name}: {refused.detail}")
        group_created = self._moderators_group()

        self.stdout.write(f"Demo users: {', '.join(DEMO_USERS)}")
        self.stdout.write(f"Password: {password}")
        for name in kept:
            self.stdout.write(
                self.style.WARNING(f"{name} already existed with another password; left as is.")
            )
        if created_users or created_chats or created_messages or group_created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created {created_users} users, {created_chats} chats, "
                    f"{created_messages} messages."
                )
            )
        else:
            self.stdout.write("Nothing new: the demo data was already there.")
        self.stdout.write("Log in at /accounts/login/ as any demo user.")

    def _users(self, password: str) -> tuple[dict[str, User], int, list[str]]:
        users: dict[str, User] = {}
        created = 0
        kept: list[str] = []
        for name in DEMO_USERS:
            user = User.objects.filter(username__iexact=name).first()
            if user is None:
                user = user_create(username=name, password=password)
                created += 1
            elif not user.check_password(password):
                kept.append(name)
            users[name] = user
        return users, created, kept

    @transaction.atomic
    def _moderators_group(self) -> bool:
        group, created = Group.objects.get_or_create(name=MODERATORS_GROUP)
        wanted = [
            Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in MODERATOR_PERMISSIONS
        ]
        group.permissions.add(*wanted)
        return created
