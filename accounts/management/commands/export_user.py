"""manage.py export_user: a user's own data as JSON (profile, chats, messages they can see)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from chats.operator_selectors import user_export


class Command(BaseCommand):
    help = (
        "Export a user's data to JSON: profile, chats, every message they can see (removed "
        "messages without their text), blocked users and reports they made. Prints to stdout "
        "unless --output is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="The user to export (case-insensitive).")
        parser.add_argument("--output", "-o", help="Write the JSON to this file instead.")
        parser.add_argument(
            "--force", action="store_true", help="Overwrite the --output file if it exists."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            raise CommandError(f"There is no user named {username!r}.")
        data = user_export(user=user)
        text = json.dumps(data, indent=2, ensure_ascii=False)
        output = options["output"]
        if not output:
            self.stdout.write(text)
            return
        path = Path(output)
        if path.exists() and not options["force"]:
            raise CommandError(f"{path} already exists; use --force to overwrite it.")
        try:
            path.write_text(text + "\n", encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Could not write {path}: {error.strerror}.") from None
        self.stderr.write(f"Exported {user.username} ({len(data['chats'])} chats) to {path}.")
