"""Order under the rate limit (issue 23, bug 1), on the full ASGI app: once a send to a chat
is refused `rate_limited`, the socket's later new sends to that chat are refused too until
the refused client_id comes again or is discarded, whatever the batches or the limit's
windows; every such refusal says `retry_after`; a resend of a stored message keeps its ack,
with the message as it is now (issue 16)."""

import pytest
from channels.db import database_sync_to_async

from chats import message_changes
from chats.models import Message
from tests.chats.realtime.test_consumer import send_and_ack
from tests.factories import make_chat

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


def send(chat, client_id, body=None):
    return {"type": "send", "chat": chat.pk, "client_id": client_id, "body": body or client_id}


async def reply_to(sock, frame):
    """Send a frame and return the first ack or error the socket gets after it."""
    await sock.send(frame)
    while True:
        got = await sock.recv()
        if got["type"] in ("ack", "error"):
            return got


def assert_rate_limited(frame, chat, client_id, window):
    assert (frame["type"], frame["code"]) == ("error", "rate_limited")
    assert (frame["chat"], frame["client_id"]) == (chat.pk, client_id)
    assert isinstance(frame["retry_after"], int) and 1 <= frame["retry_after"] <= window


async def stored_bodies(chat):
    rows = Message.objects.filter(chat=chat).order_by("seq").values_list("body", flat=True)
    return await db(list)(rows)


async def test_a_refused_send_holds_the_chats_later_sends_across_windows(
    socket, settings, alice, bob, carol
):
    settings.SEND_RATE = (2, 3600)
    chat, other = await db(make_chat)(alice, bob), await db(make_chat)(alice, carol)
    a = await socket(alice)
    await send_and_ack(a, chat, body="one", client_id="one")
    await send_and_ack(a, chat, body="two", client_id="two")
    assert_rate_limited(await reply_to(a, send(chat, "three")), chat, "three", 3600)
    # A new window (here: a higher limit): a new send to the chat still waits for "three".
    settings.SEND_RATE = (1000, 3600)
    for _ in range(2):
        assert_rate_limited(await reply_to(a, send(chat, "four")), chat, "four", 3600)
    # Other chats are not held.
    assert (await reply_to(a, send(other, "elsewhere")))["type"] == "ack"
    # The refused send comes again: judged as usual, and the chat flows again.
    assert (await reply_to(a, send(chat, "three")))["type"] == "ack"
    assert (await reply_to(a, send(chat, "four")))["type"] == "ack"
    assert await stored_bodies(chat) == ["one", "two", "three", "four"]


async def test_in_one_burst_only_a_prefix_is_stored_and_the_rest_waits(
    socket, settings, alice, bob
):
    settings.SEND_RATE = (3, 3600)
    chat = await db(make_chat)(alice, bob)
    a = await socket(alice)
    ids = [f"m{i}" for i in range(8)]
    for client_id in ids:
        await a.send(send(chat, client_id))
    replies = {}
    while len(replies) < len(ids):
        frame = await a.recv()
        if frame["type"] in ("ack", "error"):
            replies[frame["client_id"]] = frame
    assert [replies[i]["type"] for i in ids] == ["ack"] * 3 + ["error"] * 5
    for client_id in ids[3:]:
        assert_rate_limited(replies[client_id], chat, client_id, 3600)
    settings.SEND_RATE = (1000, 3600)
    # m4 is not m3: it waits, whatever the window.
    assert_rate_limited(await reply_to(a, send(chat, "m4")), chat, "m4", 3600)
    # The client resends from the first refused one, in one burst (one or more batches).
    for client_id in ids[3:]:
        await a.send(send(chat, client_id))
    acked = []
    while len(acked) < 5:
        frame = await a.recv()
        if frame["type"] in ("ack", "error"):
            assert frame["type"] == "ack", frame
            acked.append(frame["client_id"])
    assert acked == ids[3:]
    assert await stored_bodies(chat) == ids


async def test_a_resend_of_a_stored_message_is_acked_while_the_chat_is_held(
    socket, settings, alice, bob
):
    settings.SEND_RATE = (1, 3600)
    chat = await db(make_chat)(alice, bob)
    a = await socket(alice)
    first = await send_and_ack(a, chat, body="stored", client_id="stored")
    assert_rate_limited(await reply_to(a, send(chat, "refused")), chat, "refused", 3600)
    again = await reply_to(a, send(chat, "stored"))
    assert again == first
    assert await stored_bodies(chat) == ["stored"]


async def test_a_held_send_reusing_another_chats_client_id_is_invalid_as_anywhere(
    socket, settings, alice, bob, carol
):
    """The resend rule of the services applies to held sends too: a client_id stored in
    another chat is `invalid`, as it is when the chat is not held."""
    settings.SEND_RATE = (1, 3600)
    chat, other = await db(make_chat)(alice, bob), await db(make_chat)(alice, carol)
    a = await socket(alice)
    await send_and_ack(a, other, body="elsewhere", client_id="elsewhere")
    # The budget is spent: the chat is held behind "refused".
    assert_rate_limited(await reply_to(a, send(chat, "refused")), chat, "refused", 3600)
    reused = await reply_to(a, send(chat, "elsewhere"))
    assert (reused["type"], reused["code"], reused["client_id"]) == (
        "error",
        "invalid",
        "elsewhere",
    )
    assert await stored_bodies(chat) == []
    assert await stored_bodies(other) == ["elsewhere"]


async def test_discard_releases_the_chat_and_is_validated(socket, settings, alice, bob, carol):
    settings.SEND_RATE = (1, 3600)
    chat = await db(make_chat)(alice, bob)
    foreign = await db(make_chat)(bob, carol)
    a = await socket(alice)
    await send_and_ack(a, chat, body="one", client_id="one")
    assert_rate_limited(await reply_to(a, send(chat, "given-up")), chat, "given-up", 3600)
    settings.SEND_RATE = (1000, 3600)
    # Discarding another message (say, one refused for a block) holds on.
    await a.send({"type": "discard", "chat": chat.pk, "client_id": "something-else"})
    assert_rate_limited(await reply_to(a, send(chat, "next")), chat, "next", 3600)
    # Bad discards get a clear error, and change nothing.
    bad = [
        ({"type": "discard", "chat": foreign.pk, "client_id": "x"}, "not_found"),
        ({"type": "discard", "chat": chat.pk + 1000, "client_id": "x"}, "not_found"),
        ({"type": "discard", "chat": chat.pk}, "invalid"),
        ({"type": "discard", "chat": "1", "client_id": "x"}, "invalid"),
        ({"type": "discard", "chat": chat.pk, "client_id": ""}, "invalid"),
    ]
    for frame, code in bad:
        error = await reply_to(a, frame)
        assert (error["type"], error["code"]) == ("error", code), frame
        assert error["detail"]
    assert_rate_limited(await reply_to(a, send(chat, "next")), chat, "next", 3600)
    # The person gives the refused message up: the later ones flow (no reply to a discard).
    await a.send({"type": "discard", "chat": chat.pk, "client_id": "given-up"})
    assert (await reply_to(a, send(chat, "next")))["type"] == "ack"
    assert await stored_bodies(chat) == ["one", "next"]


async def test_discard_is_budgeted(socket, settings, alice, bob):
    settings.DISCARD_RATE = (2, 60)
    chat = await db(make_chat)(alice, bob)
    a = await socket(alice)
    for _ in range(2):
        await a.send({"type": "discard", "chat": chat.pk, "client_id": "x"})
    refused = await reply_to(a, {"type": "discard", "chat": chat.pk, "client_id": "x"})
    assert (refused["code"], refused["client_id"]) == ("rate_limited", "x")
    assert 1 <= refused["retry_after"] <= 60
    await send_and_ack(a, chat)  # the socket still works


async def test_a_resent_ack_carries_the_messages_current_state(socket, settings, alice, bob):
    settings.SEND_RATE = (100, 2)
    chat = await db(make_chat)(alice, bob)
    a = await socket(alice)
    original = (await send_and_ack(a, chat, body="first", client_id="orig"))["message"]
    reply = (await send_and_ack(a, chat, body="re", client_id="reply"))["message"]
    await a.send({**send(chat, "answer", "answer"), "reply_to": original["seq"]})
    await a.recv_until("ack")
    await db(message_changes.message_react)(
        user=bob, chat_id=chat.pk, seq=original["seq"], emoji="👍", on=True
    )
    await db(message_changes.message_edit)(
        user=alice, chat_id=chat.pk, seq=original["seq"], body="first, fixed"
    )
    await db(message_changes.message_delete)(user=alice, chat_id=chat.pk, seq=reply["seq"])
    again = (await send_and_ack(a, chat, body="first", client_id="orig"))["message"]
    assert again["body"] == "first, fixed"
    assert again["reactions"] == {"👍": ["bob"]}
    assert again["edited_at"] is not None
    # Two sends after it, the reaction, the edit (the deletion was of another message).
    assert again["version"] == original["version"] + 4
    deleted = (await send_and_ack(a, chat, body="re", client_id="reply"))["message"]
    assert (deleted["deleted"], deleted["body"], deleted["reactions"]) == (True, "", {})
    answer = (await send_and_ack(a, chat, body="answer", client_id="answer"))["message"]
    assert answer["reply_to"] == {
        "seq": original["seq"],
        "sender": "alice",
        "body": "first, fixed",
        "deleted": False,
    }
    assert await db(Message.objects.count)() == 3
