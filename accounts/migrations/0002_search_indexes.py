"""Indexes for user search (accounts.selectors.user_search), one set per database.

They are not in the model state: their expressions are vendor-specific (COLLATE "C" and
pg_trgm exist only on PostgreSQL, NOCASE only on SQLite), so each operation runs only on its
own vendor and is a no-op elsewhere.
"""

from django.db import migrations

from accounts.migrations._vendor import VendorRunSQL


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        # Exact and prefix matches: a range scan on lower(username) in byte order, which also
        # yields rows in ORDER BY order (a text_pattern_ops index cannot serve the ORDER BY).
        VendorRunSQL(
            "postgresql",
            sql='CREATE INDEX accounts_user_search_key ON accounts_user '
            '((lower(username) COLLATE "C")) WHERE is_active',
            reverse_sql="DROP INDEX IF EXISTS accounts_user_search_key",
        ),
        # Substring matches: lower(username) LIKE '%q%' through trigrams. fastupdate off:
        # sign-ups are rare and searches frequent, so new names go straight into the index
        # rather than into a pending list that every search would have to scan.
        VendorRunSQL(
            "postgresql",
            sql=[
                "CREATE EXTENSION IF NOT EXISTS pg_trgm",
                "CREATE INDEX accounts_user_username_trgm ON accounts_user "
                "USING gin (lower(username) gin_trgm_ops) WITH (fastupdate = off) WHERE is_active",
            ],
            reverse_sql="DROP INDEX IF EXISTS accounts_user_username_trgm",
        ),
        VendorRunSQL(
            "sqlite",
            sql="CREATE INDEX accounts_user_search_key ON accounts_user (username COLLATE NOCASE)",
            reverse_sql="DROP INDEX IF EXISTS accounts_user_search_key",
        ),
    ]
