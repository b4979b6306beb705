"""The message search page, /search/messages/ (chats/search_views.py), and the top bar's
People/Messages switch."""

import pytest

from chats import services
from tests.factories import make_chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(alice, bob):
    chat = make_chat(alice, bob)
    for i, body in enumerate(["lunch at noon?", "<b>lunch</b> & dinner", "unrelated"]):
        sender = alice if i % 2 == 0 else bob
        services.message_send(sender=sender, chat_id=chat.pk, client_id=f"c{i}", body=body)
    return chat


def test_the_page_needs_login(client):
    response = client.get("/search/messages/?q=lunch")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_results_link_to_the_message_in_its_chat_with_escaped_marked_snippets(client, alice, chat):
    client.force_login(alice)
    response = client.get("/search/messages/", {"q": "lunch"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert f'href="/chats/{chat.pk}/?around=2#msg-2"' in html
    assert f'href="/chats/{chat.pk}/?around=1#msg-1"' in html
    assert html.index("around=2") < html.index("around=1")  # newest first
    assert "&lt;b&gt;<mark>lunch</mark>&lt;/b&gt; &amp; dinner" in html
    assert "<b>lunch</b>" not in html
    assert 'hx-get="/search/messages/"' in html and 'method="get"' in html


def test_htmx_gets_the_results_partial_and_more_rows(client, alice, chat, monkeypatch):
    client.force_login(alice)
    monkeypatch.setattr("chats.search.PAGE", 1)
    response = client.get("/search/messages/?q=lunch", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.strip().startswith('<div id="search-results"')
    assert "HX-Request" in response["Vary"]
    assert 'id="hits-more"' in html and "around=2" in html and "around=1" not in html
    assert 'hx-get="/search/messages/?q=lunch&amp;sort=newest&amp;before=' in html
    cursor = html.split("before=")[1].split('"')[0]
    more = client.get(f"/search/messages/?q=lunch&before={cursor}", headers={"HX-Request": "true"})
    rows = more.content.decode()
    assert "around=1" in rows and "search-results" not in rows and "hits-more" not in rows


@pytest.mark.parametrize("q", ["", "x", "  "])
def test_short_queries_show_a_hint(client, alice, chat, q):
    client.force_login(alice)
    html = client.get("/search/messages/", {"q": q}).content.decode()
    assert "Type at least 2 characters." in html and 'class="hits"' not in html


def test_no_match_and_a_bad_cursor_say_so(client, alice, chat):
    client.force_login(alice)
    assert "No message matches “zebra”." in client.get("/search/messages/?q=zebra").content.decode()
    response = client.get("/search/messages/?q=lunch&before=nonsense")
    assert response.status_code == 400
    assert "before is not a cursor of this search." in response.content.decode()


def test_searching_is_rate_limited_like_user_search(client, alice, chat, settings):
    settings.SEARCH_RATE = (2, 60)
    client.force_login(alice)
    assert client.get("/search/?q=bo").status_code == 200
    assert client.get("/search/messages/?q=lunch").status_code == 200
    response = client.get("/search/messages/?q=lunch")
    assert response.status_code == 429
    assert "You are searching too fast." in response.content.decode()


def test_the_top_bar_switches_between_people_and_messages(client, alice, chat):
    client.force_login(alice)
    html = client.get("/chats/").content.decode()
    assert 'name="scope" value="people"' in html and 'name="scope" value="messages"' in html
    assert 'data-action="/search/messages/"' in html
    people = client.get("/search/", {"q": "lunch at"}).content.decode()
    assert 'href="/search/messages/?q=lunch%20at"' in people
    messages = client.get("/search/messages/", {"q": "lunch at"}).content.decode()
    assert 'href="/search/?q=lunch%20at"' in messages
