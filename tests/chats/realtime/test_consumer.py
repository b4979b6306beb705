"""The WebSocket protocol of docs/protocol.md, on the full ASGI app."""

import json
import uuid

import pytest
from autobahn.exception import Disconnected
from channels.db import database_sync_to_async

from accounts.services import user_change_password
from chats import services
from chats.models import Chat, Membership, Message
from chats.realtime.consumer import ChatConsumer
from chats.validation import MAX_BODY
from tests.chats.conftest import ORIGIN, Socket
from tests.factories import make_chat, make_messages

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


def cid():
    return str(uuid.uuid4())


async def send_and_ack(sock, chat, body="hi", client_id=None):
    client_id = client_id or cid()
    await sock.send({"type": "send", "chat": chat.pk, "client_id": client_id, "body": body})
    ack, _ = await sock.recv_until("ack")
    return ack


async def marker(sender, receivers, chat):
    """Send a message and return, per receiving socket, the frames it got up to it.

    A socket's frames arrive in the order they were sent, so whatever a socket was sent
    before the marker shows up here: tests use it to prove that a frame was NOT sent,
    without waiting on a clock."""
    ack = await send_and_ack(sender, chat, body="marker")
    seen = []
    for sock in receivers:
        while True:
            frame = await sock.recv()
            seen.append(frame)
            if frame["type"] == "message" and frame["message"]["id"] == ack["message"]["id"]:
                break
    return seen


async def message_count():
    return await db(Message.objects.count)()


# Authentication and origin.


async def test_anonymous_socket_is_closed_with_4401():
    sock = Socket(None)
    assert await sock.connect() == (False, 4401)


async def test_unknown_session_is_closed_with_4401(alice):
    sock = Socket(alice, session_key="not-a-session")
    assert await sock.connect() == (False, 4401)


@pytest.mark.parametrize(
    "origin", [(b"origin", b"http://evil.example"), (b"origin", b"null"), None]
)
async def test_foreign_or_missing_origin_is_denied_at_handshake(alice, origin):
    sock = Socket(alice, origin=origin)
    connected, _code = await sock.connect()
    assert not connected
    assert sock.hello is None


async def test_password_change_closes_the_users_open_sockets(socket, alice, bob):
    a = await socket(alice)
    b = await socket(bob)
    await db(user_change_password)(user=alice, password="another-password-78")
    assert await a.comm.receive_output(timeout=10) == {"type": "websocket.close", "code": 4401}
    chat = await db(make_chat)(alice, bob)
    await assert_still_works(b, chat)


# Hello.


async def test_hello_lists_chats_with_pointers_and_unread(socket, alice, bob, carol):
    ab = await db(make_chat)(alice, bob)
    ac = await db(make_chat)(alice, carol)
    await db(make_messages)(ab, bob, 3)
    await db(make_messages)(ac, carol, 2)
    await db(services.chat_mark_read)(user=alice, chat_id=ac.pk, seq=1)
    a = await socket(alice)
    hello = a.hello
    assert hello["type"] == "hello" and hello["user"] == "alice"
    assert hello["unread_total"] == 4
    # Most recent activity first.
    assert [c["id"] for c in hello["chats"]] == [ac.pk, ab.pk]
    assert hello["chats"][0] == {
        "id": ac.pk,
        "peer": "carol",
        "last_seq": 2,
        "version": 2,
        "read_seq": 1,
        "unread": 1,
        "peer_status": "offline",
        "peer_last_seen": None,
        "peer_read_seq": 2,
        "peer_delivered_seq": 2,
    }
    assert hello["chats"][1]["unread"] == 3 and hello["chats"][1]["peer"] == "bob"


async def test_hello_without_chats(socket, alice):
    a = await socket(alice)
    assert a.hello == {"type": "hello", "user": "alice", "chats": [], "unread_total": 0}


# Errors: each one leaves the socket open and stores nothing.


async def assert_still_works(sock, chat):
    await sock.send({"type": "sync", "chat": chat.pk, "after": 10**6})
    synced, _ = await sock.recv_until("synced")
    assert synced["chat"] == chat.pk


@pytest.mark.parametrize(
    ("raw", "code", "client_id"),
    [
        ("{not json", "bad_json", None),
        ("   ", "bad_json", None),
        ("[" * 10_000 + "]" * 10_000, "bad_json", None),
        ("[1, 2]", "invalid", None),
        ('"send"', "invalid", None),
        ('{"type": "shout"}', "unknown_type", None),
        ('{"chat": 1}', "unknown_type", None),
        ('{"type": ["send"]}', "unknown_type", None),
        ('{"type": {"a": 1}}', "unknown_type", None),
        ('{"type": "send", "chat": "1", "client_id": "c1", "body": "hi"}', "invalid", "c1"),
        ('{"type": "send", "chat": true, "client_id": "c1", "body": "hi"}', "invalid", "c1"),
        ('{"type": "send", "chat": -4, "client_id": "c1", "body": "hi"}', "invalid", "c1"),
        ('{"type": "send", "chat": 1.5, "client_id": "c1", "body": "hi"}', "invalid", "c1"),
        ('{"type": "send", "chat": CHAT, "client_id": "", "body": "hi"}', "invalid", None),
        ('{"type": "send", "chat": CHAT, "client_id": 5, "body": "hi"}', "invalid", None),
        ('{"type": "send", "chat": CHAT, "body": "hi"}', "invalid", None),
        ('{"type": "send", "chat": CHAT, "client_id": "c2", "body": 5}', "invalid", "c2"),
        ('{"type": "send", "chat": CHAT, "client_id": "c2"}', "invalid", "c2"),
        ('{"type": "send", "chat": CHAT, "client_id": "c2", "body": "\\ud800"}', "invalid", "c2"),
        # The error frame names a client_id orjson cannot encode (protocol.encode's fallback).
        (
            '{"type": "send", "chat": CHAT, "client_id": "\\udc00", "body": "x"}',
            "invalid",
            "\udc00",
        ),
        ('{"type": "send", "chat": CHAT, "client_id": "c3", "body": ""}', "empty", "c3"),
        ('{"type": "send", "chat": CHAT, "client_id": "c3", "body": " \\n\\t "}', "empty", "c3"),
        ('{"type": "send", "chat": CHAT, "client_id": "c4", "body": "LONG"}', "too_long", "c4"),
        ('{"type": "sync", "chat": CHAT, "after": -1}', "invalid", None),
        ('{"type": "sync", "chat": CHAT, "after": "0"}', "invalid", None),
        ('{"type": "read", "chat": CHAT}', "invalid", None),
        ('{"type": "read", "chat": CHAT, "seq": 1e400}', "invalid", None),
        ('{"type": "typing"}', "invalid", None),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(
    socket, alice, bob, raw, code, client_id
):
    chat = await db(make_chat)(alice, bob)
    a = await socket(alice)
    raw = raw.replace("CHAT", str(chat.pk)).replace("LONG", "x" * (MAX_BODY + 1))
    await a.comm.send_to(text_data=raw)
    error = await a.recv()
    assert error["type"] == "error"
    assert error["code"] == code
    assert isinstance(error["detail"], str) and error["detail"]
    assert error.get("client_id") == client_id
    await assert_still_works(a, chat)
    assert await message_count() == 0


async def test_binary_frames_are_bad_json(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    a = await socket(alice)
    await a.comm.send_to(bytes_data=b'{"type": "sync"}')
    assert (await a.recv())["code"] == "bad_json"
    await assert_still_works(a, chat)


async def test_oversized_frame_is_too_long(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    a = await socket(alice)
    frame = {"type": "send", "chat": chat.pk, "client_id": "big", "body": "x" * 1_000_000}
    await a.send(frame)
    error = await a.recv()
    assert error["code"] == "too_long" and "client_id" not in error
    await assert_still_works(a, chat)
    assert await message_count() == 0


@pytest.mark.parametrize("kind", ["send", "sync", "read", "typing"])
async def test_foreign_and_missing_chats_are_not_found_alike(socket, alice, bob, carol, kind):
    chat = await db(make_chat)(alice, bob)
    own = await db(make_chat)(carol, alice)
    await db(make_messages)(chat, alice, 2)
    c = await socket(carol)
    details = []
    for chat_id in (chat.pk, chat.pk + 1000):
        frame = {"type": kind, "chat": chat_id, "client_id": cid(), "body": "x", "seq": 1}
        await c.send(frame)
        error = await c.recv()
        assert error["type"] == "error" and error["code"] == "not_found"
        details.append(error["detail"])
    assert details[0] == details[1]
    await assert_still_works(c, own)
    assert await message_count() == 2
    membership = await db(Membership.objects.get)(user=bob, chat=chat)
    assert membership.read_seq == 0


async def test_sending_too_fast_is_rate_limited_and_not_stored(socket, settings, alice, bob):
    settings.SEND_RATE = (2, 3600)
    chat = await db(make_chat)(alice, bob)
    a = await socket(alice)
    await send_and_ack(a, chat)
    await send_and_ack(a, chat)
    await a.send({"type": "send", "chat": chat.pk, "client_id": "third", "body": "hi"})
    error, _ = await a.recv_until("error")
    assert error["code"] == "rate_limited" and error["client_id"] == "third"
    assert error["detail"]
    assert await message_count() == 2
    await assert_still_works(a, chat)


async def test_blocked_sender_gets_blocked_and_nothing_is_stored(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    await db(services.block_user)(blocker=bob, blocked=alice)
    a = await socket(alice)
    await a.send({"type": "send", "chat": chat.pk, "client_id": "c", "body": "hi"})
    error, _ = await a.recv_until("error")
    assert error["code"] == "blocked" and error["client_id"] == "c"
    assert await message_count() == 0
    await assert_still_works(a, chat)


# Sending.


async def test_send_is_acked_and_broadcast_to_every_tab_of_both_members(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    a1, a2 = await socket(alice), await socket(alice)
    b1, b2 = await socket(bob), await socket(bob)
    client_id = cid()
    await a1.send({"type": "send", "chat": chat.pk, "client_id": client_id, "body": "  hi  "})
    ack = await a1.recv()  # the ack comes first on the sending socket
    assert ack["type"] == "ack" and ack["client_id"] == client_id
    message = ack["message"]
    assert message == {
        "id": message["id"],
        "chat": chat.pk,
        "seq": 1,
        "sender": "alice",
        "body": "hi",
        "sent_at": message["sent_at"],
        "client_id": client_id,
        "removed": False,
        "version": 1,
        "edited_at": None,
        "deleted": False,
        "reply_to": None,
        "reactions": {},
    }
    assert message["sent_at"].endswith("Z")
    for sock, unread in ((a1, 0), (a2, 0), (b1, 1), (b2, 1)):
        assert await sock.recv() == {"type": "message", "message": message}
        assert await sock.recv() == {
            "type": "unread",
            "chat": chat.pk,
            "unread": unread,
            "unread_total": unread,
        }


async def test_a_burst_is_acked_before_each_message_with_counts_per_message(
    socket, settings, alice, bob
):
    """Sends that arrive while a batch is stored go into the next batch; on the sending
    socket each ack still comes before that message's own frame, and each message carries
    the peer's unread count as of that message."""
    settings.SEND_RATE = (100, 2)
    chat = await db(make_chat)(alice, bob)
    a, b = await socket(alice), await socket(bob)
    ids = [cid() for _ in range(30)]
    for i, client_id in enumerate(ids):
        await a.send({"type": "send", "chat": chat.pk, "client_id": client_id, "body": f"m{i}"})
    acked, order = set(), []
    while len(order) < len(ids):
        frame = await a.recv()
        if frame["type"] == "ack":
            acked.add(frame["client_id"])
        elif frame["type"] == "message":
            assert frame["message"]["client_id"] in acked  # never before its ack
            order.append(frame["message"]["seq"])
    assert order == list(range(1, 31))
    unread = []
    while len(unread) < len(ids):
        frame = await b.recv()
        if frame["type"] == "unread":
            unread.append(frame["unread"])
    assert unread == list(range(1, 31))
    assert await message_count() == 30


async def test_messages_arrive_in_seq_order(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    a, b = await socket(alice), await socket(bob)
    for i in range(5):
        await a.send({"type": "send", "chat": chat.pk, "client_id": cid(), "body": f"m{i}"})
    seqs = []
    while len(seqs) < 5:
        frame = await b.recv()
        if frame["type"] == "message":
            seqs.append(frame["message"]["seq"])
    assert seqs == [1, 2, 3, 4, 5]


async def test_duplicate_send_gets_the_same_ack_and_no_new_message(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    a, b = await socket(alice), await socket(bob)
    first = await send_and_ack(a, chat, body="once", client_id="dup")
    again = await send_and_ack(a, chat, body="once", client_id="dup")
    assert again == first
    seen = await marker(a, [b], chat)
    ids = [f["message"]["id"] for f in seen if f["type"] == "message"]
    assert ids == [first["message"]["id"], ids[-1]]  # the original, then only the marker
    assert ids[-1] != first["message"]["id"]
    assert await message_count() == 2


async def test_a_chat_started_after_connect_is_delivered_live(socket, alice, bob):
    a, b = await socket(alice), await socket(bob)
    chat, _ = await db(services.chat_start)(user=alice, username="bob")
    await send_and_ack(a, chat)
    frame = await b.recv()
    assert frame["type"] == "message" and frame["message"]["seq"] == 1


async def test_a_gap_in_live_delivery_is_filled_from_the_database(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    b = await socket(bob)
    # Stored without ringing the doorbell (as if the channel layer dropped it).
    await db(Message.objects.create)(
        chat=chat, seq=1, version=1, sender=alice, body="lost", client_id="l"
    )
    await db(Chat.objects.filter(pk=chat.pk).update)(last_seq=1, version=1)
    a = await socket(alice)
    await send_and_ack(a, chat, body="next")
    frames = [await b.recv() for _ in range(3)]
    assert [(f["type"], f.get("message", {}).get("seq")) for f in frames] == [
        ("message", 1),
        ("message", 2),
        ("unread", None),
    ]


# Sync.


async def test_sync_after_reconnect_returns_the_missed_messages_in_order(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    a, b = await socket(alice), await socket(bob)
    await send_and_ack(a, chat, body="one")
    assert (await b.recv())["message"]["seq"] == 1
    await b.close()
    for body in ("two", "three", "four"):
        await send_and_ack(a, chat, body=body)
    b = await socket(bob)
    entry = b.hello["chats"][0]
    assert (entry["last_seq"], entry["unread"]) == (4, 4)
    await b.send({"type": "sync", "chat": chat.pk, "after": 1})
    synced, frames = await b.recv_until("synced")
    assert [f["message"]["body"] for f in frames[:-1]] == ["two", "three", "four"]
    assert [f["message"]["seq"] for f in frames[:-1]] == [2, 3, 4]
    assert synced == {"type": "synced", "chat": chat.pk, "last_seq": 4, "more": False}


async def test_sync_replies_at_most_500_messages_then_more(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)

    def bulk():
        Message.objects.bulk_create(
            Message(chat=chat, seq=n, sender=alice, body=f"m{n}", client_id=f"c{n}")
            for n in range(1, 503)
        )
        Chat.objects.filter(pk=chat.pk).update(last_seq=502)

    await db(bulk)()
    b = await socket(bob)
    await b.send({"type": "sync", "chat": chat.pk, "after": 0})
    synced, frames = await b.recv_until("synced")
    assert [f["message"]["seq"] for f in frames[:-1]] == list(range(1, 501))
    assert synced == {"type": "synced", "chat": chat.pk, "last_seq": 502, "more": True}
    await b.send({"type": "sync", "chat": chat.pk, "after": 500})
    synced, frames = await b.recv_until("synced")
    assert [f["message"]["seq"] for f in frames[:-1]] == [501, 502]
    assert synced["more"] is False


async def test_sync_with_nothing_new(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    b = await socket(bob)
    await b.send({"type": "sync", "chat": chat.pk})
    assert await b.recv() == {"type": "synced", "chat": chat.pk, "last_seq": 0, "more": False}


# Receipts and unread.


async def test_delivered_and_read_reach_the_sender(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    a, b1, b2 = await socket(alice), await socket(bob), await socket(bob)
    await send_and_ack(a, chat, body="one")
    await send_and_ack(a, chat, body="two")
    delivered = []
    while not delivered or delivered[-1]["seq"] < 2:
        frame = await a.recv()
        if frame["type"] == "delivered":
            delivered.append(frame)
    assert delivered[-1] == {"type": "delivered", "chat": chat.pk, "user": "bob", "seq": 2}
    await b1.send({"type": "read", "chat": chat.pk, "seq": 2})
    read, _ = await a.recv_until("read")
    assert read == {"type": "read", "chat": chat.pk, "user": "bob", "seq": 2}
    # The reader's other tab hears that its badge is clear.
    unread = None
    while unread is None or unread["unread"] != 0:
        unread, _ = await b2.recv_until("unread")
    assert unread == {"type": "unread", "chat": chat.pk, "unread": 0, "unread_total": 0}
    membership = await db(Membership.objects.get)(user=bob, chat=chat)
    assert (membership.read_seq, membership.delivered_seq) == (2, 2)


async def test_unread_total_spans_chats(socket, alice, bob, carol):
    ab, cb = await db(make_chat)(alice, bob), await db(make_chat)(carol, bob)
    await db(make_messages)(cb, carol, 2)
    a, b = await socket(alice), await socket(bob)
    assert b.hello["unread_total"] == 2
    await send_and_ack(a, ab)
    await b.recv_until("message")
    assert await b.recv() == {"type": "unread", "chat": ab.pk, "unread": 1, "unread_total": 3}
    await b.send({"type": "read", "chat": cb.pk, "seq": 2})
    unread, _ = await b.recv_until("unread")
    assert unread == {"type": "unread", "chat": cb.pk, "unread": 0, "unread_total": 1}


async def test_reading_backwards_changes_nothing_and_tells_nobody(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    await db(make_messages)(chat, alice, 2)
    await db(services.chat_mark_read)(user=bob, chat_id=chat.pk, seq=2)
    a, b = await socket(alice), await socket(bob)
    await b.send({"type": "read", "chat": chat.pk, "seq": 1})
    seen = await marker(b, [a], chat)
    assert [f["type"] for f in seen] == ["message"]
    membership = await db(Membership.objects.get)(user=bob, chat=chat)
    assert membership.read_seq == 3  # the marker is bob's own message


async def test_typing_reaches_the_peer_and_never_the_typist(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    a1, a2, b = await socket(alice), await socket(alice), await socket(bob)
    await a1.send({"type": "typing", "chat": chat.pk})
    assert await b.recv() == {"type": "typing", "chat": chat.pk, "user": "alice"}
    seen = await marker(b, [a1, a2], chat)
    assert all(f["type"] != "typing" for f in seen)


async def test_non_members_never_hear_of_a_chat(socket, alice, bob, carol):
    chat = await db(make_chat)(alice, bob)
    carols = await db(make_chat)(carol, bob)
    c = await socket(carol)
    a, b = await socket(alice), await socket(bob)
    await send_and_ack(a, chat, body="secret")
    await b.send({"type": "typing", "chat": chat.pk})
    await b.send({"type": "read", "chat": chat.pk, "seq": 1})
    await send_and_ack(b, chat, body="answer")
    # Carol's first frame is the one meant for her.
    seen = await marker(b, [c], carols)
    assert [f["type"] for f in seen] == ["message"]
    assert "secret" not in json.dumps(seen) and "answer" not in json.dumps(seen)


async def test_the_eleventh_socket_of_a_user_is_refused(socket, settings, alice):
    assert settings.MAX_SOCKETS_PER_USER == 10
    socks = [await socket(alice) for _ in range(10)]
    extra = Socket(alice, origin=ORIGIN)
    connected, _ = await extra.connect()
    assert connected and extra.hello["type"] == "error"
    assert extra.hello["code"] == "too_many_sockets" and extra.hello["detail"]
    assert (await extra.comm.receive_output(timeout=10))["code"] == 4429
    await socks[0].close()
    again = await socket(alice)
    assert again.hello["type"] == "hello"


async def test_error_frames_name_the_refused_frames_chat(socket, alice):
    sock = await socket(alice)
    await sock.send({"type": "sync", "chat": 424242, "after": 0})
    frame = await sock.recv()
    assert frame == {
        "type": "error",
        "code": "not_found",
        "detail": frame["detail"],
        "chat": 424242,
    }
    await sock.send({"type": "send", "chat": 7, "client_id": "c-1", "body": ""})
    frame = await sock.recv()
    assert (frame["code"], frame["chat"], frame["client_id"]) == ("empty", 7, "c-1")


@pytest.mark.parametrize(
    "gone",
    [OSError("uvicorn: the transport is closed"), Disconnected("daphne: closed protocol")],
    ids=["uvicorn", "daphne"],
)
async def test_a_frame_for_a_client_that_has_gone_is_dropped_not_raised(gone):
    """An event can reach the consumer after its client has left and before the server has
    told it so; raising there ended the consumer before its disconnect cleanup ran, leaving
    its presence, subscription and drain registration behind."""

    async def base_send(message):
        raise gone

    consumer = ChatConsumer()
    consumer.base_send = base_send
    await consumer.send_json({"type": "unread", "chat": 1, "count": 2})
