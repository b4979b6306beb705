"""bench/capacity.py drives the product's send path correctly: every message it counts is
stored, in gapless seqs, and the receipts it times move the pointers. No timing assertions."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.db.models import Count, Max

from bench import capacity
from chats.models import Chat, Membership, Message

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the send statement is PostgreSQL's"
    ),
]


def database_url() -> str:
    s = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"], host=s["HOST"], port=s["PORT"]
    )


def test_counted_sends_are_stored_in_gapless_seqs():
    senders = capacity.seed_senders(6, chats_per_user=3)
    for sender in senders:
        for user in (sender.user_id, sender.peer_id):
            assert Membership.objects.filter(user_id=user).count() == 3
    result = capacity.send_statement(
        senders, url=database_url(), connections=2, batch=3, seconds=0.3, body="hi"
    )
    assert result["refused"] == 0
    assert result["messages"] == 3 * result["statements"] > 0
    assert Message.objects.count() == result["messages"]
    sent_to = [s.chat_id for s in senders]
    chats = Chat.objects.filter(pk__in=sent_to)
    for chat in chats.annotate(n=Count("messages"), top=Max("messages__seq")):
        assert chat.n == (chat.top or 0) == chat.last_seq


def test_receipts_move_the_recipients_pointers_to_the_last_message():
    senders = capacity.seed_senders(20)
    result = capacity.receipts(senders, url=database_url(), seconds=0.1, body="hi")
    assert result["messages"] == Message.objects.count() > 0
    assert result["same_django_backend"]
    for sender in senders:
        peer = Membership.objects.get(chat_id=sender.chat_id, user_id=sender.peer_id)
        last = Chat.objects.get(pk=sender.chat_id).last_seq
        assert peer.read_seq == peer.delivered_seq == last > 0
