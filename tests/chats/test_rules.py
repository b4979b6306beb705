"""Each rule of chats/rules.py on every path that implements it: the ORM form everywhere,
its SQL twin where PostgreSQL runs it."""

import pytest
from django.db import connection, transaction

from chats import rules
from chats.models import Chat, Message
from tests.factories import make_chat, make_messages

pytestmark = pytest.mark.django_db

POSTGRESQL = connection.vendor == "postgresql"
PATHS = ["orm", "sql"] if POSTGRESQL else ["orm"]


def change_message(path, message, assignments="", params=None):
    """Record a change to `message` by one path; the version it took."""
    with transaction.atomic():
        if path == "orm":
            return rules.message_version_take(message=message)
        with connection.cursor() as cursor:
            cursor.execute(
                rules.message_change_sql(assignments),
                {"message": message.pk, "chat": message.chat_id, **(params or {})},
            )
            row = cursor.fetchone()
        return None if row is None else row[0]


@pytest.mark.parametrize("path", PATHS)
def test_a_change_takes_the_chats_next_version_and_the_row_records_it(path, alice, bob):
    chat = make_chat(alice, bob)
    first, second = make_messages(chat, alice, 2)
    assert (first.version, second.version) == (1, 2)
    assert change_message(path, first) == 3
    assert change_message(path, second) == 4
    assert change_message(path, first) == 5
    assert Chat.objects.get(pk=chat.pk).version == 5
    assert dict(Message.objects.values_list("seq", "version")) == {1: 5, 2: 4}
    # New messages go on from the same counter.
    [third] = make_messages(chat, bob, 1)
    assert (third.seq, third.version) == (3, 6)


@pytest.mark.parametrize("path", PATHS)
def test_versions_are_per_chat(path, alice, bob, carol):
    ab, ac = make_chat(alice, bob), make_chat(alice, carol)
    [in_ab] = make_messages(ab, alice, 1)
    make_messages(ac, alice, 3)
    assert change_message(path, in_ab) == 2
    assert Chat.objects.get(pk=ac.pk).version == 3


@pytest.mark.skipif(not POSTGRESQL, reason="the SQL twin is PostgreSQL's")
def test_the_sql_twin_applies_the_change_with_its_version_and_refuses_a_foreign_chat(
    alice, bob, carol
):
    ab, ac = make_chat(alice, bob), make_chat(alice, carol)
    [message] = make_messages(ab, alice, 1)
    assert change_message("sql", message, "removed_reason = %(why)s", {"why": "spam"}) == 2
    message.refresh_from_db()
    assert (message.version, message.removed_reason) == (2, "spam")
    foreign = Message(pk=message.pk, chat_id=ac.pk)
    assert change_message("sql", foreign) is None
    assert Chat.objects.get(pk=ac.pk).version == 0
