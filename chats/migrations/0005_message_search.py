"""The message search index (chats/search.py), one per database, kept by the database.

PostgreSQL: a stored generated `tsvector` (the `simple` configuration, accents folded by
`translate` with chats.search_text's table) that is empty once a message is deleted or
removed, with a GIN index. SQLite: a contentless FTS5 table kept in step by triggers on the
message table. Every writer of a body (the services, the one-statement send path, the
moderators' removal) is covered without knowing about the index. Neither is in the model
state: each operation runs only on its own vendor.
"""

import unicodedata

from django.db import migrations

from accounts.migrations._vendor import VendorRunSQL


def _fold_pairs() -> tuple[str, str]:
    """Latin letters with diacritics (U+00C0-U+024F) and their lower-case base letter (the
    table as it was when this migration was written: 0007 replaces the column)."""
    src, dst = [], []
    for code in range(0xC0, 0x250):
        char = chr(code)
        parts = unicodedata.normalize("NFKD", char)
        base = "".join(c for c in parts if not unicodedata.combining(c)).lower()
        if len(base) == 1 and base.isascii() and base.isalpha() and base != char:
            src.append(char)
            dst.append(base)
    return "".join(src), "".join(dst)


FOLD_FROM, FOLD_TO = _fold_pairs()

SHOWN = "{row}.deleted_at IS NULL AND {row}.removed_at IS NULL"

PG_COLUMN = (
    "ALTER TABLE chats_message ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "CASE WHEN deleted_at IS NULL AND removed_at IS NULL THEN "
    f"to_tsvector('simple'::regconfig, translate(body, '{FOLD_FROM}', '{FOLD_TO}')) "
    "ELSE ''::tsvector END) STORED"
)

FTS_ADD = "INSERT INTO chats_message_fts (rowid, body) SELECT {row}.id, {row}.body WHERE " + SHOWN
FTS_DROP = (
    "INSERT INTO chats_message_fts (chats_message_fts, rowid, body) "
    "SELECT 'delete', {row}.id, {row}.body WHERE " + SHOWN
)

SQLITE = [
    "CREATE VIRTUAL TABLE chats_message_fts USING fts5("
    "body, content='', tokenize = 'unicode61 remove_diacritics 2')",
    "INSERT INTO chats_message_fts (rowid, body) SELECT id, body FROM chats_message WHERE "
    + SHOWN.format(row="chats_message"),
    "CREATE TRIGGER chats_message_fts_insert AFTER INSERT ON chats_message BEGIN "
    + FTS_ADD.format(row="new")
    + "; END",
    "CREATE TRIGGER chats_message_fts_delete AFTER DELETE ON chats_message BEGIN "
    + FTS_DROP.format(row="old")
    + "; END",
    "CREATE TRIGGER chats_message_fts_update AFTER UPDATE OF body, deleted_at, removed_at "
    "ON chats_message BEGIN "
    + FTS_DROP.format(row="old")
    + "; "
    + FTS_ADD.format(row="new")
    + "; END",
]


class Migration(migrations.Migration):
    dependencies = [
        ("chats", "0004_living_messages"),
    ]

    operations = [
        VendorRunSQL(
            "postgresql",
            sql=[
                PG_COLUMN,
                # GIN's default fastupdate: a send adds to the pending list, not the tree.
                "CREATE INDEX chats_message_search ON chats_message USING gin (search)",
            ],
            reverse_sql=[
                "DROP INDEX IF EXISTS chats_message_search",
                "ALTER TABLE chats_message DROP COLUMN IF EXISTS search",
            ],
        ),
        VendorRunSQL(
            "sqlite",
            sql=SQLITE,
            reverse_sql=[
                "DROP TRIGGER IF EXISTS chats_message_fts_insert",
                "DROP TRIGGER IF EXISTS chats_message_fts_delete",
                "DROP TRIGGER IF EXISTS chats_message_fts_update",
                "DROP TABLE IF EXISTS chats_message_fts",
            ],
        ),
    ]
