"""The substring index reads `.`, `_` and `-` as letters.

pg_trgm makes trigrams of runs of letters and digits only, so a query such as "v._" or
"ab.cd" gave the old index (on lower(username)) no trigram of its own, only the word edges
around the punctuation: the bitmap matched a large part of the table and every row had to be
rechecked (tens of ms at 100,000 users). Mapped to letters, every query of 3+ characters has
at least one trigram; accounts.selectors rechecks the real LIKE on the rows the index finds.
"""

from django.db import migrations

from accounts.migrations._vendor import VendorRunSQL

OLD = (
    "CREATE INDEX accounts_user_username_trgm ON accounts_user "
    "USING gin (lower(username) gin_trgm_ops) WITH (fastupdate = off) WHERE is_active"
)
NEW = (
    "CREATE INDEX accounts_user_username_trgm ON accounts_user "
    "USING gin (translate(lower(username), '._-', 'qxz') gin_trgm_ops) "
    "WITH (fastupdate = off) WHERE is_active"
)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_search_indexes"),
    ]

    operations = [
        VendorRunSQL(
            "postgresql",
            sql=["DROP INDEX IF EXISTS accounts_user_username_trgm", NEW],
            reverse_sql=["DROP INDEX IF EXISTS accounts_user_username_trgm", OLD],
        ),
    ]
