"""SQLite: `chats_message_terms`, an fts5vocab `instance` table over `chats_message_fts`:
the words the index holds, in order. Search turns a query word into an OR of the indexed words that
start with it (chats.search._fts5_match): FTS5 answers a prefix term by merging the doclists
of all its words in memory before the first row, an OR of exact words row by row, so a page
of a common word stops early. It stores nothing (it reads the FTS5 index). PostgreSQL is
unchanged.
"""

from django.db import migrations

from accounts.migrations._vendor import VendorRunSQL


class Migration(migrations.Migration):
    dependencies = [
        ("chats", "0007_message_search_words"),
    ]

    operations = [
        VendorRunSQL(
            "sqlite",
            sql="CREATE VIRTUAL TABLE chats_message_terms USING fts5vocab(chats_message_fts, instance)",
            reverse_sql="DROP TABLE chats_message_terms",
        ),
    ]
