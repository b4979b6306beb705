from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone
from ua_parser import parse as ua_parse

from accounts.models import SessionRecord, User, UsernameReservation, canonical_username
from chats.rules import block_between_sql

SEARCH_LIMIT = 20
SEARCH_MIN_LENGTH = 2
SUBSTRING_MIN_LENGTH = 3
# SQLite has no trigram index: substring matches come only from the first this many names
# in alphabetical order, a bounded walk of the search-key index (about 0.3 ms) that keeps a
# search within its 2 ms budget at any size. The embedded mode is for small installations;
# past this many users it finds substrings among these names only (PostgreSQL has a trigram
# index and finds them all).
SQLITE_SUBSTRING_SCAN = 2_000

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


UsernameStatus = Literal["free", "taken", "reserved"]
USERNAME_TAKEN = "That username is taken."
USERNAME_RESERVED = "That username is not available."
USERNAME_REFUSALS = {"taken": USERNAME_TAKEN, "reserved": USERNAME_RESERVED}


def username_status(*, username: str, user_id: int | None = None) -> UsernameStatus:
    """Whether `username` may be taken by the account `user_id` (None: a new account): the
    one rule. `taken` when another account holds it (compared case-insensitively),
    `reserved` when it was given up (a rename, a deleted account) less than
    USERNAME_RESERVE_DAYS ago by an account other than `user_id`."""
    holders = User.objects.filter(username__iexact=username)
    if user_id is not None:
        holders = holders.exclude(pk=user_id)
    if holders.exists():
        return "taken"
    reservations = UsernameReservation.objects.filter(
        canonical=canonical_username(username), reserved_until__gt=timezone.now()
    )
    if user_id is not None:
        reservations = reservations.exclude(previous_owner_id=user_id)
    return "reserved" if reservations.exists() else "free"


def session_expires_at(*, session_key: str) -> datetime | None:
    """When a database session expires; None when there is no such session or it has."""
    return (
        Session.objects.filter(session_key=session_key, expire_date__gt=timezone.now())
        .values_list("expire_date", flat=True)
        .first()
    )


def normalize_search_query(query: str) -> str:
    return query.strip().lower()


def user_search(*, viewer: User, query: str, limit: int = SEARCH_LIMIT) -> list[SearchResult]:
    """Active users other than `viewer` whose name matches `query`, case-insensitively.

    The exact match comes first, then prefix matches, then (for 3+ characters) substring
    matches, each group alphabetical; at most `limit`. Queries shorter than
    SEARCH_MIN_LENGTH match nobody. One query, a second one when substring matches are
    needed; blocks come with the rows.
    """
    q = normalize_search_query(query)
    if len(q) < SEARCH_MIN_LENGTH or not _SEARCHABLE.fullmatch(q):
        return []
    prefix_sql, substring_sql = _SEARCH_SQL[connection.vendor]
    like = q.replace("_", "\\_")  # "_" is a LIKE wildcard ("%" cannot be in q)
    params = {
        "viewer": viewer.pk,
        "q": q,
        "upper": q[:-1] + chr(ord(q[-1]) + 1),  # [q, upper) holds the names starting with q
        "limit": limit,
        "pattern": f"%{like}%",
        "mapped": f"%{q.translate(_TRIGRAM_MAP)}%",
    }
    users = list(User.objects.raw(prefix_sql, params))
    if len(q) >= SUBSTRING_MIN_LENGTH and len(users) < limit:
        params["limit"] = limit - len(users)
        users += list(User.objects.raw(substring_sql, params))
    return [
        SearchResult(u, presence)
        for u, presence in zip(users, _presences(viewer, users), strict=True)
    ]


def user_search_matches_self(*, viewer: User, query: str) -> bool:
    """Whether `user_search`'s rule (exact, prefix, or for 3+ characters substring) would
    match the viewer's own name, which it leaves out: the page then shows "you"."""
    q = normalize_search_query(query)
    if len(q) < SEARCH_MIN_LENGTH or not _SEARCHABLE.fullmatch(q):
        return False
    name = viewer.username.lower()
    return name.startswith(q) or (len(q) >= SUBSTRING_MIN_LENGTH and q in name)


def _presences(viewer: User, users: list[Any]) -> list[Presence]:
    """Live presence (chats/presence.py), hidden where either side hides it or a block stands
    (the `blocked` column of the search statements)."""
    from chats import presence

    blocked = {u.pk for u in users if u.blocked}
    known = presence.statuses(viewer=viewer, subjects=users, blocked_ids=blocked)
    return [Presence(status=known[u.pk][0], last_seen=known[u.pk][1]) for u in users]  # type: ignore[arg-type]


# The search is written in SQL because it is vendor-specific (collations, trigrams) and hot:
# building these statements with the ORM took more CPU than running them (about 1 ms against
# 0.1 ms on SQLite), several times over the latency budget of a keystroke.
#
# Every column of the user (results are full User objects) and whether a block stands
# between the viewer and the user in either direction, for active users other than the
# viewer, in the order of the search key: lower(username) in byte order, the expression the
# indexes of the accounts migrations are built on.
_COLUMNS = ", ".join(f'accounts_user."{f.column}"' for f in User._meta.concrete_fields)
_SELECT = f"SELECT {_COLUMNS}, {block_between_sql('%(viewer)s', 'accounts_user.id')} AS blocked"
_CANDIDATES = "is_active AND id <> %(viewer)s"
# The trigram index (migration accounts.0003) is on translate(lower(username), '._-', 'qxz'):
# the punctuation a name can hold, read as letters.
_PUNCTUATION, _AS_LETTERS = "._-", "qxz"
_TRIGRAM_MAP = str.maketrans(_PUNCTUATION, _AS_LETTERS)


def _in_prefix(key: str) -> str:
    return f"{key} >= %(q)s AND {key} < %(upper)s"


def _ordered(key: str, source: str, where: str) -> str:
    """The first `limit` users of `source` (rows of accounts_user) by `key`."""
    return f"{_SELECT} FROM {source}{where} ORDER BY {key} LIMIT %(limit)s"


def _prefix(key: str) -> str:
    """Prefix matches: a range on the search-key index (btree on PostgreSQL, NOCASE on
    SQLite), which also yields the ORDER BY order, so the scan stops at `limit` rows."""
    return _ordered(key, "accounts_user", f" WHERE {_CANDIDATES} AND {_in_prefix(key)}")


def _postgresql() -> tuple[str, str]:
    key = 'lower(username) COLLATE "C"'
    # Substring: every match through the trigram index, then sorted. Materialized so that the
    # planner cannot walk the search-key index in order instead, filtering row by row: its
    # estimate of how common a substring is can be off by orders of magnitude, and that walk
    # then reads the whole index. The cost here is bounded by the number of matches.
    matches = (
        "WITH matches AS MATERIALIZED (SELECT * FROM accounts_user"
        f" WHERE {_CANDIDATES}"
        f" AND translate(lower(username), '{_PUNCTUATION}', '{_AS_LETTERS}') LIKE %(mapped)s"
        f" AND lower(username) LIKE %(pattern)s AND NOT ({_in_prefix(key)})) "
    )
    return _prefix(key), matches + _ordered(key, "matches AS accounts_user", "")


def _sqlite() -> tuple[str, str]:
    key = "username COLLATE NOCASE"
    # Substring: no trigram index, so only among the first SQLITE_SUBSTRING_SCAN names in
    # index order, as a key range: the LIKE is tested on index entries while the range is
    # walked and only matches are read from the table. Below that many users there is no
    # bound ("~" sorts after every name).
    window_end = (
        "coalesce((SELECT first_names.username COLLATE NOCASE FROM accounts_user first_names"
        f" ORDER BY first_names.username COLLATE NOCASE LIMIT 1 OFFSET {SQLITE_SUBSTRING_SCAN}),"
        " '~')"
    )
    where = (
        f" WHERE {_CANDIDATES} AND {key} < {window_end}"
        f" AND username LIKE %(pattern)s ESCAPE '\\' AND NOT ({_in_prefix(key)})"
    )
    return _prefix(key), _ordered(key, "accounts_user", where)


_SEARCH_SQL = {"postgresql": _postgresql(), "sqlite": _sqlite()}


@dataclass(frozen=True)
class SessionRow:
    id: int
    device: str
    ip: str | None
    created_at: datetime
    last_active: datetime
    current: bool


SESSIONS_LIMIT = 200
DEVICE_NAME_MAX = 60


def sessions_of(*, user: User, current_key: str | None) -> list[SessionRow]:
    """The user's live sessions, most recently active first, named by their User-Agent."""
    rows = (
        SessionRecord.objects.filter(user=user, session__expire_date__gt=timezone.now())
        .order_by("-last_active", "-id")
        .values_list("id", "session_id", "user_agent", "ip", "created_at", "last_active")
    )
    return [
        SessionRow(pk, device_name(agent), ip, created, active, key == current_key)
        for pk, key, agent, ip, created, active in rows[:SESSIONS_LIMIT]
    ]


def device_name(user_agent: str) -> str:
    """ "Firefox 128 on Ubuntu", from the User-Agent header (ua-parser's rules)."""
    parsed = ua_parse(user_agent) if user_agent.strip() else None
    if parsed is None or parsed.user_agent is None or parsed.user_agent.family == "Other":
        # A client the rules do not know (a script, a bot): its own first word, as it says.
        first = user_agent.split(maxsplit=1)[0][:DEVICE_NAME_MAX] if user_agent.strip() else ""
        return first or "Unknown device"
    browser = parsed.user_agent.family
    if parsed.user_agent.major:
        browser += f" {parsed.user_agent.major}"
    if parsed.os is None or parsed.os.family == "Other":
        return browser
    return f"{browser} on {parsed.os.family}"
