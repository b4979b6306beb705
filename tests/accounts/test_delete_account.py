"""Deleting an account (accounts.services.user_delete and /accounts/delete/): what goes, what
the peer keeps, and the refusals."""

import json

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.models import DELETED_ACCOUNT_NAME, RecoveryCode, SessionRecord, User
from chats import moderation
from chats import services as chat_services
from chats.models import Block, Membership, MessageEdit, ModerationLog, Reaction, Report
from chats.validation import Refused
from chatsite import presence_store, ratelimit
from push.models import ChatMute, PushSubscription
from tests.api.conftest import ApiClient, assert_error
from tests.factories import PASSWORD, make_exchange, message_at
from tests.support.sessions import logged_in

pytestmark = pytest.mark.django_db


def delete(user, erase_messages=False, capture=None):
    if capture is None:
        services.user_delete(user=user, erase_messages=erase_messages)
    else:
        with capture(execute=True):
            services.user_delete(user=user, erase_messages=erase_messages)
    user.refresh_from_db()
    return user


def page(client, **fields):
    data = {"password": PASSWORD, "username": "alice", **fields}
    return client.post("/accounts/delete/", data)


def test_the_account_becomes_a_tombstone_that_cannot_sign_in(alice):
    delete(alice)
    assert alice.deleted_at is not None and not alice.is_active
    assert alice.display_name == DELETED_ACCOUNT_NAME
    assert alice.username != "alice" and not alice.has_usable_password()
    for name in ("alice", alice.username):
        response = Client().post("/accounts/login/", {"username": name, "password": PASSWORD})
        assert response.status_code == 200 and response.context["form"].errors
    assert ModerationLog.objects.get(
        action=ModerationLog.Action.ACCOUNT_DELETED, target_user=alice
    ).reason.endswith("alice")


def test_everything_of_the_account_is_erased(alice, bob):
    chat = make_exchange(alice, bob, "hi bob", "hi alice")
    services.recovery_codes_create(user=alice)
    TOTPDevice.objects.create(user=alice, name="app", confirmed=True)
    client = logged_in(alice)
    PushSubscription.objects.create(
        user=alice, endpoint="https://push.example/1", p256dh="k", auth="a"
    )
    ChatMute.objects.create(user=alice, chat=chat)
    Block.objects.create(blocker=alice, blocked=bob)
    Block.objects.create(blocker=bob, blocked=alice)
    assert Session.objects.count() == 1
    delete(alice)
    assert not RecoveryCode.objects.filter(user=alice).exists()
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert not SessionRecord.objects.filter(user=alice).exists()
    assert not Session.objects.exists()
    assert client.get("/api/me/").status_code == 401
    assert not PushSubscription.objects.filter(user=alice).exists()
    assert not ChatMute.objects.filter(user=alice).exists()
    assert not Block.objects.exists()
    mine = Membership.objects.get(user=alice, chat=chat)
    assert (mine.read_seq, mine.delivered_seq) == (0, 0)
    assert alice.last_seen is None and alice.hide_presence


def test_by_default_the_peer_keeps_the_messages_as_sent_by_deleted_account(alice, bob):
    chat = make_exchange(alice, bob, "hi bob", "hi alice")
    chat.refresh_from_db()
    version = chat.version
    delete(alice)
    assert message_at(chat, 1).body == "hi bob"
    chat.refresh_from_db()
    assert chat.version == version  # nothing changed in the chat
    response = logged_in(bob).get(f"/chats/{chat.pk}/")
    html = response.content.decode()
    assert "hi bob" in html and DELETED_ACCOUNT_NAME in html
    assert 'id="deleted-note"' in html
    api = ApiClient(bob)
    history = api.get(f"/api/chats/{chat.pk}/messages/").json()["messages"]
    assert [(m["sender"], m["body"]) for m in history] == [
        (DELETED_ACCOUNT_NAME, "hi bob"),
        ("bob", "hi alice"),
    ]
    [listed] = api.get("/api/chats/").json()["chats"]
    assert listed["peer"] == DELETED_ACCOUNT_NAME


def test_the_peers_export_names_the_deleted_account(alice, bob):
    make_exchange(alice, bob, "hi bob", "hi alice")
    delete(alice)
    response = ApiClient(bob).get("/api/me/export/")
    data = json.loads(b"".join(response.streaming_content))
    [chat] = data["chats"]
    assert chat["peer"] == DELETED_ACCOUNT_NAME
    assert [m["sender"] for m in chat["messages"]] == [DELETED_ACCOUNT_NAME, "bob"]


def test_the_peers_message_search_names_the_deleted_account(alice, bob):
    make_exchange(alice, bob, "the plan is ready", "hi alice")
    delete(alice)
    [hit] = ApiClient(bob).get("/api/messages/search/", {"q": "plan"}).json()["results"]
    assert (hit["sender"], hit["peer"]) == (DELETED_ACCOUNT_NAME, DELETED_ACCOUNT_NAME)


def test_the_chat_with_a_deleted_account_takes_no_new_messages(alice, bob):
    chat = make_exchange(alice, bob, "hi bob", "hi alice")
    delete(alice)
    with pytest.raises(Refused) as refused:
        chat_services.message_send(sender=bob, chat_id=chat.pk, client_id="late", body="hello?")
    assert refused.value.code == "account_deleted"
    assert "deleted" in refused.value.detail
    # A resend of a message stored before still gets its ack.
    assert (
        chat_services.message_send(sender=bob, chat_id=chat.pk, client_id="b1", body="x")[1]
        is False
    )
    response = ApiClient(bob).post(
        f"/api/chats/{chat.pk}/messages/", {"client_id": "c2", "body": "hi"}
    )
    assert_error(response, 410, "account_deleted")


def test_erase_messages_erases_every_body_as_delete_for_everyone_does(
    alice, bob, django_capture_on_commit_callbacks
):
    chat = make_exchange(alice, bob, "hi bob", "hi alice")
    chat_services.message_send(sender=alice, chat_id=chat.pk, client_id="a2", body="second")
    # bob's seq 2 keeps its text; alice's reaction on it goes
    first = message_at(chat, 1)
    MessageEdit.objects.create(message=first, body="an earlier text")
    Reaction.objects.create(message=message_at(chat, 2), user=alice, emoji="👍")
    Reaction.objects.create(message=first, user=bob, emoji="❤️")
    Report.objects.create(message=first, reporter=bob, reason="rude", body="hi bob")
    chat.refresh_from_db()
    before = chat.version
    delete(alice, erase_messages=True, capture=django_capture_on_commit_callbacks)
    chat.refresh_from_db()
    erased = [message_at(chat, 1), message_at(chat, 3)]
    assert all(m.body == "" and m.deleted_at is not None for m in erased)
    assert message_at(chat, 2).body == "hi alice"
    assert not MessageEdit.objects.exists() and not Reaction.objects.exists()
    # Three changes (two erased, one reaction gone), each its own version, in seq order.
    assert chat.version == before + 3
    assert [message_at(chat, s).version for s in (1, 2, 3)] == [before + 1, before + 2, before + 3]
    # Moderators keep the reported text.
    assert Report.objects.get().body == "hi bob"
    history = ApiClient(bob).get(f"/api/chats/{chat.pk}/messages/").json()["messages"]
    assert [(m["sender"], m["body"], m["deleted"], m["reactions"]) for m in history] == [
        (DELETED_ACCOUNT_NAME, "", True, {}),
        ("bob", "hi alice", False, {}),
        (DELETED_ACCOUNT_NAME, "", True, {}),
    ]


def test_a_moderator_cannot_reactivate_a_deleted_account(alice, bob):
    delete(alice)
    assert moderation.user_reactivate(user=alice, moderator=bob) is False
    alice.refresh_from_db()
    assert not alice.is_active


def test_deleting_twice_changes_nothing(alice):
    delete(alice)
    name = alice.username
    delete(alice)
    assert alice.username == name


def test_nothing_of_the_user_is_left_in_redis(
    alice, bob, private_redis, settings, django_capture_on_commit_callbacks
):
    redis_server = private_redis()
    settings.REDIS_URL = redis_server.url
    store = presence_store.store()
    store.attach(alice.pk, "tab-1", 5)
    store.attach(bob.pk, "tab-2", 5)
    for key in (f"send:{alice.pk}", f"typing:{alice.pk}:7", f"search:{alice.pk}", "send:999"):
        ratelimit.hit(key, limit=10, window=60)
    delete(alice, capture=django_capture_on_commit_callbacks)
    client = store.client
    keys = {key.decode() for key in client.keys("*")}
    assert not [key for key in keys if key.endswith(f":{alice.pk}") or f":{alice.pk}:" in key]
    assert any(key.endswith(f":{bob.pk}") for key in keys)  # others' are kept
    assert any(":send:999:" in key for key in keys)


# -- the page ---------------------------------------------------------------------------


def test_the_profile_links_to_the_page_which_asks_for_password_and_name(alice):
    client = logged_in(alice)
    assert 'href="/accounts/delete/"' in client.get("/accounts/profile/").content.decode()
    html = client.get("/accounts/delete/").content.decode()
    assert 'name="password"' in html and 'name="username"' in html
    assert 'name="erase_messages"' in html and 'name="code"' not in html


def test_the_page_refuses_a_wrong_password_or_name(alice):
    client = logged_in(alice)
    wrong = page(client, password="nope")
    assert wrong.status_code == 200 and wrong.context["form"].errors["password"]
    other = page(client, username="bob")
    assert other.status_code == 200 and other.context["form"].errors["username"]
    alice.refresh_from_db()
    assert alice.deleted_at is None


def test_the_page_deletes_and_signs_out(alice, bob):
    chat = make_exchange(alice, bob, "hi bob", "hi alice")
    client = logged_in(alice)
    response = page(client, username="ALICE", erase_messages="on")
    assert response.status_code == 302 and response["Location"] == "/"
    alice.refresh_from_db()
    assert alice.deleted_at is not None
    assert message_at(chat, 1).deleted_at is not None
    assert client.get("/accounts/profile/").status_code == 302  # to the login page


def test_the_page_asks_for_a_code_with_two_factor_on(alice, with_2fa):
    code = with_2fa(alice)
    client = logged_in(alice)
    assert 'name="code"' in client.get("/accounts/delete/").content.decode()
    missing = page(client)
    assert missing.context["form"].errors["code"]
    wrong = page(client, code="000000")
    assert wrong.context["form"].errors["code"]
    alice.refresh_from_db()
    assert alice.deleted_at is None
    TOTPDevice.objects.get(user=alice).throttle_reset()  # django-otp's back-off
    assert page(client, code=code()).status_code == 302
    assert User.objects.get(pk=alice.pk).deleted_at is not None
