"""The server-rendered chat pages: start, list, history, the no-JavaScript send fallback."""

import re

import pytest
from django.test import Client
from django.utils.html import escape

from chats.models import Chat, Membership, Message
from tests.factories import UserFactory, make_chat, make_messages
from tests.support.sessions import logged_in

pytestmark = pytest.mark.django_db


def test_start_creates_one_chat_per_pair_and_redirects(alice, bob):
    response = logged_in(alice).post("/chats/start/", {"username": "BOB"})
    chat = Chat.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/chats/{chat.pk}/"
    again = logged_in(bob).post("/chats/start/", {"username": "alice"})
    assert again["Location"] == f"/chats/{chat.pk}/"
    assert Chat.objects.count() == 1
    assert Membership.objects.filter(chat=chat).count() == 2


@pytest.mark.parametrize("username", ["alice", "nobody", "inactive", ""])
def test_start_refuses_self_unknown_inactive(alice, username):
    UserFactory(username="inactive", is_active=False)
    response = logged_in(alice).post("/chats/start/", {"username": username})
    assert response.status_code == 400
    assert Chat.objects.count() == 0
    assert 'class="error"' in response.content.decode()


def test_new_chat_form_posts_username_to_start(alice):
    html = logged_in(alice).get("/chats/new/?username=bob").content.decode()
    assert 'action="/chats/start/"' in html
    assert 'name="username"' in html
    assert 'value="bob"' in html


def test_detail_is_404_for_missing_and_foreign_chats_alike(alice, bob, carol):
    chat = make_chat(bob, carol)
    foreign = logged_in(alice).get(f"/chats/{chat.pk}/")
    missing = logged_in(alice).get(f"/chats/{chat.pk + 1000}/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    assert logged_in(alice).post(f"/chats/{chat.pk}/send/", {"body": "x"}).status_code == 404
    assert Message.objects.count() == 0


def seqs(html):
    return [int(s) for s in re.findall(r'data-seq="(\d+)"', html)]


def test_detail_shows_last_50_oldest_first_and_pages_older_by_keyset(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 120)
    client = logged_in(alice)
    html = client.get(f"/chats/{chat.pk}/").content.decode()
    assert seqs(html) == list(range(71, 121))
    assert "?before=71" in html
    partial = client.get(f"/chats/{chat.pk}/?before=71", HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert "<html" not in body
    assert seqs(body) == list(range(21, 71))
    assert "?before=21" in body
    last = client.get(f"/chats/{chat.pk}/?before=21", HTTP_HX_REQUEST="true").content.decode()
    assert seqs(last) == list(range(1, 21))
    assert "?before=" not in last
    # Without JavaScript the same link is a full page.
    assert "<html" in client.get(f"/chats/{chat.pk}/?before=71").content.decode()


def test_send_fallback_stores_and_redirects(alice, bob):
    chat = make_chat(alice, bob)
    client = logged_in(alice)
    response = client.post(f"/chats/{chat.pk}/send/", {"body": "  hello  ", "client_id": "c-1"})
    assert response.status_code == 302
    assert response["Location"] == f"/chats/{chat.pk}/"
    message = Message.objects.get()
    assert (message.body, message.seq, message.client_id) == ("hello", 1, "c-1")
    # A resubmitted form (same client_id) stores nothing new.
    client.post(f"/chats/{chat.pk}/send/", {"body": "  hello  ", "client_id": "c-1"})
    assert Message.objects.count() == 1


@pytest.mark.parametrize("body", ["", "   \n  ", "x" * 4001])
def test_send_fallback_refuses_bad_bodies(alice, bob, body):
    chat = make_chat(alice, bob)
    response = logged_in(alice).post(f"/chats/{chat.pk}/send/", {"body": body}, follow=True)
    assert Message.objects.count() == 0
    assert 'class="flash-error"' in response.content.decode()


XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><b hx-get=/accounts/logout/ hx-trigger=load>',
    "{{7*7}}",
]


@pytest.mark.parametrize("body", XSS)
def test_history_escapes_message_bodies(alice, bob, body):
    chat = make_chat(alice, bob)
    logged_in(bob).post(f"/chats/{chat.pk}/send/", {"body": body})
    html = logged_in(alice).get(f"/chats/{chat.pk}/").content.decode()
    assert escape(body) in html  # shown as text
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<b hx-get" not in html


def test_chat_list_orders_by_recent_activity_with_unread(alice, bob, carol):
    with_bob = make_chat(alice, bob)
    with_carol = make_chat(alice, carol)
    make_messages(with_bob, bob, 2)
    make_messages(with_carol, carol, 3)
    html = logged_in(alice).get("/chats/").content.decode()
    assert html.index("carol") < html.index("bob")
    assert re.search(r'data-count="3"', html)
    assert re.search(r'data-count="2"', html)


def test_chat_list_for_htmx_is_the_list_partial_with_the_servers_unread_counts(alice, bob, carol):
    with_bob = make_chat(alice, bob)
    with_carol = make_chat(alice, carol)
    make_messages(with_bob, bob, 2)
    make_messages(with_carol, carol, 3)
    client = logged_in(alice)
    partial = client.get("/chats/", HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert partial.status_code == 200
    assert "HX-Request" in partial["Vary"]
    assert "<html" not in body
    assert body.strip().startswith('<ul class="chatlist" id="chatlist" data-unread-total="5">')
    assert re.findall(r'data-chat-id="(\d+)"', body) == [str(with_carol.pk), str(with_bob.pk)]
    assert re.findall(r'data-field="unread" data-count="(\d+)"', body) == ["3", "2"]
    # The full page and the chat page carry the same list, total included.
    page = client.get("/chats/").content.decode()
    assert "<html" in page and 'data-unread-total="5"' in page
    detail = client.get(f"/chats/{with_bob.pk}/").content.decode()
    assert 'id="chatlist" data-unread-total="5"' in detail
    assert f'<li class="chatitem current" data-chat-id="{with_bob.pk}"' in detail


def test_chat_list_query_count_is_constant(alice, django_assert_max_num_queries):
    for i in range(30):
        peer = UserFactory(username=f"peer{i}")
        make_messages(make_chat(alice, peer), peer, 1)
    client = logged_in(alice)
    with django_assert_max_num_queries(6):
        assert client.get("/chats/").status_code == 200


def test_read_endpoint_moves_pointer_forward_only(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 5)
    client = logged_in(alice)
    assert client.post(f"/chats/{chat.pk}/read/", {"seq": "4"}).status_code == 204
    assert client.post(f"/chats/{chat.pk}/read/", {"seq": "2"}).status_code == 204
    assert Membership.objects.get(chat=chat, user=alice).read_seq == 4
    assert client.post(f"/chats/{chat.pk}/read/", {"seq": "-1"}).status_code == 400


def test_unsafe_requests_need_csrf(alice, bob):
    chat = make_chat(alice, bob)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    for url, data in [
        ("/chats/start/", {"username": "bob"}),
        (f"/chats/{chat.pk}/send/", {"body": "hi"}),
        (f"/chats/{chat.pk}/read/", {"seq": "1"}),
        ("/accounts/profile/", {"username": "x-y-z"}),
        ("/accounts/password/", {}),
        ("/accounts/logout/", {}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert Message.objects.count() == 0


def bulk_chats(user, count):
    """`count` chats for `user`, each with one message from the peer, in a few statements."""
    from accounts.models import User

    peers = User.objects.bulk_create(
        [User(username=f"bulk{i}", password="!") for i in range(count)]
    )
    chats = Chat.objects.bulk_create(
        [
            Chat(user_low_id=min(user.pk, p.pk), user_high_id=max(user.pk, p.pk), last_seq=1)
            for p in peers
        ]
    )
    Membership.objects.bulk_create(
        [Membership(user_id=user.pk, chat=c) for c in chats]
        + [Membership(user_id=p.pk, chat=c) for p, c in zip(peers, chats, strict=True)]
    )
    Message.objects.bulk_create(
        [
            Message(chat=c, seq=1, sender=p, body=f"hi {p.username}", client_id="c")
            for p, c in zip(peers, chats, strict=True)
        ]
    )


def test_chat_list_with_1000_chats_uses_as_many_queries_as_with_one(
    alice, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    client = logged_in(alice)
    bulk_chats(alice, 1)
    with CaptureQueriesContext(connection) as one:
        assert client.get("/chats/").status_code == 200
    User.objects.filter(username__startswith="bulk").delete()  # their chats go with them
    bulk_chats(alice, 1000)
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get("/chats/")
    assert response.content.decode().count('<li class="chatitem') == 1000


def test_history_marks_each_message_with_its_version_and_removal(alice, bob):
    from chats import moderation

    chat = make_chat(alice, bob)
    first, _second = make_messages(chat, bob, 2)
    moderation.message_remove(message=first, moderator=UserFactory(is_staff=True), reason="x")
    html = logged_in(alice).get(f"/chats/{chat.pk}/").content.decode()
    assert re.search(r'data-seq="1"[^>]*data-version="3" data-removed="true"', html)
    assert re.search(r'data-seq="2"[^>]*data-version="2" data-removed="false"', html)


def test_switching_chats_in_place_gets_the_panel_and_a_history_restore_the_page(alice, bob, carol):
    with_bob = make_chat(alice, bob)
    with_carol = make_chat(alice, carol)
    make_messages(with_carol, carol, 2)
    client = logged_in(alice)
    slot = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "chat-slot"}

    panel = client.get(f"/chats/{with_carol.pk}/", **slot)
    body = panel.content.decode()
    assert panel.status_code == 200
    assert {"HX-Request", "HX-Target", "HX-History-Restore-Request"} <= {
        h.strip() for h in panel["Vary"].split(",")
    }
    assert "<html" not in body and 'id="chatlist"' not in body
    assert body.strip().startswith('<section class="chat-panel" id="chat"')
    assert f'data-chat-id="{with_carol.pk}"' in body and 'data-title="carol · Chatsite"' in body
    assert seqs(body) == [1, 2]
    assert 'id="composer"' in body and 'id="message-template"' in body
    # The list page's slot empties the same way; a foreign chat is a 404 like the page.
    empty = client.get("/chats/", **slot).content.decode()
    assert empty.strip().startswith('<section class="chat-panel placeholder"')
    assert 'id="chatlist"' not in empty
    assert client.get(f"/chats/{with_bob.pk + with_carol.pk + 99}/", **slot).status_code == 404

    # Back and forward ask for the whole page (htmx takes its hx-history-elt), as does a
    # browser without JavaScript; the list's links work both ways.
    for headers in ({**slot, "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}, {}):
        page = client.get(f"/chats/{with_carol.pk}/", **headers).content.decode()
        assert "<html" in page and 'id="chatlist"' in page
        assert '<div class="chat-slot" id="chat-slot" hx-history-elt>' in page
        assert (
            f'<a href="/chats/{with_bob.pk}/" hx-get="/chats/{with_bob.pk}/" '
            'hx-target="#chat-slot" hx-push-url="true"'
        ) in page
        listing = client.get("/chats/", **headers).content.decode()
        assert "<html" in listing
        assert '<div class="chat-slot" id="chat-slot" hx-history-elt>' in listing


def test_history_shows_edits_deletions_quotes_and_reactions(alice, bob):
    """Issue 16 on the server-rendered history (first page and an older page): "edited" with
    its time, "This message was deleted" with no actions, a quote that follows its original,
    and who reacted with what."""
    from chats import message_changes, services

    chat = make_chat(alice, bob)
    make_messages(chat, alice, 2)  # seqs 1, 2
    services.message_send(sender=bob, chat_id=chat.pk, client_id="r", body="re", reply_to=2)
    message_changes.message_edit(user=alice, chat_id=chat.pk, seq=1, body="fixed")
    for user in (bob, alice):
        message_changes.message_react(user=user, chat_id=chat.pk, seq=1, emoji="👍", on=True)
    message_changes.message_delete(user=alice, chat_id=chat.pk, seq=2)
    client = logged_in(bob)
    for html in (
        client.get(f"/chats/{chat.pk}/").content.decode(),
        client.get(f"/chats/{chat.pk}/?before=4", HTTP_HX_REQUEST="true").content.decode(),
    ):
        items = {
            int(seq): item
            for seq, item in re.findall(
                r'(?s)<li class="msg[^"]*"\s+id="msg-(\d+)"(.*?)</li>\n', html
            )
        }
        edited = Message.objects.get(chat=chat, seq=1).edited_at
        assert '<p class="body" data-field="body">fixed</p>' in items[1]
        assert f'<time datetime="{edited.isoformat()}' in items[1]
        assert 'aria-label="👍 2: bob, alice"' in items[1]
        assert 'data-deleted="true"' in items[2] and "This message was deleted" in items[2]
        assert "message 1" not in items[2] and "msg-actions-button" not in items[2]
        assert re.search(r'href="#msg-2" data-seq="2".*<em>deleted message</em>', items[3])
