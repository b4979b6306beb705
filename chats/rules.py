"""The rules every message change follows, each stated once.

Each rule has its portable form (ORM or plain SQL that SQLite and PostgreSQL both run), and
where PostgreSQL runs it inside one statement for speed, its SQL twin is built here, beside
it, from the same pieces; tests/chats/test_rules.py runs every rule on both.

- membership: a user is a member of a chat when a Membership row says so, never by the
  chat's pair columns (those only keep one chat per pair) (`member_of`, `members_of`;
  twin: `_MEMBERS`);
- blocks: a block stands between two users when either has blocked the other
  (`block_between`, which `blocked_peers` and the chat list's `blocked` flag use; twin:
  `block_between_sql`);
- who may send to a chat: a member, with no block either way between the two members,
  to a peer whose account is not deleted (`send_targets`; twin: the `t` part of
  `send_one_chat_sql`);
- seqs and versions: a new message takes the chat's next seq and next version, a change to
  a message the next version, under the chat row's lock (`seqs_take`, `versions_take`,
  `message_version_take`; twins: `send_one_chat_sql`'s `s`, `message_change_sql`);
- replying marks read: a sender has read and received everything up to their message
  (`reply_marks_read`; twin: `send_one_chat_sql`'s `p`);
- unread counts: a member's unread is the chat's last_seq minus their read_seq, their
  total the sum over their chats (`unread_total_sql`, read by chats.selectors);
- members see a message's text unless its author deleted it or a moderator removed it
  (`message_shown`), and a reply answers such a message of its own chat (`reply_targets`;
  no twin: send_path hands a chat's sends with a `reply_to` to the portable path).
Validation and rate limits belong to the edges (chats/validation.py, chats/limits.py):
everything here trusts typed, clean input.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q

from accounts.models import User
from chats.models import Block, Chat, Membership, Message
from chats.validation import Refused

_CHAT, _MEMBERSHIP = Chat._meta.db_table, Membership._meta.db_table
_MESSAGE, _BLOCK = Message._meta.db_table, Block._meta.db_table
_USER = User._meta.db_table

# -- Membership: the Membership rows ----------------------------------------------------


def member_of(user_id: int) -> Q:
    """A filter on Chat: the chats `user_id` is a member of."""
    return Q(memberships__user_id=user_id)


def members_of(*, chat_ids: Iterable[int]) -> dict[int, list[int]]:
    """The members of each of `chat_ids`, in id order, in one query (none for no chats: the
    receipts writer asks on every flush, and its deliveries mostly know their peer)."""
    ids = list(chat_ids)
    if not ids:
        return {}
    rows = Membership.objects.filter(chat_id__in=ids).order_by("chat_id", "user_id")
    members: dict[int, list[int]] = {}
    for chat_id, user_id in rows.values_list("chat_id", "user_id"):
        members.setdefault(chat_id, []).append(user_id)
    return members


# The memberships of `user` (me) and the other member (peer) of chat c: the SQL twin of
# `member_of`, shared by both forms of who may send.
_MEMBERS = (
    f"FROM {_CHAT} c JOIN {_MEMBERSHIP} me ON me.chat_id = c.id AND me.user_id = {{user}} "
    f"JOIN {_MEMBERSHIP} peer ON peer.chat_id = c.id AND peer.user_id <> {{user}}"
)


# -- Blocks: either way between two users -------------------------------------------------


def block_between(a: Any, b: Any) -> Exists:
    """The rule as an ORM condition: a block stands between the users `a` and `b` (ids, or
    expressions such as `OuterRef`), either way."""
    return Exists(
        Block.objects.filter(Q(blocker_id=a, blocked_id=b) | Q(blocker_id=b, blocked_id=a))
    )


def blocked_peers(*, user_id: int, peer_ids: Iterable[int]) -> set[int]:
    """Those of `peer_ids` with a block between them and `user_id`, either way."""
    wanted = list(peer_ids)
    if not wanted:
        return set()
    peers = User.objects.filter(block_between(user_id, OuterRef("pk")), pk__in=wanted)
    return set(peers.values_list("pk", flat=True))


def block_between_sql(a: str, b: str) -> str:
    """The SQL twin of `block_between` (SQLite and PostgreSQL): a block stands between the
    users whose ids are the SQL expressions `a` and `b`."""
    return (
        f"EXISTS (SELECT 1 FROM {_BLOCK} bk WHERE (bk.blocker_id = {a} AND bk.blocked_id = {b}) "
        f"OR (bk.blocker_id = {b} AND bk.blocked_id = {a}))"
    )


# -- Who may send: members, with no block between the two, to an account not deleted -------


@dataclass(frozen=True)
class SendTarget:
    """A chat `user` may store messages in (a member), its other member, whether a block
    stands between the two, and whether the peer's account was deleted (in either case
    only resends are acked)."""

    chat_id: int
    peer_id: int
    blocked: bool
    peer_deleted: bool = False


_BLOCKED = block_between_sql("me.user_id", "peer.user_id")
# The peer's account was deleted: its chats stay readable and take no new messages.
_PEER_DELETED = (
    f"EXISTS (SELECT 1 FROM {_USER} du WHERE du.id = peer.user_id AND du.deleted_at IS NOT NULL)"
)


def send_targets(*, user_id: int, chat_ids: list[int]) -> dict[int, SendTarget]:
    """Those of `chat_ids` that `user_id` is a member of, each with the peer and whether
    a block stands between the two, in one query."""
    if not chat_ids:
        return {}
    marks = ", ".join(["%s"] * len(chat_ids))
    sql = (
        f"SELECT c.id, peer.user_id, {_BLOCKED}, {_PEER_DELETED} "
        f"{_MEMBERS.format(user='%s')} WHERE c.id IN ({marks})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, user_id, *chat_ids])
        rows = cursor.fetchall()
    return {
        chat_id: SendTarget(
            chat_id=chat_id, peer_id=peer_id, blocked=bool(blocked), peer_deleted=bool(deleted)
        )
        for chat_id, peer_id, blocked, deleted in rows
    }


# -- Seqs and versions: one gapless counter each, under the chat row's lock -----------------
#
# Every change to a chat's messages (a new message, a moderator's removal; later edits,
# deletions, reactions) takes the chat's next version inside its transaction, and the
# changed row records it; a new message also takes the next seq. The chat row's lock is held
# until commit, so both are gapless and in commit order: a client that has everything up to
# version v and asks for `since: v` misses nothing.

_SEQS_SQL = (
    f"UPDATE {_CHAT} SET last_seq = last_seq + %s, version = version + %s, "
    "last_message_at = %s WHERE id = %s RETURNING last_seq, version"
)
_TAKE_VERSIONS_SQL = f"UPDATE {_CHAT} SET version = version + %s WHERE id = %s RETURNING version"


def seqs_take(*, chat_id: int, count: int, now: datetime) -> tuple[int, int]:
    """Take `count` seqs and versions for new messages (in the caller's transaction): the
    last seq and the last version. Message k (from 1) gets last - count + k of each."""
    with connection.cursor() as cursor:
        stamp = connection.ops.adapt_datetimefield_value(now)
        cursor.execute(_SEQS_SQL, [count, count, stamp, chat_id])
        last, version = cursor.fetchone()
    return int(last), int(version)


def versions_take(*, chat_id: int, count: int = 1) -> int:
    """Take the chat's next `count` versions (in the caller's transaction); the last one."""
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_VERSIONS_SQL, [count, chat_id])
        row = cursor.fetchone()
    if row is None:
        raise Chat.DoesNotExist
    return int(row[0])


def message_version_take(*, message: Message) -> int:
    """Record a change to `message` (made in the caller's transaction): the chat's next
    version, on the row and on `message`; returns it."""
    version = versions_take(chat_id=message.chat_id)
    Message.objects.filter(pk=message.pk).update(version=version)
    message.version = version
    return version


def versions_write(rows: list[tuple[int, int]], fields: dict[str, Any]) -> None:
    """`message_version_take` for many messages whose versions the caller took
    (`versions_take`): each message (id, version) gets its version and `fields`, in one
    statement joined to the rows (UPDATE ... FROM: SQLite 3.33+ and PostgreSQL). Django's
    bulk_update built a CASE per field and row: 13 s for 10,000 messages; a statement per
    row, 6 s."""
    if not rows:
        return
    values = [
        connection.ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v
        for v in fields.values()
    ]
    assignments = "".join(f", {connection.ops.quote_name(name)} = %s" for name in fields)
    pairs = ", ".join(["(%s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v (id, version) AS (VALUES {pairs}) UPDATE {_MESSAGE} "
            f"SET version = v.version{assignments} FROM v WHERE {_MESSAGE}.id = v.id",
            [*(value for row in rows for value in row), *values],
        )


def message_change_sql(assignments: str = "") -> str:
    """`message_version_take` as one PostgreSQL statement, with the change itself:
    `assignments` (say "removed_at = %(at)s") are applied to message %(message)s of chat
    %(chat)s together with its new version, which the statement returns (no row: no such
    message in that chat, and no version taken)."""
    extra = f", {assignments}" if assignments else ""
    return (
        f"WITH target AS (SELECT id FROM {_MESSAGE} WHERE id = %(message)s "
        "AND chat_id = %(chat)s), "
        f"v AS (UPDATE {_CHAT} c SET version = c.version + 1 FROM target "
        "WHERE c.id = %(chat)s RETURNING c.version) "
        f"UPDATE {_MESSAGE} m SET version = v.version{extra} FROM v "
        "WHERE m.id = %(message)s RETURNING m.version"
    )


# -- Replying marks read: the sender has read (and so received) everything before it -------

_REPLY_MARKS_READ = (
    "read_seq = CASE WHEN read_seq < {seq} THEN {seq} ELSE read_seq END, "
    "delivered_seq = CASE WHEN delivered_seq < {seq} THEN {seq} ELSE delivered_seq END"
)


def reply_marks_read(*, chat_id: int, user_id: int, seq: int) -> None:
    """The member's read and delivered pointers move to `seq` (never back): a sender's to
    their message, a reader's to what they read (services.chat_mark_read)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_MEMBERSHIP} SET {_REPLY_MARKS_READ.format(seq='%(seq)s')} "
            "WHERE chat_id = %(chat)s AND user_id = %(user)s",
            {"seq": seq, "chat": chat_id, "user": user_id},
        )


# -- Unread counts: last_seq - read_seq, summed over a user's chats ------------------------
#
# Sending moves the sender's read_seq to their message, so only the peer's messages count.
# ChatSummary.unread (pages, API, hello), selectors.unread_of_members (what sockets are told)
# and the send statement below use the same rule.


def unread_total_sql(user: str) -> str:
    """SQL for the total unread of the user whose id is the SQL expression `user`: their
    memberships by index, each chat's last_seq by its key. A probe per membership, not a
    join, so that the plan cannot depend on the statistics: without them (a freshly loaded
    database) the join hashed the whole chat table (docs/benchmarks.md, "Settling the
    database")."""
    return (
        f"(SELECT COALESCE(SUM((SELECT c2.last_seq FROM {_CHAT} c2 WHERE c2.id = m2.chat_id) "
        f"- m2.read_seq), 0) FROM {_MEMBERSHIP} m2 WHERE m2.user_id = {user})"
    )


# -- What members see, and what a reply may answer ------------------------------------------


def message_shown(message: Message) -> bool:
    """Whether members see the message's text: not deleted by its author, nor removed."""
    return message.deleted_at is None and message.removed_at is None


def shown_q() -> Q:
    """`message_shown` as a filter on messages."""
    return Q(deleted_at=None, removed_at=None)


# What a reply's quote shows of the message it answers (chats.selectors.quote_of).
QUOTED_FIELDS = (
    "seq",
    "body",
    "deleted_at",
    "removed_at",
    "sender__username",
    "sender__deleted_at",
)


def reply_targets(*, chat_id: int, seqs: set[int]) -> dict[int, Message | Refused]:
    """For each of `seqs` that a send to chat `chat_id` names as `reply_to`: the message
    it answers (as history shows it, for the quote), or the refusal, `invalid` when the
    chat has no message with that seq and `gone` when it was deleted or removed."""
    rows = Message.objects.filter(chat_id=chat_id, seq__in=seqs).select_related("sender")
    found = {m.seq: m for m in rows.only(*QUOTED_FIELDS)}
    targets: dict[int, Message | Refused] = {}
    for seq in seqs:
        message = found.get(seq)
        if message is None:
            targets[seq] = Refused("invalid", "reply_to is not a message of this chat.")
        elif not message_shown(message):
            targets[seq] = Refused("gone", "The message replied to was deleted.")
        else:
            targets[seq] = message
    return targets


# -- New messages -----------------------------------------------------------------------

INSERT_COLUMNS = ("chat_id", "seq", "sender_id", "body", "client_id", "created_at", "version")


@functools.cache
def send_one_chat_sql(count: int) -> str:
    """A send of `count` messages to one chat as one PostgreSQL statement (one round trip,
    its own transaction), built from the rules above: who may send (`t`), the seqs and
    versions (`s`), the rows (`i`), replying marks read (`p`), and both members' unread
    counts. No row, and nothing written, when the sender may not send there.

    Every part sees the snapshot from before the statement, but the chat row's UPDATE waits
    for (and then sees) a concurrent send's seqs; the row lock is held to the end, so seqs
    and versions stay gapless and in commit order. The unread counts are worked out from
    that snapshot plus what this statement changes (the sender has read this chat; the peer
    has `count` more unread)."""
    values = ", ".join(f"({k}, %(b{k})s, %(c{k})s)" for k in range(1, count + 1))
    return (
        "WITH t AS (SELECT c.id, c.last_seq AS before, peer.user_id AS peer, "
        f"me.read_seq AS my_read, peer.read_seq AS peer_read {_MEMBERS.format(user='%(user)s')} "
        f"WHERE c.id = %(chat)s AND NOT {_BLOCKED} AND NOT {_PEER_DELETED}), "
        f"s AS (UPDATE {_CHAT} c SET last_seq = c.last_seq + %(n)s, "
        "version = c.version + %(n)s, last_message_at = %(now)s "
        # c.id by the parameter too: joined on t.id alone, a planner without statistics
        # hashed the whole chat table.
        "FROM t WHERE c.id = %(chat)s AND c.id = t.id RETURNING c.last_seq, c.version), "
        f"i AS (INSERT INTO {_MESSAGE} ({', '.join(INSERT_COLUMNS)}, removed_reason) "
        "SELECT %(chat)s, s.last_seq - %(n)s + v.k, %(user)s, v.body, v.client_id, %(now)s, "
        "s.version - %(n)s + v.k, '' "
        f"FROM s, (VALUES {values}) AS v (k, body, client_id) RETURNING id, seq), "
        f"p AS (UPDATE {_MEMBERSHIP} m SET {_REPLY_MARKS_READ.format(seq='s.last_seq')} "
        "FROM s WHERE m.chat_id = %(chat)s AND m.user_id = %(user)s) "
        "SELECT i.id, i.seq, s.last_seq, s.version, t.peer, "
        f"{unread_total_sql('%(user)s')} - (t.before - t.my_read), "
        "s.last_seq - t.peer_read, "
        f"{unread_total_sql('t.peer')} - t.before + s.last_seq "
        "FROM i CROSS JOIN s CROSS JOIN t"
    )


def send_one_chat_params(
    *, user_id: int, chat_id: int, now: datetime, sends: list[tuple[str, str]]
) -> dict[str, Any]:
    """The parameters of `send_one_chat_sql(len(sends))` for (client_id, body) sends."""
    params: dict[str, Any] = {"user": user_id, "chat": chat_id, "n": len(sends), "now": now}
    for k, (client_id, body) in enumerate(sends, start=1):
        params[f"b{k}"], params[f"c{k}"] = body, client_id
    return params
