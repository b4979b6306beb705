"""Reads have budgets too (issue 21): the history (the API, the chat page and its older
pages) and the user search (the API and the page) are counted per user, one budget each
shared by every edge, 120 a minute by default; over one, 429 with `Retry-After` and nothing
read."""

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import ApiClient, assert_error
from tests.factories import make_chat, make_messages

# An hour's window: a window shorter than the test would let its first requests leave it.
pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 3)
    return chat


def assert_limited(response):
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    return response


def test_history_and_search_default_to_120_a_minute():
    assert (django_settings.SEARCH_RATE, django_settings.HISTORY_RATE) == ((120, 60), (120, 60))


@pytest.mark.parametrize("older", [False, True])
def test_the_chat_page_and_its_older_pages_spend_the_history_budget(
    client, alice, chat, settings, older
):
    settings.HISTORY_RATE = (2, 3600)
    client.force_login(alice)
    page = f"/chats/{chat.pk}/"
    params, headers = ({"before": 3}, {"HX-Request": "true"}) if older else ({}, {})
    assert client.get(page, params, headers=headers).status_code == 200
    assert client.get(page, params, headers=headers).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = assert_limited(client.get(page, params, headers=headers))
    html = response.content.decode()
    assert "Too many history requests" in html
    if older:  # htmx swaps a 429 in place of the link: the link again, to try later
        assert 'class="load-older failed"' in html and 'hx-get="?before=3"' in html
        assert "intersect" not in html  # on a click only: no loop on an element in view
    assert not any("chats_message" in q["sql"] for q in queries.captured_queries)


def test_a_refused_newer_page_is_its_link_again(client, alice, chat, settings):
    settings.HISTORY_RATE = (0, 3600)
    client.force_login(alice)
    htmx = {"HX-Request": "true", "HX-Target": "load-newer"}
    html = assert_limited(client.get(f"/chats/{chat.pk}/", {"after": 1}, headers=htmx))
    html = html.content.decode()
    assert 'class="load-newer failed"' in html and 'hx-get="?after=1"' in html


def test_the_message_search_spends_the_search_budget(client, alice, settings):
    settings.SEARCH_RATE = (1, 3600)
    client.force_login(alice)
    assert client.get("/search/", {"q": "bo"}).status_code == 200
    response = assert_limited(client.get("/search/messages/", {"q": "hello"}))
    assert "You are searching too fast" in response.content.decode()
    assert_error(
        assert_limited(ApiClient(alice).get("/api/messages/search/", {"q": "hi"})),
        429,
        "rate_limited",
    )


def test_the_api_and_the_pages_share_one_history_budget(client, alice, chat, settings):
    settings.HISTORY_RATE = (2, 3600)
    client.force_login(alice)
    assert client.get(f"/chats/{chat.pk}/").status_code == 200
    assert ApiClient(alice).get(f"/api/chats/{chat.pk}/messages/").status_code == 200
    assert_limited(client.get(f"/chats/{chat.pk}/", {"before": 2}))
    response = assert_limited(ApiClient(alice).get(f"/api/chats/{chat.pk}/messages/"))
    assert_error(response, 429, "rate_limited")


def test_the_search_page_answers_429_with_retry_after(client, alice, settings):
    settings.SEARCH_RATE = (1, 3600)
    client.force_login(alice)
    assert client.get("/search/", {"q": "bo"}).status_code == 200
    response = assert_limited(client.get("/search/", {"q": "bo"}, headers={"HX-Request": "true"}))
    assert "You are searching too fast" in response.content.decode()


def test_the_search_page_and_api_share_one_budget(client, alice, settings):
    settings.SEARCH_RATE = (2, 3600)
    client.force_login(alice)
    assert client.get("/search/", {"q": "bo"}).status_code == 200
    assert ApiClient(alice).get("/api/users/", {"search": "bo"}).status_code == 200
    assert_limited(client.get("/search/", {"q": "bo"}))
    response = assert_limited(ApiClient(alice).get("/api/users/", {"search": "bo"}))
    assert_error(response, 429, "rate_limited")
