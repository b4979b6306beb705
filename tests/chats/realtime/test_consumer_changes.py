"""edit, delete, react and send's reply_to on the socket (docs/protocol.md), on the full
ASGI app: each accepted change reaches every socket of both members once, as the
message's full state; a refused one gets an error naming the chat and seq."""

import pytest
from channels.db import database_sync_to_async

from chats import message_changes
from chats.models import Block, Message
from tests.chats.realtime.test_consumer import cid, marker, send_and_ack
from tests.factories import make_chat, make_messages

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_send_limit")]

db = database_sync_to_async


@pytest.fixture
async def chat(alice, bob):
    chat = await db(make_chat)(alice, bob)
    await db(make_messages)(chat, alice, 1)
    return chat


async def message_frame(sock):
    frame, _ = await sock.recv_until("message")
    return frame["message"]


async def test_edit_reaches_every_socket_of_both_members_including_the_actor(
    socket, alice, bob, chat
):
    a1, a2, b1 = await socket(alice), await socket(alice), await socket(bob)
    await a1.send({"type": "edit", "chat": chat.pk, "seq": 1, "body": " fixed "})
    for sock in (a1, a2, b1):
        payload = await message_frame(sock)
        assert (payload["seq"], payload["body"], payload["version"]) == (1, "fixed", 2)
        assert payload["edited_at"] is not None
    # Once each: the next frame on every socket is the marker.
    for frames in [await marker(a1, [a2, b1], chat)]:
        assert [f["message"]["body"] for f in frames if f["type"] == "message"] == [
            "marker",
            "marker",
        ]


async def test_delete_and_react_are_announced_as_the_new_state(socket, alice, bob, chat):
    a, b = await socket(alice), await socket(bob)
    await b.send({"type": "react", "chat": chat.pk, "seq": 1, "emoji": "👍", "on": True})
    for sock in (a, b):
        assert (await message_frame(sock))["reactions"] == {"👍": ["bob"]}
    await a.send({"type": "delete", "chat": chat.pk, "seq": 1})
    for sock in (a, b):
        payload = await message_frame(sock)
        assert (payload["deleted"], payload["body"], payload["reactions"]) == (True, "", {})
        assert payload["version"] == 3


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "edit", "seq": 1, "body": "x"}, "forbidden"),  # bob edits alice's message
        ({"type": "delete", "seq": 1}, "forbidden"),
        ({"type": "edit", "seq": 7, "body": "x"}, "not_found"),
        ({"type": "edit", "seq": 1, "body": "   "}, "empty"),
        ({"type": "edit", "seq": 1, "body": "x" * 4001}, "too_long"),
        ({"type": "react", "seq": 1, "emoji": "a", "on": True}, "invalid"),
        ({"type": "react", "seq": 1, "emoji": "👍"}, "invalid"),
    ],
)
async def test_refused_changes_get_an_error_with_chat_and_seq(
    socket, alice, bob, chat, frame, code
):
    b = await socket(bob)
    await b.send({**frame, "chat": chat.pk})
    error, seen = await b.recv_until("error")
    assert (error["code"], error["chat"], error["seq"]) == (code, chat.pk, frame["seq"])
    assert [f for f in seen if f["type"] == "message"] == []
    message = await db(Message.objects.get)(chat=chat, seq=1)
    assert (message.body, message.version) == ("message 0", 1)


async def test_a_foreign_chat_is_not_found_and_a_deleted_message_gone(
    socket, alice, bob, carol, chat
):
    c = await socket(carol)
    await c.send({"type": "delete", "chat": chat.pk, "seq": 1})
    assert (await c.recv_until("error"))[0]["code"] == "not_found"
    await db(message_changes.message_delete)(user=alice, chat_id=chat.pk, seq=1)
    a = await socket(alice)
    await a.send({"type": "edit", "chat": chat.pk, "seq": 1, "body": "again"})
    assert (await a.recv_until("error"))[0]["code"] == "gone"


async def test_blocked_changes_are_refused(socket, alice, bob, chat):
    a = await socket(alice)
    await db(Block.objects.create)(blocker=bob, blocked=alice)
    await a.send({"type": "react", "chat": chat.pk, "seq": 1, "emoji": "👍", "on": True})
    assert (await a.recv_until("error"))[0]["code"] == "blocked"


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "edit", "seq": 1, "body": "new"},
        {"type": "delete", "seq": 1},
        {"type": "react", "seq": 1, "emoji": "👍", "on": True},
    ],
)
async def test_changes_over_the_send_rate_are_refused_with_retry_after(
    socket, alice, chat, settings, frame
):
    a = await socket(alice)
    settings.SEND_RATE = (0, 60)
    await a.send({**frame, "chat": chat.pk})
    error, seen = await a.recv_until("error")
    assert (error["code"], error["chat"], error["seq"]) == ("rate_limited", chat.pk, 1)
    assert 1 <= error["retry_after"] <= 60
    assert [f for f in seen if f["type"] == "message"] == []
    message = await db(Message.objects.get)(chat=chat, seq=1)
    assert (message.body, message.version, message.deleted_at) == ("message 0", 1, None)


async def test_changes_count_against_the_send_rate_of_every_socket(socket, alice, chat, settings):
    a1, a2 = await socket(alice), await socket(alice)
    settings.SEND_RATE = (1, 3600)
    await a1.send({"type": "react", "chat": chat.pk, "seq": 1, "emoji": "👍", "on": True})
    await message_frame(a1)
    await a2.send({"type": "send", "chat": chat.pk, "client_id": cid(), "body": "over"})
    assert (await a2.recv_until("error"))[0]["code"] == "rate_limited"


async def test_send_with_reply_to_quotes_the_original(socket, alice, bob, chat):
    a, b = await socket(alice), await socket(bob)
    client_id = cid()
    await b.send(
        {"type": "send", "chat": chat.pk, "client_id": client_id, "body": "yes", "reply_to": 1}
    )
    ack, _ = await b.recv_until("ack")
    quote = {"seq": 1, "sender": "alice", "body": "message 0", "deleted": False}
    assert ack["message"]["reply_to"] == quote
    assert (await message_frame(a))["reply_to"] == quote


@pytest.mark.parametrize(("reply_to", "code"), [(9, "invalid"), (-1, "invalid"), ("1", "invalid")])
async def test_send_with_a_bad_reply_to_is_refused(socket, alice, bob, chat, reply_to, code):
    b = await socket(bob)
    client_id = cid()
    await b.send(
        {"type": "send", "chat": chat.pk, "client_id": client_id, "body": "x", "reply_to": reply_to}
    )
    error, _ = await b.recv_until("error")
    assert (error["code"], error["client_id"]) == (code, client_id)
    assert await db(Message.objects.filter(chat=chat).count)() == 1


async def test_send_replying_to_a_deleted_message_is_gone(socket, alice, bob, chat):
    await db(message_changes.message_delete)(user=alice, chat_id=chat.pk, seq=1)
    b = await socket(bob)
    client_id = cid()
    await b.send(
        {"type": "send", "chat": chat.pk, "client_id": client_id, "body": "x", "reply_to": 1}
    )
    error, _ = await b.recv_until("error")
    assert (error["code"], error["chat"], error["client_id"]) == ("gone", chat.pk, client_id)
    assert await db(Message.objects.filter(chat=chat).count)() == 1


async def test_sync_since_returns_each_offline_change_once_in_its_latest_state(
    socket, alice, bob, chat
):
    b = await socket(bob)
    since = b.hello["chats"][0]["version"]
    await b.close()
    await db(make_messages)(chat, alice, 1)  # seq 2, v2
    await db(message_changes.message_edit)(user=alice, chat_id=chat.pk, seq=1, body="one")
    await db(message_changes.message_edit)(user=alice, chat_id=chat.pk, seq=1, body="two")
    await db(message_changes.message_react)(user=alice, chat_id=chat.pk, seq=2, emoji="🎉", on=True)
    await db(message_changes.message_delete)(user=alice, chat_id=chat.pk, seq=2)
    b = await socket(bob)
    await b.send({"type": "sync", "chat": chat.pk, "since": since})
    synced, seen = await b.recv_until("synced")
    states = [
        (f["message"]["seq"], f["message"]["body"], f["message"]["deleted"])
        for f in seen
        if f["type"] == "message"
    ]
    assert states == [(1, "two", False), (2, "", True)]
    assert synced["version"] == 6
    ack = await send_and_ack(b, chat, body="after")
    assert ack["message"]["version"] == 7
