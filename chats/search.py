"""Message search: a user's messages that match a query, in the chats they are a member of.

The index is the database's own (migration 0005: PostgreSQL's stored `search` tsvector with
its GIN index, SQLite's FTS5 table `chats_message_fts`), kept by the database on every write
of a body and empty for deleted and removed messages; the query language, the folding and
the snippets are chats/search_text.py's. Who may see a chat is `rules.member_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.db import connection
from django.db.models import BooleanField, FloatField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString

from accounts.models import User, is_username
from chats import rules, search_text
from chats.models import Chat, Message
from chats.search_text import Query
from chats.selectors import peer_of

PAGE = 20
MAX_OFFSET = 200  # relevance pages: ranks have no stable key, so they page by offset
Sort = Literal["newest", "relevance"]


class BadCursor(ValueError):
    """A `before` cursor this search did not hand out."""


@dataclass(frozen=True)
class SearchHit:
    chat_id: int
    seq: int
    sender: str
    peer: str
    sent_at: datetime
    snippet: SafeString


@dataclass(frozen=True)
class SearchPage:
    results: list[SearchHit]
    next: str | None  # the `before` of the next page; None on the last


def message_search(
    *,
    user: User,
    query: str,
    before: str | None = None,
    sort: Sort = "newest",
    limit: int | None = None,
) -> SearchPage:
    """Messages matching `query` (chats.search_text.parse) in `user`'s chats, shown ones
    only, newest first (keyset: `before` is a page's `next`) or by relevance, `limit`
    (default PAGE) a page. A query too
    short to mean anything finds nothing without a statement."""
    parsed = search_text.parse(query)
    if parsed.empty or not _names_valid(parsed, user):
        return SearchPage([], None)
    limit = limit or PAGE
    rows = _matching(user, parsed)
    found: list[Message]
    if sort == "relevance" and parsed.has_text:
        offset = _offset(before)
        ranked = rows.filter(_text_match(parsed)).annotate(rank=_rank(parsed))
        ranked = ranked.order_by("-rank", "-created_at", "-id")
        found = list(ranked[offset : offset + limit + 1])
        more = len(found) > limit and offset + limit < MAX_OFFSET
        cursor = f"o{offset + limit}" if more else None
    else:
        found = list(_newest(rows, parsed, _before(before))[: limit + 1])
        more = len(found) > limit
        cursor = str(found[limit - 1].pk) if more else None
    hits = [_hit(user, m, parsed) for m in found[:limit]]
    return SearchPage(hits, cursor)


def _names_valid(parsed: Query, user: User) -> bool:
    """`from:` and `in:` name someone who could exist (other names match nothing), and
    `in:` someone else (the chat with that person: in:<yourself> names no chat)."""
    names = [name for name in (parsed.sender, parsed.peer) if name is not None]
    itself = parsed.peer is not None and parsed.peer.lower() == user.username.lower()
    return all(is_username(name) for name in names) and not itself


def _matching(user: User, parsed: Query) -> QuerySet[Message]:
    chats = Chat.objects.filter(rules.member_of(user.pk)).values("pk")
    if connection.vendor == "postgresql":
        # The ids themselves, read first: with the list in the statement the planner knows
        # how many of the table's messages are the searcher's, and tests it by hashing. A
        # subquery there was tested per row, and its guess sent a rare word through every
        # message of the searcher's chats instead of the GIN index (B10 at 10,000,000:
        # 136 -> 9 ms for a rare word, 26 -> 7 ms for a common one; docs/search.md).
        chats = list(chats.values_list("pk", flat=True))  # type: ignore[assignment]
    rows = Message.objects.filter(rules.shown_q(), chat__in=chats)
    if parsed.sender:
        rows = rows.filter(sender__username__iexact=parsed.sender)
    if parsed.peer:
        rows = rows.filter(chat__memberships__user__username__iexact=parsed.peer)
    return rows.select_related("sender", "chat__user_low", "chat__user_high").only(
        "chat", "seq", "body", "created_at", "sender__username", "sender__deleted_at",
        "chat__user_low__username", "chat__user_high__username",
        "chat__user_low__deleted_at", "chat__user_high__deleted_at",
    )  # fmt: skip


_TABLE = Message._meta.db_table
_FTS = "chats_message_fts"


def _newest(rows: QuerySet[Message], parsed: Query, before: int | None) -> QuerySet[Message]:
    """`rows` matching the text, newest first: by id, the order the messages were stored
    (docs/search.md says why not created_at). On SQLite the FTS5 table drives the statement
    and hands out its rowids (message ids) in descending order, so the walk stops at the
    page instead of collecting and sorting every match in the table."""
    if before is not None:
        rows = rows.filter(id__lt=before)
    if not parsed.has_text:
        return rows.order_by("-id")
    if connection.vendor == "postgresql":
        return rows.filter(_text_match(parsed)).order_by("-id")
    match, params = _fts5_match(parsed)
    where = [f'{_FTS}.rowid = "{_TABLE}"."id"', f"{_FTS} MATCH {match}"]
    if before is not None:  # for FTS5 itself: it starts its walk there
        where.append(f"{_FTS}.rowid < %s")
        params.append(before)
    return rows.extra(  # noqa: S610 (fixed SQL; the query text and the cursor are parameters)
        tables=[_FTS], where=where, params=params, order_by=[f"-{_FTS}.rowid"]
    )


MAX_EXPANSION = 50  # a word that starts more indexed words than this stays a prefix term
# The indexed words in [word, word + U+10FFFF), one seek each: `instance` rows come in word
# order and an index word is letters and digits only, so the next word is >= word || char(1)
# (a `row` table would count each word's documents, about 6 ms for a common one).
_EXPANDED = (
    "(SELECT CASE WHEN count(*) BETWEEN 1 AND %s "
    "THEN '(' || group_concat('\"' || term || '\"', ' OR ') || ')' ELSE %s END FROM ("
    "WITH RECURSIVE w(term) AS ("
    "SELECT (SELECT term FROM chats_message_terms WHERE term >= %s AND term < %s LIMIT 1) "
    "UNION ALL SELECT (SELECT term FROM chats_message_terms "
    "WHERE term >= w.term || char(1) AND term < %s LIMIT 1) "
    "FROM w WHERE w.term IS NOT NULL LIMIT %s) "
    "SELECT term FROM w WHERE term IS NOT NULL))"
)


def _fts5_match(parsed: Query) -> tuple[str, list[object]]:
    """The SQL of the MATCH text for a newest-first walk: search_text.fts5_query's, with each
    prefix word `"w"*` replaced, in the same statement, by the OR of the indexed words that
    start with it (`chats_message_terms`, migration 0008): the same matches. FTS5 merges a
    prefix term's doclists in memory before its first row (about 10 ms for a word in a third
    of the messages); an OR of words it reads row by row, so the walk stops at the page."""
    parts: list[str] = []
    params: list[object] = []
    for word in parsed.prefixes:
        end = word + "\U0010ffff"
        parts.append(_EXPANDED)
        params += [MAX_EXPANSION, search_text.fts5_prefix(word), word, end, end]
        params.append(MAX_EXPANSION + 2)
    for phrase in parsed.phrases:
        parts.append("%s")
        params.append(search_text.fts5_phrase(phrase))
    return "(" + " || ' AND ' || ".join(parts) + ")", params


def _text_match(parsed: Query) -> RawSQL:
    if connection.vendor == "postgresql":
        sql = f'"{_TABLE}"."search" @@ to_tsquery(\'simple\'::regconfig, %s)'
        return _fixed(sql, search_text.tsquery(parsed), BooleanField())
    sql = f'"{_TABLE}"."id" IN (SELECT rowid FROM {_FTS} WHERE {_FTS} MATCH %s)'
    return _fixed(sql, search_text.fts5_query(parsed), BooleanField())


def _rank(parsed: Query) -> RawSQL:
    """Higher is better on both: ts_rank, and FTS5's bm25 (lower is better) negated."""
    if connection.vendor == "postgresql":
        sql = f'ts_rank("{_TABLE}"."search", to_tsquery(\'simple\'::regconfig, %s))'
        return _fixed(sql, search_text.tsquery(parsed), FloatField())
    sql = f'(SELECT -bm25({_FTS}) FROM {_FTS} WHERE {_FTS} MATCH %s AND rowid = "{_TABLE}"."id")'
    return _fixed(sql, search_text.fts5_query(parsed), FloatField())


def _fixed(sql: str, text: str, field: BooleanField | FloatField) -> RawSQL:
    """The index's SQL, fixed text built here; the query text is its only parameter."""
    return RawSQL(sql, [text], output_field=field)  # noqa: S611


def _before(before: str | None) -> int | None:
    """The id of the last message of the page before (a newest-first `next`)."""
    if before is None:
        return None
    if not (before.isascii() and before.isdigit() and len(before) <= 20):
        raise BadCursor("before is not a cursor of this search.")
    return int(before)


def _offset(before: str | None) -> int:
    if before is None:
        return 0
    if not (before.startswith("o") and before[1:].isdigit() and int(before[1:]) <= MAX_OFFSET):
        raise BadCursor("before is not a cursor of this search.")
    return int(before[1:])


def _hit(user: User, message: Message, parsed: Query) -> SearchHit:
    return SearchHit(
        chat_id=message.chat_id,
        seq=message.seq,
        sender=message.sender.display_name,
        peer=peer_of(message.chat, user.pk).display_name,
        sent_at=message.created_at,
        snippet=search_text.snippet(message.body, parsed),
    )
