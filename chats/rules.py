"""The rules every change to a chat follows, each stated once.

Where PostgreSQL runs a rule inside one statement for speed, its SQL twin is built here,
beside the ORM form, and tests/chats/test_rules.py runs both.
"""

from __future__ import annotations

from django.db import connection

from chats.models import Chat, Message

# -- Versions: one gapless change cursor per chat ----------------------------------------
#
# Every change to a chat's messages (a new message, a moderator's removal; later edits,
# deletions, reactions) takes the chat's next version inside its transaction, and the
# changed row records it. The chat row's lock is held until commit, so versions are
# gapless and in commit order: a client that has everything up to version v and asks for
# `since: v` misses nothing.

_TAKE_VERSIONS_SQL = (
    f"UPDATE {Chat._meta.db_table} SET version = version + %s WHERE id = %s RETURNING version"
)


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


def message_change_sql(assignments: str = "") -> str:
    """`message_version_take` as one PostgreSQL statement, with the change itself:
    `assignments` (say "removed_at = %(at)s") are applied to message %(message)s of chat
    %(chat)s together with its new version, which the statement returns (no row: no such
    message in that chat, and no version taken)."""
    chat, message = Chat._meta.db_table, Message._meta.db_table
    extra = f", {assignments}" if assignments else ""
    return (
        f"WITH target AS (SELECT id FROM {message} WHERE id = %(message)s "
        "AND chat_id = %(chat)s), "
        f"v AS (UPDATE {chat} c SET version = c.version + 1 FROM target "
        "WHERE c.id = %(chat)s RETURNING c.version) "
        f"UPDATE {message} m SET version = v.version{extra} FROM v "
        "WHERE m.id = %(message)s RETURNING m.version"
    )
