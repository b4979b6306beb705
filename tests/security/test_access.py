"""Nobody reads or writes where they do not belong: every chat route answers a non-member as
if the chat did not exist, and no crafted request (HTTP, API or socket) makes a third user a
member of someone else's chat. Socket isolation of frames: tests/chats/test_consumer.py
(test_foreign_and_missing_chats_are_not_found_alike, test_non_members_never_hear_of_a_chat)."""

import json

import pytest
from django.test import Client

from chats.models import Block, Chat, Membership, Message, Report
from tests.api.conftest import ApiClient
from tests.chats.conftest import Socket
from tests.factories import make_chat
from tests.security.urls import site_paths

SECRET = "the secret plan"


def chat_routes(chat_id):
    """Every route of the URLconf that takes a chat id, for `chat_id`."""
    return [
        path
        for path, pattern in site_paths({"chat_id": str(chat_id), "seq": "1"})
        if "chat_id" in pattern.pattern.regex.pattern
    ]


def snapshot(chat):
    return (
        sorted(Membership.objects.filter(chat=chat).values_list("user_id", "read_seq")),
        Chat.objects.filter(pk=chat.pk).values_list("user_low_id", "user_high_id").get(),
        list(Message.objects.filter(chat=chat).values_list("seq", "sender_id", "body")),
        Block.objects.count(),
        Report.objects.count(),
    )


@pytest.fixture
def private_chat(alice, bob):
    chat = make_chat(alice, bob)
    from chats import services

    services.message_send(sender=alice, chat_id=chat.pk, client_id="s1", body=SECRET)
    return chat


@pytest.mark.django_db
def test_every_chat_route_treats_a_non_member_like_a_missing_chat(private_chat, carol):
    routes = chat_routes(private_chat.pk)
    assert len(routes) >= 9  # pages, actions and API
    missing = chat_routes(private_chat.pk + 1000)
    client = Client()  # with CSRF handled: only membership stands in the way
    client.force_login(carol)
    api = ApiClient(carol)
    before = snapshot(private_chat)
    for foreign_path, missing_path in zip(routes, missing, strict=True):
        for method in ("get", "post"):
            if foreign_path.startswith("/api/"):
                call = api.get if method == "get" else api.post
                arg = {"body": "x", "client_id": "c", "seq": 1} if method == "post" else None
                foreign, absent = call(foreign_path, arg), call(missing_path, arg)
            else:
                call = getattr(client, method)
                data = {"body": "x", "seq": "1", "reason": "spam"}
                foreign, absent = call(foreign_path, data), call(missing_path, data)
            assert foreign.status_code in {404, 405}, (method, foreign_path, foreign.status_code)
            assert (foreign.status_code, foreign.content) == (absent.status_code, absent.content)
            assert SECRET.encode() not in foreign.content
    assert snapshot(private_chat) == before


@pytest.mark.django_db
def test_no_crafted_http_or_api_request_adds_a_third_member(private_chat, alice, bob, carol):
    before = snapshot(private_chat)
    client = Client()
    client.force_login(carol)
    crafted = [
        {"username": "bob", "chat": private_chat.pk, "chat_id": private_chat.pk},
        {"username": "bob", "user_low": alice.pk, "user_high": carol.pk, "members": alice.pk},
        {"username": ["bob", "alice"]},
        {"username": "alice,bob"},
        {"username": f"{bob.pk}"},
        {"username": "bob\x00alice"},
    ]
    for data in crafted:
        client.post("/chats/start/", data)
        client.post(f"/chats/new/?username=alice&chat={private_chat.pk}", data)
    api = ApiClient(carol)
    for data in crafted:
        api.post("/api/chats/", data)
        api.post("/api/chats/", {**data, "id": private_chat.pk})
    api.patch("/api/me/", {"chats": [private_chat.pk], "memberships": [private_chat.pk]})
    api.post(
        f"/api/chats/{private_chat.pk}/messages/",
        {"body": "let me in", "client_id": "x", "sender": alice.username},
    )
    assert snapshot(private_chat) == before
    assert not Membership.objects.filter(chat=private_chat, user=carol).exists()
    # Carol may only have chats of her own, each with exactly its two members.
    for chat in Chat.objects.filter(memberships__user=carol):
        members = set(chat.memberships.values_list("user_id", flat=True))
        assert members == {chat.user_low_id, chat.user_high_id}
        assert carol.pk in members and private_chat.pk != chat.pk


@pytest.mark.django_db(transaction=True)
async def test_no_crafted_socket_frame_reaches_or_joins_a_foreign_chat(
    private_chat, alice, bob, carol
):
    from asgiref.sync import sync_to_async

    before = await sync_to_async(snapshot)(private_chat)
    sock = Socket(carol)
    assert (await sock.connect())[0]
    try:
        chat = private_chat.pk
        frames = [
            {"type": "send", "chat": chat, "client_id": "a", "body": "hi", "sender": alice.pk},
            {"type": "send", "chat": chat, "client_id": "b", "body": "hi", "user": "alice"},
            {"type": "sync", "chat": chat, "after": 0, "as": "alice"},
            {"type": "read", "chat": chat, "seq": 1, "user": bob.pk},
            {"type": "typing", "chat": chat, "members": [carol.pk]},
            {"type": "join", "chat": chat},
            {"type": "start", "username": "bob", "chat": chat},
        ]
        replies = []
        for frame in frames:
            await sock.send(frame)
            replies.append(await sock.recv())
        assert [r.get("code") for r in replies] == [
            "not_found",
            "not_found",
            "not_found",
            "not_found",
            "not_found",
            "unknown_type",
            "unknown_type",
        ]
        assert SECRET not in json.dumps(replies)
    finally:
        await sock.close()
    assert await sync_to_async(snapshot)(private_chat) == before
