"""Every read of chats and messages: explicit ordering, bounded, no per-row queries."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import (
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
)

from accounts.models import User, display_name_of
from chats import rules
from chats.models import Block, Chat, Membership, Message, Reaction
from chats.validation import is_id

if TYPE_CHECKING:
    from psycopg import AsyncCursor

HISTORY_PAGE = 50
SYNC_LIMIT = 500


@dataclass(frozen=True)
class ChatSummary:
    id: int
    peer: User
    last_seq: int
    read_seq: int
    last_message_at: datetime | None
    last_body: str | None
    last_sender_id: int | None
    last_removed: bool
    version: int = 0
    peer_read_seq: int = 0
    peer_delivered_seq: int = 0
    # A block stands between the user and the peer (rules.block_between).
    blocked: bool = False

    @property
    def unread(self) -> int:
        return max(0, self.last_seq - self.read_seq)


def unread_total(summaries: list[ChatSummary]) -> int:
    """The user's unread total, as hello and the pages show it: the sum of the chats' counts."""
    return sum(s.unread for s in summaries)


def peer_of(chat: Chat, user_id: int) -> User:
    return chat.user_high if chat.user_low_id == user_id else chat.user_low


def chat_get_for_member(*, user_id: int, chat_id: Any) -> Chat:
    """The chat if `user_id` is a member; Chat.DoesNotExist for a missing or foreign chat."""
    if not is_id(chat_id):
        raise Chat.DoesNotExist
    return Chat.objects.select_related("user_low", "user_high").get(
        rules.member_of(user_id), pk=chat_id
    )


def membership_get(*, user_id: int, chat_id: int) -> Membership:
    return Membership.objects.select_related("chat").get(user_id=user_id, chat_id=chat_id)


# What the chat list, hello and the API read of each peer (the other User fields are
# deferred), in the model's field order as Model.from_db expects.
PEER_FIELDS = tuple(
    f.attname
    for f in User._meta.concrete_fields
    if f.attname
    in {"id", "username", "last_seen", "hide_presence", "send_read_receipts", "deleted_at"}
)


def chat_summaries(*, user_id: int, limit: int | None = None) -> list[ChatSummary]:
    """The user's chats, most recent activity first, in one query.

    The rows are the peers' memberships: one join finds the user's own membership, the peer
    (and its pointers) come with the row, and the last message is one index probe on
    (chat_id, seq = last_seq). Only plain values are fetched, and each peer is built as a
    User with just PEER_FIELDS: a user with 1,000 chats costs milliseconds, not model objects.
    The SQL is compiled once (every socket's hello runs it: compiling was half its cost).
    """
    compiled = _summaries_sql(connection.vendor, limit)
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, [user_id if p == _NO_USER else p for p in compiled.params])
        return _summaries_of(compiled.convert(cursor.fetchall()))


async def chat_summaries_async(cursor: AsyncCursor[Any], *, user_id: int) -> list[ChatSummary]:
    """`chat_summaries` on an event-loop connection (PostgreSQL, chats/realtime/pg_async.py)."""
    compiled = _summaries_sql("postgresql", None)
    await cursor.execute(compiled.sql, [user_id if p == _NO_USER else p for p in compiled.params])
    return _summaries_of(compiled.convert(await cursor.fetchall()))


def _summaries_of(rows: list[Any]) -> list[ChatSummary]:
    return [
        ChatSummary(
            id=chat_id,
            peer=User.from_db("default", PEER_FIELDS, peer),
            last_seq=last_seq,
            read_seq=read_seq,
            last_message_at=last_message_at,
            last_body=last_body,
            last_sender_id=last_sender_id,
            last_removed=last_removed_at is not None,
            version=version,
            peer_read_seq=peer_read_seq,
            peer_delivered_seq=peer_delivered_seq,
            blocked=blocked,
        )
        for (
            chat_id,
            last_seq,
            version,
            last_message_at,
            read_seq,
            peer_read_seq,
            peer_delivered_seq,
            last_body,
            last_sender_id,
            last_removed_at,
            blocked,
            *peer,
        ) in rows
    ]


_NO_USER = -7_340_033  # stands for the user id in the compiled SQL; never a real id


@dataclass(frozen=True)
class _Compiled:
    """A values_list query compiled once: its SQL, its parameters, and the backend's
    conversions of the raw rows (dates on SQLite, say), as the ORM applies them."""

    sql: str
    params: tuple[Any, ...]
    compiler: Any
    converters: Any

    @classmethod
    def of(cls, queryset: QuerySet[Any]) -> _Compiled:
        compiler = queryset.query.get_compiler(queryset.db)
        sql, params = compiler.as_sql()
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        return cls(sql, tuple(params), compiler, compiler.get_converters(fields))

    def convert(self, rows: list[Any]) -> list[Any]:
        if not self.converters:
            return rows
        return list(self.compiler.apply_converters(rows, self.converters))


@functools.cache
def _summaries_sql(vendor: str, limit: int | None) -> _Compiled:
    rows = (
        Membership.objects.exclude(user_id=_NO_USER)
        .annotate(
            mine=FilteredRelation(
                "chat__memberships", condition=Q(chat__memberships__user_id=_NO_USER)
            ),
            last=FilteredRelation(
                "chat__messages", condition=Q(chat__messages__seq=F("chat__last_seq"))
            ),
        )
        .filter(mine__user_id=_NO_USER)
        .annotate(blocked=rules.block_between(_NO_USER, OuterRef("user_id")))
        .order_by(F("chat__last_message_at").desc(nulls_last=True), "-chat_id")
        .values_list(
            "chat_id",
            "chat__last_seq",
            "chat__version",
            "chat__last_message_at",
            "mine__read_seq",
            "read_seq",
            "delivered_seq",
            "last__body",
            "last__sender_id",
            "last__removed_at",
            "blocked",
            *(f"user__{name}" for name in PEER_FIELDS),
        )
    )
    if limit is not None:
        rows = rows[:limit]
    return _Compiled.of(rows)


def _with_sender_name(messages: QuerySet[Message]) -> QuerySet[Message]:
    """Messages with only the name of their sender (and what a reply quotes of the
    message it answers): history and sync show nothing else of the sender, and building
    50-500 full User rows per page costs more than the query."""
    fields = [f.name for f in Message._meta.concrete_fields]
    return messages.select_related("sender", "reply_to__sender").only(
        *fields,
        "sender__username",
        "sender__deleted_at",
        *(f"reply_to__{name}" for name in rules.QUOTED_FIELDS),
    )


QUOTE_CHARS = 200


def message_get(*, chat_id: int, seq: int) -> Message:
    """One message as history shows it; Message.DoesNotExist when there is none."""
    return _with_sender_name(Message.objects.filter(chat_id=chat_id, seq=seq)).get()


def reactions_of(*, message_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """Message id -> emoji -> the usernames that reacted with it, both in the order they
    reacted, in one query."""
    if not message_ids:
        return {}
    rows = (
        Reaction.objects.filter(message_id__in=message_ids)
        .order_by("id")
        .values_list("message_id", "emoji", "user__username", "user__deleted_at")
    )
    out: dict[int, dict[str, list[str]]] = {}
    for message_id, emoji, username, deleted_at in rows:
        name = display_name_of(username, deleted_at)
        out.setdefault(message_id, {}).setdefault(emoji, []).append(name)
    return out


def with_reactions(messages: list[Message]) -> list[tuple[Message, dict[str, list[str]]]]:
    """Each message with its reactions (none once deleted or removed), in one query."""
    reactions = reactions_of(message_ids=[m.pk for m in messages if rules.message_shown(m)])
    return [(m, reactions.get(m.pk, {})) for m in messages]


def message_payloads(messages: list[Message]) -> list[dict[str, Any]]:
    """`message_payload` of messages read here, with their reactions (one query for all)."""
    return [message_payload(m, reactions) for m, reactions in with_reactions(messages)]


def message_payloads_of(*, message_ids: list[int]) -> list[dict[str, Any]]:
    """The payloads of these messages as they are now (a resend's ack), in id order."""
    messages = _with_sender_name(Message.objects.filter(pk__in=message_ids)).order_by("pk")
    return message_payloads(list(messages))


def messages_before(
    *, chat_id: int, before: int | None = None, limit: int = HISTORY_PAGE
) -> tuple[list[Message], bool]:
    """A page of history, oldest first, ending just before seq `before` (keyset)."""
    qs = _with_sender_name(Message.objects.filter(chat_id=chat_id))
    if before is not None:
        qs = qs.filter(seq__lt=before)
    rows = list(qs.order_by("-seq")[: limit + 1])
    has_more = len(rows) > limit
    return rows[:limit][::-1], has_more


AROUND = 25


def messages_around(
    *, chat_id: int, seq: int, side: int = AROUND
) -> tuple[list[Message], bool, bool]:
    """Message `seq` with up to `side` messages before and after it, oldest first, and
    whether older and newer ones follow (the history a search result opens at)."""
    older, has_older = messages_before(chat_id=chat_id, before=seq + 1, limit=side + 1)
    newer, has_newer = messages_after(chat_id=chat_id, after=seq, limit=side)
    return older + newer, has_older, has_newer


def messages_after(
    *, chat_id: int, after: int, limit: int = SYNC_LIMIT
) -> tuple[list[Message], bool]:
    """Messages with seq > `after`, oldest first, at most `limit`, and whether more follow."""
    qs = _with_sender_name(Message.objects.filter(chat_id=chat_id, seq__gt=after))
    rows = list(qs.order_by("seq")[: limit + 1])
    return rows[:limit], len(rows) > limit


@dataclass(frozen=True)
class HistoryPage:
    messages: list[Message]  # oldest first
    has_older: bool  # known for a page before a seq, the latest, and around a seq
    has_newer: bool  # known for a page after a seq and around a seq
    around: int | None  # the seq the page was opened around, when it was


def history_page(
    *,
    chat_id: int,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
    limit: int = HISTORY_PAGE,
) -> HistoryPage:
    """The page of a chat's history the chat page and the API show: `limit` messages after
    seq `after`, else before seq `before`, else `around` a seq (AROUND each side), else the
    latest. The edges decide what to do with more than one (the API refuses it)."""
    if after is not None:
        page, has_newer = messages_after(chat_id=chat_id, after=after, limit=limit)
        return HistoryPage(page, False, has_newer, None)
    if before is None and around is not None:
        page, has_older, has_newer = messages_around(chat_id=chat_id, seq=around)
        return HistoryPage(page, has_older, has_newer, around)
    page, has_older = messages_before(chat_id=chat_id, before=before, limit=limit)
    return HistoryPage(page, has_older, False, None)


def message_changes(
    *, chat_id: int, since: int, before: int | None = None, limit: int = SYNC_LIMIT
) -> tuple[list[Message], bool]:
    """Messages whose latest change has a version > `since` (and < `before`), in version
    order, at most `limit`, and whether more follow: each changed message once, as it is now."""
    qs = Message.objects.filter(chat_id=chat_id, version__gt=since)
    if before is not None:
        qs = qs.filter(version__lt=before)
    rows = list(_with_sender_name(qs).order_by("version")[: limit + 1])
    return rows[:limit], len(rows) > limit


def message_payload(
    message: Message, reactions: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """The JSON form of a message, shared by the socket and the API; `reactions` from
    `reactions_of` (none on a new message: `message_payloads` reads them)."""
    shown = rules.message_shown(message)
    return {
        "id": message.pk,
        "chat": message.chat_id,
        "seq": message.seq,
        "sender": message.sender.display_name,
        "body": message.body if shown else "",
        "sent_at": iso_utc(message.created_at),
        "client_id": message.client_id,
        "removed": message.removed_at is not None,
        "version": message.version,
        "edited_at": iso_utc(message.edited_at) if message.edited_at else None,
        "deleted": message.deleted_at is not None,
        "reply_to": quote_of(message),
        "reactions": (reactions or {}) if shown else {},
    }


def quote_of(message: Message) -> dict[str, Any] | None:
    """What a reply shows of the message it answers (None for a plain message)."""
    if message.reply_to_id is None or message.reply_to is None:
        return None
    original = message.reply_to
    shown = rules.message_shown(original)
    return {
        "seq": original.seq,
        "sender": original.sender.display_name,
        "body": original.body[:QUOTE_CHARS] if shown else "",
        "deleted": not shown,
    }


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix."""
    if value.tzinfo is not UTC:  # what the database and timezone.now() give is UTC already
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def is_blocked(*, blocker_id: int, blocked_id: int) -> bool:
    """Whether `blocker_id` blocked `blocked_id` (this way only: who is told to unblock);
    whether a block stands between two users is `rules.blocked_peers`."""
    return Block.objects.filter(blocker_id=blocker_id, blocked_id=blocked_id).exists()


def read_receipts_shared(*, viewer: User, subject: User) -> bool:
    """Whether `viewer` sees `subject`'s read receipts: both must send them (reciprocal)."""
    return viewer.send_read_receipts and subject.send_read_receipts


def presence_audiences(*, users: Sequence[User | PresenceSubject]) -> dict[int, list[int]]:
    """The users told when each of `users` goes online or offline: those sharing a chat
    with them who may see their presence (no block between them); one statement for all."""
    ids = [u.pk for u in users if not u.hide_presence]
    out: dict[int, list[int]] = {u.pk: [] for u in users}
    if not ids:
        return out
    with connection.cursor() as cursor:
        # PostgreSQL takes the ids as one array: psycopg caches the conversion of a
        # statement with at most 50 parameters only, and re-parsing a long IN list for every
        # batch of connects was a twentieth of a connect storm's CPU.
        among_args: list[Any]
        if connection.vendor == "postgresql":
            among, among_args = "= ANY(%s)", [ids]
        else:
            among, among_args = f"IN ({', '.join(['%s'] * len(ids))})", ids
        cursor.execute(
            f"SELECT mine.user_id, u.id FROM {Membership._meta.db_table} mine "
            f"JOIN {Membership._meta.db_table} m ON m.chat_id = mine.chat_id "
            "AND m.user_id <> mine.user_id "
            f"JOIN {User._meta.db_table} u ON u.id = m.user_id "
            f"WHERE mine.user_id {among} AND u.hide_presence = %s "
            f"AND NOT {rules.block_between_sql('mine.user_id', 'u.id')} ORDER BY u.id",
            [*among_args, False],
        )
        for user_id, peer_id in cursor.fetchall():
            out[user_id].append(peer_id)
    return out


def chat_peer_ids(*, user_id: int) -> list[int]:
    """Everyone who shares a chat with the user, in id order, in one query."""
    peers = Membership.objects.filter(chat__memberships__user_id=user_id).exclude(user_id=user_id)
    return list(peers.values_list("user_id", flat=True).distinct().order_by("user_id"))


@dataclass(frozen=True, slots=True)
class PresenceSubject:
    """What a presence announcement reads of its subject: who, and whether they hide their
    presence (`presence_audiences`). Not a User: building a model instance per user of a
    connect storm's batch was a fortieth of the storm's CPU."""

    pk: int
    username: str
    hide_presence: bool


_PRESENCE_COLUMNS = ("id", "username", "hide_presence")


def users_for_presence(*, user_ids: list[int]) -> list[PresenceSubject]:
    """These users as presence subjects, in id order. Raw SQL with the ids as one array on
    PostgreSQL, as `presence_audiences`: a connect storm's batches run it with hundreds of
    ids."""
    if connection.vendor != "postgresql":
        rows = User.objects.filter(pk__in=user_ids).order_by("pk").values_list(*_PRESENCE_COLUMNS)
        return [PresenceSubject(*row) for row in rows]
    if not user_ids:
        return []
    columns = ", ".join(connection.ops.quote_name(name) for name in _PRESENCE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {User._meta.db_table} WHERE id = ANY(%s) ORDER BY id",
            [list(user_ids)],
        )
        return [PresenceSubject(*row) for row in cursor.fetchall()]


def messages_by_client_id(*, sender: User, client_ids: list[str]) -> dict[str, Message]:
    """The sender's stored messages with these client_ids (resends), by client_id."""
    if not client_ids:
        return {}
    found = Message.objects.filter(sender_id=sender.pk, client_id__in=client_ids)
    return {m.client_id: _with_sender(m, sender) for m in found}


def _with_sender(message: Message, sender: User) -> Message:
    message.sender = sender
    return message


# Unread counts: the rule and its SQL are chats/rules.py's (`unread_total_sql`).


def unread_of_members(*, chat_ids: list[int]) -> dict[tuple[int, int], tuple[int, int]]:
    """(unread in the chat, unread in all their chats) for each member of each of
    `chat_ids`, keyed by (chat_id, user_id), in one query."""
    if not chat_ids:
        return {}
    membership, chat = Membership._meta.db_table, Chat._meta.db_table
    marks = ", ".join(["%s"] * len(chat_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.chat_id, m.user_id, c.last_seq - m.read_seq, "
            f"{rules.unread_total_sql('m.user_id')} FROM {membership} m "
            f"JOIN {chat} c ON c.id = m.chat_id WHERE m.chat_id IN ({marks})",
            chat_ids,
        )
        return {
            (chat_id, user_id): (max(0, here or 0), max(0, total or 0))
            for chat_id, user_id, here, total in cursor.fetchall()
        }
