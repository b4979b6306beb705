"""Stored XSS: hostile message bodies and usernames are shown as text on every server-rendered
surface (history, chat list, search results, admin) and travel as JSON data on the socket.

Usernames are restricted to [A-Za-z0-9_.-] at every edge (tests/accounts/test_signup.py,
test_profile.py, tests/api/test_me.py); here they are written straight to the database, as a
legacy import or a future bug might, to prove the templates do not rely on that rule."""

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils.html import escape

from accounts.models import User
from chats import services
from tests.factories import make_chat

pytestmark = pytest.mark.django_db

BODIES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><b hx-get=/accounts/logout/ hx-trigger=load>',
    "{{7*7}}",
    "javascript:alert(1)",
    "<a href=javascript:alert(1)>click</a>",
    "<svg onload=alert(1)>",
]
# At most 30 characters (the column's size).
USERNAMES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><b hx-get=/ hx-trigger=load>',
    "{{7*7}}",
    "javascript:alert(1)",
    "<svg onload=alert(1)>",
]


URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "hx-get", "hx-post"}


class Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def live_markup(html):
    """What a browser would act on: script without src, event handlers, javascript: URLs,
    htmx attributes pointing at logout or firing on load, the payload's <img src=x>."""
    parser = Tags()
    parser.feed(html)
    found = []
    for tag, attrs in parser.tags:
        if tag == "script" and "src" not in attrs and attrs.get("type") != "application/json":
            found.append((tag, attrs))
        if tag == "img" and attrs.get("src") == "x":
            found.append((tag, attrs))
        for name, value in attrs.items():
            value = (value or "").strip().lower()
            if name.startswith("on"):
                found.append((tag, attrs))
            if name in URL_ATTRIBUTES and value.startswith("javascript:"):
                found.append((tag, attrs))
            if name.startswith("hx-") and ("logout" in value or value == "load"):
                found.append((tag, attrs))
    return found


@pytest.fixture
def hostile(alice):
    """Users with hostile names who sent hostile bodies to alice (a moderator too)."""
    alice.is_staff = alice.is_superuser = True
    alice.save()
    chats = []
    for i, name in enumerate(USERNAMES):
        sender = User.objects.create(username=name, password="!")
        chat = make_chat(alice, sender)
        for j, body in enumerate(BODIES):
            services.message_send(sender=sender, chat_id=chat.pk, client_id=f"{i}-{j}", body=body)
        chats.append(chat)
    client = Client()
    client.force_login(alice)
    return client, chats


def shown_as_text(html, texts):
    return [t for t in texts if escape(t) not in html]


def test_history_shows_hostile_bodies_and_names_as_text(hostile):
    client, chats = hostile
    for chat in chats:
        html = client.get(f"/chats/{chat.pk}/").content.decode()
        assert live_markup(html) == []
        assert shown_as_text(html, BODIES) == []
        partial = client.get(f"/chats/{chat.pk}/?before=99", HTTP_HX_REQUEST="true")
        assert live_markup(partial.content.decode()) == []


def test_chat_list_shows_hostile_names_and_previews_as_text(hostile):
    client, _chats = hostile
    html = client.get("/chats/").content.decode()
    assert live_markup(html) == []
    assert shown_as_text(html, USERNAMES) == []


@pytest.mark.parametrize("q", ["alert", "load", "script"])
def test_search_results_show_hostile_names_as_text(hostile, q):
    client, _chats = hostile
    for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
        html = client.get("/search/", {"q": q}, **extra).content.decode()
        assert live_markup(html) == []
        matching = [u for u in USERNAMES if q in u]
        assert matching and shown_as_text(html, matching) == []


@pytest.mark.parametrize(
    "path", ["/admin/chats/message/", "/admin/chats/chat/", "/admin/accounts/user/"]
)
def test_admin_lists_show_hostile_bodies_and_names_as_text(hostile, path):
    client, _chats = hostile
    html = client.get(path).content.decode()
    assert live_markup(html) == []
    assert shown_as_text(html, USERNAMES) == []


def test_admin_message_page_shows_the_body_as_text(hostile):
    client, chats = hostile
    for message in chats[0].messages.all():
        html = client.get(f"/admin/chats/message/{message.pk}/change/").content.decode()
        assert live_markup(html) == []
        assert escape(message.body) in html


@pytest.mark.django_db(transaction=True)
async def test_socket_frames_carry_hostile_text_as_json_strings(hostile, alice):
    """The socket never sends markup: names and bodies are JSON strings, byte for byte."""
    from tests.chats.conftest import Socket

    _client, chats = hostile
    sock = Socket(alice)
    assert (await sock.connect())[0]
    try:
        assert sorted(c["peer"] for c in sock.hello["chats"]) == sorted(USERNAMES)
        await sock.send({"type": "sync", "chat": chats[0].pk, "after": 0})
        frames = []
        while True:
            frame = await sock.recv()
            if frame["type"] == "synced":
                break
            frames.append(frame["message"])
        assert [m["body"] for m in frames] == BODIES
        assert {m["sender"] for m in frames} == {USERNAMES[0]}
        assert all("html" not in m for m in frames)
    finally:
        await sock.close()
