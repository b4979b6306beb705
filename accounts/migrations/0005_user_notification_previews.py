"""User.notification_previews (issue 17).

On SQLite, adding (and removing) a NOT NULL column rebuilds the table, which drops the
search index that 0002 made with raw SQL (Django does not know it): it is made again after
the rebuild, both ways.
"""

from django.db import migrations, models

from accounts.migrations._vendor import VendorRunSQL

SQLITE_SEARCH_INDEX = (
    "CREATE INDEX IF NOT EXISTS accounts_user_search_key ON accounts_user (username COLLATE NOCASE)"
)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0004_user_toast_sound"),
    ]

    operations = [
        VendorRunSQL("sqlite", sql=migrations.RunSQL.noop, reverse_sql=SQLITE_SEARCH_INDEX),
        migrations.AddField(
            model_name="user",
            name="notification_previews",
            field=models.BooleanField(default=True, help_text="Show message text in notifications."),
        ),
        VendorRunSQL("sqlite", sql=SQLITE_SEARCH_INDEX, reverse_sql=migrations.RunSQL.noop),
    ]
