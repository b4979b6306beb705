"""PostgreSQL's search column cuts words as SQLite's FTS5 and the query parser do.

0005 indexed `to_tsvector('simple', <body with Latin accents folded>)`, whose parser keeps an
email address, a host, a URL or a decimal (`3.14`) as one word and drops `<b>` as a tag, so
`example` or `14` found a message on SQLite and not on PostgreSQL. The column is now built
from chats.search_text.pg_document: Latin marks removed, punctuation made spaces, case folded
as the query is. A generated column's expression cannot be altered before PostgreSQL 17: the
column is dropped and added again, which rewrites the table and rebuilds the GIN index
(docs/deploy.md: how long, and what to do on a large table). SQLite is unchanged.
"""

import importlib

from django.db import migrations

from accounts.migrations._vendor import VendorRunSQL
from chats.search_text import pg_document

SHOWN = "deleted_at IS NULL AND removed_at IS NULL"
DROP = [
    "DROP INDEX IF EXISTS chats_message_search",
    "ALTER TABLE chats_message DROP COLUMN IF EXISTS search",
]
# GIN's default fastupdate: a send adds to the pending list, not the tree.
INDEX = "CREATE INDEX chats_message_search ON chats_message USING gin (search)"
COLUMN = (
    "ALTER TABLE chats_message ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    f"CASE WHEN {SHOWN} THEN to_tsvector('simple'::regconfig, {pg_document('body')}) "
    "ELSE ''::tsvector END) STORED"
)
OLD_COLUMN = importlib.import_module("chats.migrations.0005_message_search").PG_COLUMN


class Migration(migrations.Migration):
    dependencies = [
        ("chats", "0006_moderation_log_account_deleted"),
    ]

    operations = [
        VendorRunSQL(
            "postgresql",
            sql=[*DROP, COLUMN, INDEX],
            reverse_sql=[*DROP, OLD_COLUMN, INDEX],
        ),
    ]
