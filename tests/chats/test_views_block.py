"""Blocking over HTTP, and the HTML send fallback under a block."""

import pytest
from django.test import Client

from chats.models import Block, Message
from tests.factories import make_chat, make_messages
from tests.support.sessions import logged_in

pytestmark = pytest.mark.django_db


def test_block_and_unblock_the_peer_of_a_chat(alice, bob):
    chat = make_chat(alice, bob)
    client = logged_in(alice)
    response = client.post(f"/chats/{chat.pk}/block/")
    assert response.status_code == 302 and response["Location"] == f"/chats/{chat.pk}/"
    assert Block.objects.filter(blocker=alice, blocked=bob).exists()
    assert client.get(f"/chats/{chat.pk}/").context["i_blocked"] is True
    response = client.post(f"/chats/{chat.pk}/unblock/")
    assert response.status_code == 302
    assert not Block.objects.exists()
    assert client.get(f"/chats/{chat.pk}/").context["i_blocked"] is False


def test_block_with_htmx_redirects_the_client(alice, bob):
    chat = make_chat(alice, bob)
    response = logged_in(alice).post(f"/chats/{chat.pk}/block/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/chats/{chat.pk}/"


@pytest.mark.parametrize("action", ["block", "unblock"])
def test_block_endpoints_are_post_only_and_members_only(alice, bob, carol, action):
    chat = make_chat(alice, bob)
    assert logged_in(alice).get(f"/chats/{chat.pk}/{action}/").status_code == 405
    assert logged_in(carol).post(f"/chats/{chat.pk}/{action}/").status_code == 404
    assert logged_in(carol).post(f"/chats/{chat.pk + 99}/{action}/").status_code == 404
    anonymous = Client().post(f"/chats/{chat.pk}/{action}/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert not Block.objects.exists()


def test_block_needs_a_csrf_token(alice, bob):
    chat = make_chat(alice, bob)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(f"/chats/{chat.pk}/block/").status_code == 403
    assert not Block.objects.exists()


def test_send_fallback_is_refused_under_a_block_and_stores_nothing(alice, bob):
    chat = make_chat(alice, bob)
    logged_in(bob).post(f"/chats/{chat.pk}/block/")
    client = logged_in(alice)
    response = client.post(f"/chats/{chat.pk}/send/", {"body": "hello?"}, follow=True)
    assert response.status_code == 200
    assert "You cannot send messages to this user." in response.content.decode()
    assert Message.objects.count() == 0
    # The blocker cannot send either until they unblock; history stays readable for both.
    response = logged_in(bob).post(f"/chats/{chat.pk}/send/", {"body": "hm"}, follow=True)
    assert "unblock them to send" in response.content.decode()
    assert Message.objects.count() == 0
    assert client.get(f"/chats/{chat.pk}/").status_code == 200


def test_send_fallback_works_again_after_unblock(alice, bob):
    chat = make_chat(alice, bob)
    logged_in(bob).post(f"/chats/{chat.pk}/block/")
    logged_in(bob).post(f"/chats/{chat.pk}/unblock/")
    logged_in(alice).post(f"/chats/{chat.pk}/send/", {"body": "hello again"})
    assert list(Message.objects.values_list("body", flat=True)) == ["hello again"]


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_chat_page_hides_read_marks_when_either_side_turns_receipts_off(alice, bob, who):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 2)
    logged_in(bob).post(f"/chats/{chat.pk}/read/", {"seq": "2"})
    client = logged_in(alice)
    assert client.get(f"/chats/{chat.pk}/").context["peer_read_seq"] == 2
    user = alice if who == "alice" else bob
    user.send_read_receipts = False
    user.save(update_fields=["send_read_receipts"])
    context = client.get(f"/chats/{chat.pk}/").context
    assert context["peer_read_seq"] == 0
    assert context["peer_delivered_seq"] == 2
