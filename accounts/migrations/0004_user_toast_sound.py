"""The toast sound setting (issue 23, item 9).

SQLite adds a NOT NULL column by rebuilding the table, which drops the indexes made with raw
SQL (0002's accounts_user_search_key): it is made again here.
"""

from django.db import migrations, models

from accounts.migrations._vendor import VendorRunSQL

SQLITE_SEARCH_KEY = (
    "CREATE INDEX IF NOT EXISTS accounts_user_search_key ON accounts_user "
    "(username COLLATE NOCASE)"
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_search_trigrams_cover_punctuation"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="toast_sound",
            field=models.BooleanField(
                default=False, help_text="Play a short sound when a message toast appears."
            ),
        ),
        VendorRunSQL("sqlite", sql=SQLITE_SEARCH_KEY, reverse_sql=migrations.RunSQL.noop),
    ]
