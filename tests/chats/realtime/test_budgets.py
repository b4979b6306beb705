"""Budgets for every frame a client can ask for (issue 21): `sync`, `read` and `typing` per
user across all their sockets; over budget the frame gets `rate_limited` with `retry_after`
and nothing is done; the socket keeps working."""

import pytest
from channels.db import database_sync_to_async

from chats.models import Membership
from tests.chats.realtime.test_consumer import marker, send_and_ack
from tests.factories import make_chat, make_messages

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


def assert_rate_limited(frame, chat, window):
    assert (frame["type"], frame["code"], frame["chat"]) == ("error", "rate_limited", chat.pk)
    assert isinstance(frame["retry_after"], int) and 1 <= frame["retry_after"] <= window
    assert frame["detail"]


async def test_sync_is_budgeted_per_user_across_sockets(socket, settings, alice, bob):
    settings.SYNC_RATE = (3, 60)
    chat = await db(make_chat)(alice, bob)
    await db(make_messages)(chat, bob, 2)
    a, b = await socket(alice), await socket(alice)
    for sock in (a, a, b):
        await sock.send({"type": "sync", "chat": chat.pk, "after": 0})
        _, frames = await sock.recv_until("synced")
        assert len([f for f in frames if f["type"] == "message"]) == 2
    await b.send({"type": "sync", "chat": chat.pk, "after": 0})
    refused = await b.recv()
    assert_rate_limited(refused, chat, 60)
    # Nothing was sent for the refused sync: the next frame is the marker's.
    seen = await marker(a, [b], chat)
    assert [f["type"] for f in seen] == ["message"]


async def test_read_is_budgeted_and_over_budget_moves_nothing(socket, settings, alice, bob):
    settings.READ_RATE = (2, 60)
    chat = await db(make_chat)(alice, bob)
    await db(make_messages)(chat, bob, 3)
    a = await socket(alice)
    await a.send({"type": "read", "chat": chat.pk, "seq": 1})
    await a.send({"type": "read", "chat": chat.pk, "seq": 2})
    await a.send({"type": "read", "chat": chat.pk, "seq": 3})
    refused, _ = await a.recv_until("error")
    assert_rate_limited(refused, chat, 60)
    membership = await db(Membership.objects.get)(user=alice, chat=chat)
    assert membership.read_seq == 2
    await send_and_ack(a, chat)  # the socket still works


async def test_typing_is_budgeted_per_user_before_any_query(socket, settings, alice, bob):
    settings.TYPING_RATE = (2, 60)
    chat = await db(make_chat)(alice, bob)
    a = await socket(alice)
    # Foreign chat ids count too: the budget is the user's, checked before the chat is read.
    await a.send({"type": "typing", "chat": chat.pk + 100})
    assert (await a.recv())["code"] == "not_found"
    await a.send({"type": "typing", "chat": chat.pk + 101})
    assert (await a.recv())["code"] == "not_found"
    await a.send({"type": "typing", "chat": chat.pk + 102})
    refused = await a.recv()
    assert (refused["code"], refused["chat"]) == ("rate_limited", chat.pk + 102)
    assert 1 <= refused["retry_after"] <= 60
