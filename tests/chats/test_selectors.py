"""Selectors' pure helpers (the queries are tested through the services and views)."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chats.selectors import iso_utc


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 7, 13, 4, 5, 120000, tzinfo=UTC),
        datetime(2026, 12, 7, 15, 4, 5, 120000, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 12, 7, 14, 4, 5, 120000, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(2026, 12, 7, 13, 4, 5, 120000, tzinfo=ZoneInfo("UTC")),
    ],
    ids=["utc", "offset", "zone", "zoneinfo-utc"],
)
def test_iso_utc_gives_the_instant_in_utc_with_a_z(value):
    assert iso_utc(value) == "2026-12-07T13:04:05.120000Z"
