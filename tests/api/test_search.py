"""GET /api/messages/search/ (api/search.py)."""

import pytest

from chats import services
from tests.api.conftest import ApiClient
from tests.factories import make_chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(alice, bob):
    chat = make_chat(alice, bob)
    for i in range(3):
        services.message_send(
            sender=bob, chat_id=chat.pk, client_id=f"c{i}", body=f"<i>plan</i> {i}"
        )
    return chat


def test_results_with_snippets_and_a_keyset_next(alice, bob, chat, monkeypatch):
    monkeypatch.setattr("chats.search.PAGE", 2)
    api = ApiClient(alice)
    body = api.get("/api/messages/search/", {"q": "plan"}).json()
    assert [r["seq"] for r in body["results"]] == [3, 2]
    first = body["results"][0]
    assert set(first) == {"chat", "seq", "sender", "peer", "sent_at", "snippet"}
    assert (first["chat"], first["sender"], first["peer"]) == (chat.pk, bob.username, bob.username)
    assert first["snippet"] == "&lt;i&gt;<mark>plan</mark>&lt;/i&gt; 2"
    assert first["sent_at"].endswith("Z")
    rest = api.get("/api/messages/search/", {"q": "plan", "before": body["next"]}).json()
    assert [r["seq"] for r in rest["results"]] == [1] and rest["next"] is None


def test_a_short_query_finds_nothing_and_a_bad_cursor_is_a_400(alice, chat):
    api = ApiClient(alice)
    assert api.get("/api/messages/search/", {"q": "p"}).json() == {"results": [], "next": None}
    response = api.get("/api/messages/search/", {"q": "plan", "before": "zz"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"before": ["before is not a cursor of this search."]}


def test_another_users_search_sees_nothing_of_the_chat(carol, chat):
    assert ApiClient(carol).get("/api/messages/search/", {"q": "plan"}).json()["results"] == []


def test_search_is_rate_limited(alice, chat, settings):
    settings.SEARCH_RATE = (1, 60)
    api = ApiClient(alice)
    assert api.get("/api/messages/search/", {"q": "plan"}).status_code == 200
    response = api.get("/api/messages/search/", {"q": "plan"})
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_search_needs_a_session():
    assert ApiClient().get("/api/messages/search/", {"q": "plan"}).status_code == 401


def test_relevance_pages_by_offset(alice, bob, chat, monkeypatch):
    monkeypatch.setattr("chats.search.PAGE", 2)
    services.message_send(sender=bob, chat_id=chat.pk, client_id="r", body="plan plan plan")
    api = ApiClient(alice)
    body = api.get("/api/messages/search/", {"q": "plan", "sort": "relevance"}).json()
    assert body["results"][0]["seq"] == 4 and body["next"] == "o2"
    rest = api.get("/api/messages/search/", {"q": "plan", "sort": "relevance", "before": "o2"})
    assert len(rest.json()["results"]) == 2 and rest.json()["next"] is None
    assert api.get("/api/messages/search/", {"q": "plan", "sort": "best"}).status_code == 400
