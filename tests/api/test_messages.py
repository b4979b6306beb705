"""PATCH/DELETE a message, PUT/DELETE a reaction, and reply_to on POST (docs/api.md)."""

import uuid
from urllib.parse import quote

import pytest

from chats.models import Block, Message
from tests.api.conftest import assert_error
from tests.factories import make_chat, make_messages

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_send_limit")]


@pytest.fixture
def chat(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 1)
    return chat


def url(chat, seq=1, emoji=None):
    base = f"/api/chats/{chat.pk}/messages/{seq}/"
    return base if emoji is None else f"{base}reactions/{quote(emoji)}/"


def test_patch_edits_and_returns_the_new_state(api_client, alice, chat):
    response = api_client(alice).patch(url(chat), {"body": " better "})
    assert response.status_code == 200
    body = response.json()
    assert (body["body"], body["version"], body["deleted"]) == ("better", 2, False)
    assert body["edited_at"].endswith("Z")


def test_delete_is_204_and_leaves_a_deleted_message(api_client, alice, chat):
    api = api_client(alice)
    assert api.delete(url(chat)).status_code == 204
    listed = api.get(f"/api/chats/{chat.pk}/messages/").json()["messages"]
    assert [(m["deleted"], m["body"]) for m in listed] == [(True, "")]
    assert_error(api.delete(url(chat)), 410, "gone")
    assert_error(api.patch(url(chat), {"body": "x"}), 410, "gone")


def test_put_and_delete_reaction_with_an_encoded_emoji(api_client, bob, chat):
    api = api_client(bob)
    response = api.put(url(chat, emoji="👍🏽"))
    assert response.status_code == 200 and response.json()["reactions"] == {"👍🏽": ["bob"]}
    assert api.put(url(chat, emoji="👍🏽")).json()["version"] == 2  # no change, no version
    response = api.delete(url(chat, emoji="👍🏽"))
    assert response.status_code == 200 and response.json()["reactions"] == {}


@pytest.mark.parametrize(
    ("who", "method", "seq", "payload", "status", "code"),
    [
        ("bob", "patch", 1, {"body": "x"}, 403, "forbidden"),
        ("bob", "delete", 1, None, 403, "forbidden"),
        ("alice", "patch", 5, {"body": "x"}, 404, "not_found"),
        ("carol", "delete", 1, None, 404, "not_found"),
        ("alice", "patch", 1, {"body": "  "}, 400, "empty"),
        ("alice", "patch", 1, {"body": "x" * 4001}, 400, "too_long"),
    ],
)
def test_refusals_map_to_statuses(
    api_client, alice, bob, carol, chat, who, method, seq, payload, status, code
):
    api = api_client({"alice": alice, "bob": bob, "carol": carol}[who])
    call = getattr(api, method)
    response = call(url(chat, seq), payload) if payload is not None else call(url(chat, seq))
    assert_error(response, status, code)
    assert Message.objects.get(chat=chat, seq=1).body == "message 0"


def test_not_an_emoji_is_400_and_blocked_is_403(api_client, alice, bob, chat):
    api = api_client(bob)
    assert_error(api.put(url(chat, emoji="ab")), 400, "invalid", "emoji")
    Block.objects.create(blocker=alice, blocked=bob)
    assert_error(api.put(url(chat, emoji="👍")), 403, "blocked")


@pytest.mark.parametrize(
    ("method", "emoji", "payload"),
    [("patch", None, {"body": "y"}), ("delete", None, None), ("put", "👍", None)],
)
def test_rate_limited_is_429_with_retry_after_and_changes_nothing(
    api_client, alice, chat, settings, method, emoji, payload
):
    settings.SEND_RATE = (0, 60)
    call = getattr(api_client(alice), method)
    response = call(url(chat, emoji=emoji), payload) if payload else call(url(chat, emoji=emoji))
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    message = Message.objects.get(chat=chat, seq=1)
    assert (message.body, message.version, message.deleted_at) == ("message 0", 1, None)


def test_edits_deletes_and_reactions_count_against_the_send_rate(api_client, alice, chat, settings):
    settings.SEND_RATE = (3, 3600)
    api = api_client(alice)
    send = {"client_id": str(uuid.uuid4()), "body": "two"}
    assert api.post(f"/api/chats/{chat.pk}/messages/", send).status_code == 201
    assert api.patch(url(chat), {"body": "y"}).status_code == 200
    assert api.put(url(chat, emoji="👍")).status_code == 200
    assert_error(api.delete(url(chat, emoji="👍")), 429, "rate_limited")
    assert_error(api.post(f"/api/chats/{chat.pk}/messages/", send), 429, "rate_limited")


def test_post_with_reply_to(api_client, bob, chat):
    api = api_client(bob)
    sent = api.post(
        f"/api/chats/{chat.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "body": "answer", "reply_to": 1},
    )
    assert sent.status_code == 201
    assert sent.json()["reply_to"] == {
        "seq": 1,
        "sender": "alice",
        "body": "message 0",
        "deleted": False,
    }
    bad = api.post(
        f"/api/chats/{chat.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "body": "answer", "reply_to": 9},
    )
    assert_error(bad, 400, "invalid", "reply_to")


def test_reply_to_a_deleted_message_is_410_and_stores_nothing(api_client, alice, bob, chat):
    api_client(alice).delete(url(chat))
    response = api_client(bob).post(
        f"/api/chats/{chat.pk}/messages/",
        {"client_id": str(uuid.uuid4()), "body": "answer", "reply_to": 1},
    )
    assert_error(response, 410, "gone")
    assert Message.objects.filter(chat=chat).count() == 1
