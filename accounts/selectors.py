from __future__ import annotations

from accounts.models import User


def username_taken(*, username: str, exclude_pk: int | None = None) -> bool:
    """True when another account holds `username`, compared case-insensitively."""
    qs = User.objects.filter(username__iexact=username)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()
