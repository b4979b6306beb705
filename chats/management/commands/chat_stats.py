"""manage.py chat_stats: the numbers an operator looks at first."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chats.operator_selectors import site_stats

MAX_DAYS = 366


class Command(BaseCommand):
    help = (
        "Print users, users active in the last 24 hours (seen, logged in or sent a message), "
        "chats, messages per day (UTC) and open reports. --json for machine-readable output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=7, help="Days of messages-per-day to show (default 7)."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_DAYS}.")
        stats = site_stats(days=days)
        if options["json"]:
            self.stdout.write(json.dumps(stats, indent=2))
            return
        rows = [
            ("Users", f"{stats['users']} ({stats['active_accounts']} active accounts)"),
            ("Active in the last day", stats["active_last_day"]),
            ("Chats", stats["chats"]),
            ("Messages", f"{stats['messages']} ({stats['messages_removed']} removed)"),
            ("Open reports", stats["open_reports"]),
        ]
        for label, value in rows:
            self.stdout.write(f"{label + ':':<24}{value}")
        self.stdout.write(f"Messages per day (UTC, last {days} days):")
        for day in stats["messages_per_day"]:
            self.stdout.write(f"  {day['date']}  {day['messages']:>10}")
