"""History opened around a message (a search result): selectors.messages_around and
selectors.history_page (the one choice of window), the chat page's `?around=` and `?after=`,
and the API's `around`."""

import re

import pytest

from chats import selectors
from tests.api.conftest import ApiClient
from tests.factories import make_chat, make_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 80)
    return chat


@pytest.mark.parametrize(
    ("seq", "first", "last", "older", "newer"),
    [(1, 1, 26, False, True), (80, 55, 80, True, False), (40, 15, 65, True, True)],
)
def test_around_gives_25_each_side_and_says_what_follows(chat, seq, first, last, older, newer):
    page, has_older, has_newer = selectors.messages_around(chat_id=chat.pk, seq=seq)
    assert [m.seq for m in page] == list(range(first, last + 1))
    assert (has_older, has_newer) == (older, newer)


def test_the_page_opens_at_the_message_highlighted_with_both_ways_to_load(client, alice, chat):
    client.force_login(alice)
    html = client.get(f"/chats/{chat.pk}/?around=40").content.decode()
    assert 'data-around="40"' in html
    assert 'class="msg mine target' in html and html.count(" target") == 1
    assert 'id="msg-15"' in html and 'id="msg-65"' in html
    assert 'id="msg-14"' not in html and 'id="msg-66"' not in html
    assert 'href="?before=15"' in html and 'href="?after=65"' in html


@pytest.mark.parametrize(("seq", "older", "newer"), [(1, False, True), (80, True, False)])
def test_the_page_at_the_first_and_last_message(client, alice, chat, seq, older, newer):
    client.force_login(alice)
    html = client.get(f"/chats/{chat.pk}/?around={seq}").content.decode()
    assert ('id="load-older"' in html) is older
    assert ('id="load-newer"' in html) is newer
    assert f'id="msg-{seq}"' in html


def test_newer_history_comes_as_a_partial_up_to_the_end(client, alice, chat):
    client.force_login(alice)
    html = client.get(f"/chats/{chat.pk}/?after=65", headers={"HX-Request": "true"}).content
    text = html.decode()
    assert "<html" not in text
    assert 'id="msg-66"' in text and 'id="msg-80"' in text and 'id="msg-65"' not in text
    assert "load-newer" not in text and "load-older" not in text


def test_the_api_gives_the_same_window(alice, chat):
    api = ApiClient(alice)
    body = api.get(f"/api/chats/{chat.pk}/messages/", {"around": 1}).json()
    assert [m["seq"] for m in body["messages"]] == list(range(1, 27))
    assert (body["has_more"], body["has_newer"]) == (False, True)
    body = api.get(f"/api/chats/{chat.pk}/messages/", {"around": 80}).json()
    assert [m["seq"] for m in body["messages"]] == list(range(55, 81))
    assert (body["has_more"], body["has_newer"]) == (True, False)
    both = api.get(f"/api/chats/{chat.pk}/messages/", {"around": 5, "before": 3})
    assert both.status_code == 400


@pytest.mark.parametrize(
    ("params", "seqs", "older", "newer", "around"),
    [
        ({}, (31, 80), True, False, None),
        ({"before": 20}, (1, 19), False, False, None),
        ({"after": 70}, (71, 80), False, False, None),
        ({"after": 10}, (11, 60), False, True, None),
        ({"around": 40}, (15, 65), True, True, 40),
        ({"after": 70, "before": 20}, (71, 80), False, False, None),  # after first
        ({"before": 20, "around": 40}, (1, 19), False, False, None),  # then before
    ],
)
def test_history_page_picks_one_window(chat, params, seqs, older, newer, around):
    page = selectors.history_page(chat_id=chat.pk, **params)
    assert [m.seq for m in page.messages] == list(range(seqs[0], seqs[1] + 1))
    assert (page.has_older, page.has_newer, page.around) == (older, newer, around)


@pytest.mark.parametrize("params", [{}, {"before": 20}, {"after": 10}, {"around": 40}])
def test_the_page_and_the_api_show_the_same_window(client, alice, chat, params):
    client.force_login(alice)
    html = client.get(f"/chats/{chat.pk}/", params).content.decode()
    shown = [int(seq) for seq in re.findall(r'<li[^>]* id="msg-(\d+)"', html)]
    body = ApiClient(alice).get(f"/api/chats/{chat.pk}/messages/", params).json()
    assert shown == [m["seq"] for m in body["messages"]] != []


def test_a_foreign_chat_is_not_found(carol, chat):
    assert ApiClient(carol).get(f"/api/chats/{chat.pk}/messages/", {"around": 1}).status_code == 404
