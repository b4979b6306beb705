"""Migration 0003 gives existing rows their first version (version = seq)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("chats", "0002_moderation")]
AFTER = [("chats", "0003_change_version")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_existing_messages_and_chats_start_at_version_seq():
    old = migrate(BEFORE)
    try:
        User = old.get_model("accounts", "User")
        Chat, Membership = old.get_model("chats", "Chat"), old.get_model("chats", "Membership")
        Message = old.get_model("chats", "Message")
        a, b = User.objects.create(username="a"), User.objects.create(username="b")
        low, high = sorted([a, b], key=lambda u: u.pk)
        chat = Chat.objects.create(user_low=low, user_high=high, last_seq=3)
        Membership.objects.create(user=a, chat=chat)
        for seq in (1, 2, 3):
            Message.objects.create(chat=chat, seq=seq, sender=a, body="x", client_id=f"c{seq}")
        new = migrate(AFTER)
        rows = new.get_model("chats", "Message").objects.order_by("seq")
        assert [(m.seq, m.version) for m in rows] == [(1, 1), (2, 2), (3, 3)]
        assert new.get_model("chats", "Chat").objects.get(pk=chat.pk).version == 3
    finally:
        migrate(executor_leaf())


def executor_leaf():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
