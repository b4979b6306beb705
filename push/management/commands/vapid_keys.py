from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from push.vapid import new_private_key, public_key_of


class Command(BaseCommand):
    help = "Print a new VAPID key pair for Web Push (set VAPID_PRIVATE_KEY to the private key)."

    def handle(self, *args: Any, **options: Any) -> None:
        private = new_private_key()
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}")
        self.stdout.write(f"# public key (served at /api/push/key): {public_key_of(private)}")
