"""The hasher of recovery codes."""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class RecoveryCodeHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2 with fewer rounds. A recovery code is 50 random bits, not a chosen
    password: the rounds that slow down a dictionary add little here, and a recovery checks
    every unused code of the account (ten hashes per attempt, whatever matches)."""

    algorithm = "recovery_pbkdf2_sha256"
    iterations = 20_000
