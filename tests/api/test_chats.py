import uuid

import pytest
from asgiref.sync import sync_to_async

from accounts.models import User
from chats import message_changes
from chats.models import Block, Chat, Membership, Message
from tests.api.conftest import ApiClient, assert_error
from tests.factories import UserFactory, make_chat, make_messages

pytestmark = pytest.mark.django_db


def send(api, chat_id, body="hello", client_id=None):
    payload = {"client_id": client_id or str(uuid.uuid4()), "body": body}
    return api.post(f"/api/chats/{chat_id}/messages/", payload)


# -- GET /api/chats/ -------------------------------------------------------------------------


def test_chat_list_is_most_recent_first_with_unread_and_last_message(api_client, alice, bob, carol):
    with_bob = make_chat(alice, bob)
    with_carol = make_chat(alice, carol)
    make_messages(with_bob, bob, 2)
    make_messages(with_carol, alice, 1)
    chats = api_client(alice).get("/api/chats/").json()["chats"]
    assert [c["id"] for c in chats] == [with_carol.pk, with_bob.pk]
    assert chats[1] == {
        "id": with_bob.pk,
        "peer": "bob",
        "last_seq": 2,
        "read_seq": 0,
        "unread": 2,
        "muted": False,
        "last_message": {
            "seq": 2,
            "sender": "bob",
            "body": "message 1",
            "sent_at": chats[1]["last_message"]["sent_at"],
            "removed": False,
        },
    }
    assert chats[1]["last_message"]["sent_at"].endswith("Z")
    assert chats[0]["unread"] == 0
    assert chats[0]["last_message"]["sender"] == "alice"


def test_chat_list_of_a_new_user_is_empty(api_client, alice):
    assert api_client(alice).get("/api/chats/").json() == {"chats": []}


def test_chat_list_needs_a_session(api_client):
    assert_error(api_client().get("/api/chats/"), 401, "unauthenticated")


# -- POST /api/chats/ ------------------------------------------------------------------------


def test_start_creates_then_returns_the_same_chat(api_client, alice, bob):
    first = api_client(alice).post("/api/chats/", {"username": "BOB"})
    assert first.status_code == 201
    chat = first.json()
    assert (chat["peer"], chat["last_seq"], chat["last_message"]) == ("bob", 0, None)
    again = api_client(bob).post("/api/chats/", {"username": "alice"})
    assert again.status_code == 200
    assert again.json()["id"] == chat["id"]
    assert again.json()["peer"] == "alice"
    assert Chat.objects.count() == 1


def test_start_of_an_existing_chat_carries_its_last_message(api_client, alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 3)
    body = api_client(alice).post("/api/chats/", {"username": "bob"}).json()
    assert (body["unread"], body["last_message"]["seq"]) == (3, 3)


@pytest.mark.parametrize("username", ["alice", "ghost", "", "x" * 151])
def test_start_refuses_self_unknown_and_invalid_names(api_client, alice, username):
    response = api_client(alice).post("/api/chats/", {"username": username})
    assert_error(response, 400, response.json()["code"], "username")
    assert Chat.objects.count() == 0


def test_start_refuses_inactive_users(api_client, alice, bob):
    User.objects.filter(pk=bob.pk).update(is_active=False)
    response = api_client(alice).post("/api/chats/", {"username": "bob"})
    assert_error(response, 400, "not_found", "username")


def test_start_needs_a_session_and_the_csrf_token(api_client, alice, bob):
    assert_error(api_client().post("/api/chats/", {"username": "bob"}), 401, "unauthenticated")
    response = api_client(alice, csrf=False).post("/api/chats/", {"username": "bob"})
    assert_error(response, 403, "csrf_failed")
    assert Chat.objects.count() == 0


# -- GET /api/chats/<id>/messages/ -----------------------------------------------------------


def seqs(response):
    return [m["seq"] for m in response.json()["messages"]]


def test_history_defaults_to_the_latest_page_oldest_first(api_client, alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 60)
    response = api_client(alice).get(f"/api/chats/{chat.pk}/messages/")
    assert seqs(response) == list(range(11, 61))
    assert response.json()["has_more"] is True
    message = response.json()["messages"][0]
    assert set(message) == {
        "id",
        "chat",
        "seq",
        "sender",
        "body",
        "sent_at",
        "client_id",
        "removed",
        "version",
        "edited_at",
        "deleted",
        "reply_to",
        "reactions",
    }
    assert (message["chat"], message["sender"]) == (chat.pk, "bob")


def test_history_pages_back_with_before_and_catches_up_with_after(api_client, alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 12)
    api = api_client(alice)
    url = f"/api/chats/{chat.pk}/messages/"
    older = api.get(url, {"before": 6, "limit": 3})
    assert (seqs(older), older.json()["has_more"]) == ([3, 4, 5], True)
    oldest = api.get(url, {"before": 3, "limit": 3})
    assert (seqs(oldest), oldest.json()["has_more"]) == ([1, 2], False)
    newer = api.get(url, {"after": 8, "limit": 3})
    assert (seqs(newer), newer.json()["has_more"]) == ([9, 10, 11], True)
    last = api.get(url, {"after": 11})
    assert (seqs(last), last.json()["has_more"]) == ([12], False)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"before": -1}, "before"),
        ({"after": "x"}, "after"),
        ({"before": 5, "after": 1}, "after"),
    ],
)
def test_history_validates_its_parameters(api_client, alice, bob, params, field):
    chat = make_chat(alice, bob)
    response = api_client(alice).get(f"/api/chats/{chat.pk}/messages/", params)
    assert_error(response, 400, "invalid", field)


def test_history_of_a_foreign_or_missing_chat_is_404(api_client, alice, bob, carol):
    chat = make_chat(bob, carol)
    make_messages(chat, bob, 1)
    api = api_client(alice)
    foreign = assert_error(api.get(f"/api/chats/{chat.pk}/messages/"), 404, "not_found")
    missing = assert_error(api.get(f"/api/chats/{chat.pk + 99}/messages/"), 404, "not_found")
    assert foreign == missing
    assert_error(api.get("/api/chats/99999999999999999999/messages/"), 404, "not_found")


def test_history_needs_a_session(api_client, alice, bob):
    chat = make_chat(alice, bob)
    assert_error(api_client().get(f"/api/chats/{chat.pk}/messages/"), 401, "unauthenticated")


# -- POST /api/chats/<id>/messages/ ----------------------------------------------------------


def test_send_stores_once_per_client_id(api_client, alice, bob):
    chat = make_chat(alice, bob)
    api = api_client(alice)
    client_id = str(uuid.uuid4())
    first = send(api, chat.pk, "  hi bob  ", client_id)
    assert first.status_code == 201
    message = first.json()
    assert (message["seq"], message["body"], message["sender"]) == (1, "hi bob", "alice")
    assert message["client_id"] == client_id
    again = send(api, chat.pk, "hi bob", client_id)
    assert again.status_code == 200
    assert again.json() == message
    assert Message.objects.count() == 1
    # The sender has read up to their own message.
    assert Membership.objects.get(chat=chat, user=alice).read_seq == 1


def test_a_resend_returns_the_message_as_it_is_now(api_client, alice, bob):
    chat = make_chat(alice, bob)
    api = api_client(alice)
    first = send(api, chat.pk, "hi bob", "once").json()
    message_changes.message_react(user=bob, chat_id=chat.pk, seq=1, emoji="👍", on=True)
    message_changes.message_edit(user=alice, chat_id=chat.pk, seq=1, body="hi, bob")
    again = send(api, chat.pk, "hi bob", "once")
    assert again.status_code == 200
    current = again.json()
    assert (current["body"], current["reactions"]) == ("hi, bob", {"👍": ["bob"]})
    assert current["edited_at"] is not None and current["version"] == first["version"] + 2
    assert current == api.get(f"/api/chats/{chat.pk}/messages/").json()["messages"][0]


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"client_id": "c1", "body": "   "}, "empty", "body"),
        ({"client_id": "c1", "body": "x" * 4001}, "too_long", "body"),
        ({"client_id": "", "body": "hi"}, "invalid", "client_id"),
        ({"client_id": "c" * 65, "body": "hi"}, "invalid", "client_id"),
        ({"client_id": "c1", "body": 5}, "invalid", "body"),
        ({"client_id": "c1", "body": "a\x00b"}, "invalid", "body"),
        ({"body": "hi"}, "invalid", "client_id"),
    ],
)
def test_send_validation_errors_name_the_field(api_client, alice, bob, payload, code, field):
    chat = make_chat(alice, bob)
    response = api_client(alice).post(f"/api/chats/{chat.pk}/messages/", payload)
    assert_error(response, 400, code, field)
    assert Message.objects.count() == 0


def test_a_body_of_4000_characters_after_stripping_is_accepted(api_client, alice, bob):
    chat = make_chat(alice, bob)
    response = send(api_client(alice), chat.pk, "  " + "x" * 4000 + "\n")
    assert response.status_code == 201
    assert len(response.json()["body"]) == 4000


def test_send_to_a_foreign_chat_is_404(api_client, alice, bob, carol):
    chat = make_chat(bob, carol)
    assert_error(send(api_client(alice), chat.pk), 404, "not_found")
    assert Message.objects.count() == 0


def test_send_to_someone_who_blocked_you_is_403(api_client, alice, bob):
    chat = make_chat(alice, bob)
    Block.objects.create(blocker=bob, blocked=alice)
    assert_error(send(api_client(alice), chat.pk), 403, "blocked")
    assert Message.objects.count() == 0


def test_send_is_rate_limited_like_the_socket(api_client, alice, bob, settings):
    settings.SEND_RATE = (2, 3600)  # a long window: no send leaves it mid-test
    chat = make_chat(alice, bob)
    api = api_client(alice)
    assert send(api, chat.pk).status_code == 201
    assert send(api, chat.pk).status_code == 201
    assert_error(send(api, chat.pk), 429, "rate_limited")
    assert Message.objects.count() == 2


def test_send_needs_a_session_and_the_csrf_token(api_client, alice, bob):
    chat = make_chat(alice, bob)
    assert_error(send(api_client(), chat.pk), 401, "unauthenticated")
    assert_error(send(api_client(alice, csrf=False), chat.pk), 403, "csrf_failed")
    assert Message.objects.count() == 0


@pytest.mark.django_db(transaction=True)
async def test_an_api_send_reaches_both_members_sockets_live(alice, bob):
    from tests.chats.conftest import Socket

    chat = await sync_to_async(make_chat)(alice, bob)
    bob_socket = Socket(bob)
    alice_socket = Socket(alice)
    assert (await bob_socket.connect())[0] and (await alice_socket.connect())[0]
    try:
        api = await sync_to_async(ApiClient)(alice)
        response = await sync_to_async(send)(api, chat.pk, "from the api", "api-1")
        assert response.status_code == 201
        for sock in (bob_socket, alice_socket):
            frame, _ = await sock.recv_until("message")
            assert frame["message"]["body"] == "from the api"
            assert frame["message"]["client_id"] == "api-1"
        unread = await bob_socket.recv()
        assert unread == {"type": "unread", "chat": chat.pk, "unread": 1, "unread_total": 1}
    finally:
        await bob_socket.close()
        await alice_socket.close()


# -- POST /api/chats/<id>/read/ --------------------------------------------------------------


def test_read_moves_the_pointer_forward_only_and_clamps(api_client, alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 5)
    api = api_client(alice)
    url = f"/api/chats/{chat.pk}/read/"
    assert api.post(url, {"seq": 3}).json() == {"chat": chat.pk, "read_seq": 3}
    assert api.post(url, {"seq": 1}).json() == {"chat": chat.pk, "read_seq": 3}
    assert api.post(url, {"seq": 99}).json() == {"chat": chat.pk, "read_seq": 5}
    chats = api.get("/api/chats/").json()["chats"]
    assert chats[0]["unread"] == 0


@pytest.mark.parametrize("payload", [{"seq": -1}, {"seq": "x"}, {}, {"seq": 2**31}])
def test_read_validates_seq(api_client, alice, bob, payload):
    chat = make_chat(alice, bob)
    response = api_client(alice).post(f"/api/chats/{chat.pk}/read/", payload)
    assert_error(response, 400, "invalid", "seq")


def test_read_of_a_foreign_chat_is_404_and_needs_auth(api_client, alice, bob, carol):
    chat = make_chat(bob, carol)
    assert_error(
        api_client(alice).post(f"/api/chats/{chat.pk}/read/", {"seq": 1}), 404, "not_found"
    )
    assert_error(
        api_client().post(f"/api/chats/{chat.pk}/read/", {"seq": 1}), 401, "unauthenticated"
    )
    response = api_client(bob, csrf=False).post(f"/api/chats/{chat.pk}/read/", {"seq": 1})
    assert_error(response, 403, "csrf_failed")


def test_messages_carry_their_version_and_removal(api_client, alice, bob):
    from chats import moderation

    chat = make_chat(alice, bob)
    first, _second = make_messages(chat, bob, 2)
    moderation.message_remove(message=first, moderator=UserFactory(is_staff=True), reason="x")
    messages = api_client(alice).get(f"/api/chats/{chat.pk}/messages/").json()["messages"]
    assert [(m["seq"], m["version"], m["removed"], m["body"]) for m in messages] == [
        (1, 3, True, ""),
        (2, 2, False, "message 1"),
    ]
    sent = api_client(alice).post(
        f"/api/chats/{chat.pk}/messages/", {"client_id": "v", "body": "hi"}
    )
    assert (sent.json()["seq"], sent.json()["version"]) == (3, 4)


def test_history_is_rate_limited_with_429_and_retry_after(api_client, alice, bob, settings):
    settings.HISTORY_RATE = (2, 60)
    chat = make_chat(alice, bob)
    api = api_client(alice)
    url = f"/api/chats/{chat.pk}/messages/"
    assert api.get(url).status_code == 200
    assert api.get(url).status_code == 200
    response = api.get(url)
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
