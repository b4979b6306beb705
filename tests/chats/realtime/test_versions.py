"""One change cursor per chat (docs/protocol.md, "Versions"): every change to a chat's
messages takes the chat's next version, and a socket catches up with `sync` `since` one."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from chats import events, moderation, rules, selectors
from chats.models import Chat, Message
from tests.chats.realtime.test_consumer import send_and_ack
from tests.factories import UserFactory, make_chat, make_messages

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


def remove(message, reason="spam"):
    moderator = UserFactory(is_staff=True)
    assert moderation.message_remove(message=message, moderator=moderator, reason=reason)
    return message


def remove_silently(message):
    """A removal whose doorbell was lost: stored with its version, no event."""
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(removed_reason="spam")
        rules.message_version_take(message=message)
        Message.objects.filter(pk=message.pk).update(removed_at=message.created_at)


async def test_a_removal_made_while_the_socket_was_closed_is_synced_once(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    b = await socket(bob)
    a = await socket(alice)
    await send_and_ack(b, chat, body="first")
    await send_and_ack(b, chat, body="second")
    seen = []
    while len(seen) < 2:
        frame = await a.recv()
        if frame["type"] == "message":
            seen.append(frame["message"])
    assert [(m["seq"], m["version"], m["removed"]) for m in seen] == [(1, 1, False), (2, 2, False)]
    cursor = seen[-1]["version"]
    await a.close()

    first = await db(Message.objects.get)(chat=chat, seq=1)
    await db(remove)(first)

    a = await socket(alice)
    assert a.hello["chats"][0]["version"] == 3
    await a.send({"type": "sync", "chat": chat.pk, "since": cursor})
    synced, frames = await a.recv_until("synced")
    assert [f["type"] for f in frames] == ["message", "synced"]
    changed = frames[0]["message"]
    assert (changed["id"], changed["seq"], changed["version"]) == (first.pk, 1, 3)
    assert changed["removed"] is True and changed["body"] == ""
    assert synced == {
        "type": "synced",
        "chat": chat.pk,
        "version": 3,
        "last_seq": 2,
        "more": False,
    }
    await a.send({"type": "sync", "chat": chat.pk, "since": 3})
    assert await a.recv() == {
        "type": "synced",
        "chat": chat.pk,
        "version": 3,
        "last_seq": 2,
        "more": False,
    }


async def test_a_live_removal_is_a_message_frame_with_a_higher_version(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    [message] = await db(make_messages)(chat, bob, 1)
    a = await socket(alice)
    await db(remove)(message)
    frame = await a.recv()
    assert frame["type"] == "message"
    assert (frame["message"]["seq"], frame["message"]["version"]) == (1, 2)
    assert frame["message"]["removed"] is True and frame["message"]["body"] == ""
    # Old clients still get message_removed; no unread frame for a change.
    assert await a.recv() == {
        "type": "message_removed",
        "chat": chat.pk,
        "seq": 1,
        "id": message.pk,
    }
    assert await a.nothing()


async def test_sync_since_gives_new_and_changed_messages_each_once_in_version_order(
    socket, alice, bob
):
    chat = await db(make_chat)(alice, bob)
    messages = await db(make_messages)(chat, bob, 3)  # versions 1-3
    await db(remove)(messages[1])  # seq 2 -> version 4
    await db(make_messages)(chat, alice, 1)  # seq 4, version 5
    await db(remove)(messages[0])  # seq 1 -> version 6
    b = await socket(bob)
    await b.send({"type": "sync", "chat": chat.pk, "since": 2})
    synced, frames = await b.recv_until("synced")
    got = [(f["message"]["seq"], f["message"]["version"]) for f in frames[:-1]]
    assert got == [(3, 3), (2, 4), (4, 5), (1, 6)]
    assert synced["version"] == 6 and synced["last_seq"] == 4 and synced["more"] is False


async def test_sync_since_replies_at_most_500_changes_then_more(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)

    def bulk():
        Message.objects.bulk_create(
            Message(chat=chat, seq=n, version=n, sender=alice, body=f"m{n}", client_id=f"c{n}")
            for n in range(1, 503)
        )
        Chat.objects.filter(pk=chat.pk).update(last_seq=502, version=502)
        remove(Message.objects.get(chat=chat, seq=3))  # version 503

    await db(bulk)()
    b = await socket(bob)
    await b.send({"type": "sync", "chat": chat.pk, "since": 0})
    synced, frames = await b.recv_until("synced")
    versions = [f["message"]["version"] for f in frames[:-1]]
    assert versions == [1, 2, *range(4, 502)]  # seq 3 is no longer at version 3
    assert synced == {
        "type": "synced",
        "chat": chat.pk,
        "version": 503,
        "last_seq": 502,
        "more": True,
    }
    await b.send({"type": "sync", "chat": chat.pk, "since": versions[-1]})
    synced, frames = await b.recv_until("synced")
    assert [(f["message"]["seq"], f["message"]["version"]) for f in frames[:-1]] == [
        (502, 502),
        (3, 503),
    ]
    assert frames[-2]["message"]["removed"] is True
    assert synced["more"] is False and synced["version"] == 503


async def test_a_gap_in_versions_is_filled_from_the_database_before_the_live_change(
    socket, alice, bob
):
    chat = await db(make_chat)(alice, bob)
    [first] = await db(make_messages)(chat, alice, 1)  # version 1
    b = await socket(bob)
    await db(remove_silently)(first)  # version 2, no doorbell
    a = await socket(alice)
    await send_and_ack(a, chat, body="next")  # version 3
    frames = [await b.recv() for _ in range(3)]
    assert [
        (f["type"], f.get("message", {}).get("seq"), f.get("message", {}).get("version"))
        for f in frames
    ] == [("message", 1, 2), ("message", 2, 3), ("unread", None, None)]
    assert frames[0]["message"]["removed"] is True


async def test_a_late_or_repeated_change_is_not_forwarded_twice(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    [first] = await db(make_messages)(chat, alice, 1)
    b = await socket(bob)  # hello: version 1 is known
    stale = await db(selectors.message_payload)(first)
    layer = get_channel_layer()
    await layer.group_send(events.user_group(bob.pk), {"type": "chat.message", "message": stale})
    await db(remove)(first)  # version 2
    frame = await b.recv()
    assert (frame["type"], frame["message"]["version"]) == ("message", 2)
    assert (await b.recv())["type"] == "message_removed"
    # The same change rung again (a doorbell delivered twice) is dropped.
    again = {"type": "chat.message", "message": {**stale, "version": 2, "removed": True}}
    await layer.group_send(events.user_group(bob.pk), again)
    assert await b.nothing()


@pytest.mark.parametrize(
    "since",
    ["3", -1, 1.5, True, None, 2**31],
)
async def test_a_bad_since_is_invalid_and_names_the_chat(socket, alice, bob, since):
    chat = await db(make_chat)(alice, bob)
    b = await socket(bob)
    await b.send({"type": "sync", "chat": chat.pk, "since": since})
    error = await b.recv()
    assert (error["type"], error["code"], error["chat"]) == ("error", "invalid", chat.pk)
    assert "since" in error["detail"]


async def test_sync_with_both_after_and_since_is_invalid(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    b = await socket(bob)
    await b.send({"type": "sync", "chat": chat.pk, "since": 0, "after": 0})
    error = await b.recv()
    assert (error["type"], error["code"], error["chat"]) == ("error", "invalid", chat.pk)


async def test_sync_since_in_a_foreign_chat_is_not_found(socket, alice, bob, carol):
    chat = await db(make_chat)(alice, bob)
    c = await socket(carol)
    await c.send({"type": "sync", "chat": chat.pk, "since": 0})
    error = await c.recv()
    assert (error["type"], error["code"]) == ("error", "not_found")
