from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.db import connection
from django.db.models import Expression, F, QuerySet, Subquery
from django.db.models.functions import Collate, Lower

from accounts.models import User

SEARCH_LIMIT = 20
SEARCH_MIN_LENGTH = 2
SUBSTRING_MIN_LENGTH = 3
# SQLite has no trigram index: substring matches come from at most this many users, read in
# index order, so a search never scans an unbounded table (the embedded mode is for small
# installations; PostgreSQL has a real trigram index).
SQLITE_SUBSTRING_SCAN = 10_000

# Lowercased usernames only hold these characters; any other query matches nobody.
_SEARCHABLE = re.compile(r"[a-z0-9_.\-]{1,30}")

PresenceStatus = Literal["online", "offline", "hidden"]


@dataclass(frozen=True)
class Presence:
    status: PresenceStatus
    last_seen: datetime | None


@dataclass(frozen=True)
class SearchResult:
    user: User
    presence: Presence


def username_taken(*, username: str, exclude_pk: int | None = None) -> bool:
    """True when another account holds `username`, compared case-insensitively."""
    qs = User.objects.filter(username__iexact=username)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def normalize_search_query(query: str) -> str:
    return query.strip().lower()


def user_search(*, viewer: User, query: str, limit: int = SEARCH_LIMIT) -> list[SearchResult]:
    """Active users other than `viewer` whose name matches `query`, case-insensitively.

    The exact match comes first, then prefix matches, then (for 3+ characters) substring
    matches, each group alphabetical; at most `limit`. Queries shorter than
    SEARCH_MIN_LENGTH match nobody.
    """
    q = normalize_search_query(query)
    if len(q) < SEARCH_MIN_LENGTH or not _SEARCHABLE.fullmatch(q):
        return []
    upper = q[:-1] + chr(ord(q[-1]) + 1)
    candidates: QuerySet[Any] = (
        User.objects.filter(is_active=True).exclude(pk=viewer.pk).annotate(search_key=_sort_key())
    )
    # One range scan on the search-key index serves the filter and the ORDER BY; the exact
    # match sorts first because it is a prefix of every other row in the range.
    users: list[User] = list(
        candidates.filter(search_key__gte=q, search_key__lt=upper).order_by("search_key")[:limit]
    )
    if len(q) >= SUBSTRING_MIN_LENGTH and len(users) < limit:
        substring = _substring_matches(candidates, q).exclude(
            search_key__gte=q, search_key__lt=upper
        )
        users += list(substring.order_by("search_key")[: limit - len(users)])
    return [
        SearchResult(u, presence)
        for u, presence in zip(users, _presences(viewer, users), strict=True)
    ]


def _presences(viewer: User, users: list[User]) -> list[Presence]:
    """Live presence (chats.presence), hidden where either side hides it or a block stands."""
    from chats import presence, selectors

    blocked = selectors.blocked_peers(user_id=viewer.pk, peer_ids=[u.pk for u in users])
    known = presence.statuses(viewer=viewer, subjects=users, blocked_ids=blocked)
    return [Presence(status=known[u.pk][0], last_seen=known[u.pk][1]) for u in users]  # type: ignore[arg-type]


def _sort_key() -> Expression:
    """lower(username) in byte order, the expression the search indexes are built on."""
    if connection.vendor == "postgresql":
        return Collate(Lower("username"), "C")
    if connection.vendor == "sqlite":
        return Collate(F("username"), "NOCASE")
    return Lower("username")


def _substring_matches(candidates: QuerySet[Any], q: str) -> QuerySet[Any]:
    if connection.vendor == "postgresql":
        # lower(username) LIKE '%q%' is what the pg_trgm GIN index is built for.
        return candidates.annotate(lower_username=Lower("username")).filter(
            lower_username__contains=q
        )
    window = User.objects.order_by(_sort_key()).values("pk")[:SQLITE_SUBSTRING_SCAN]
    return candidates.filter(pk__in=Subquery(window), username__icontains=q)
