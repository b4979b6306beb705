from datetime import UTC, datetime

import pytest

from accounts.models import User
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def make(*usernames, **fields):
    return [User.objects.create(username=name, password="!", **fields) for name in usernames]


def test_search_follows_the_page_rules(api_client, alice):
    make("kali", "ali", "alina", "ali_x")
    make("alix", is_active=False)
    response = api_client(alice).get("/api/users/", {"search": "ALI"})
    assert response.status_code == 200
    assert [u["username"] for u in response.json()["users"]] == ["ali", "ali_x", "alina", "kali"]


def test_search_reports_status_and_last_seen(api_client, alice):
    seen = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    make("samold", last_seen=seen)
    make("samhidden", last_seen=seen, hide_presence=True)
    make("samnever")
    users = api_client(alice).get("/api/users/", {"search": "sam"}).json()["users"]
    assert users == [
        {"username": "samhidden", "status": "hidden", "last_seen": None},
        {"username": "samnever", "status": "offline", "last_seen": None},
        {"username": "samold", "status": "offline", "last_seen": "2026-01-02T03:04:05Z"},
    ]


@pytest.mark.parametrize("params", [{}, {"search": ""}, {"search": "a"}, {"search": " b "}])
def test_short_searches_are_400(api_client, alice, params):
    assert_error(api_client(alice).get("/api/users/", params), 400, "invalid", "search")


def test_search_needs_a_session(api_client):
    assert_error(api_client().get("/api/users/", {"search": "al"}), 401, "unauthenticated")


def test_search_is_rate_limited_with_429(api_client, alice, settings):
    settings.SEARCH_RATE = (2, 60)
    api = api_client(alice)
    assert api.get("/api/users/", {"search": "bo"}).status_code == 200
    assert api.get("/api/users/", {"search": "bo"}).status_code == 200
    response = api.get("/api/users/", {"search": "bo"})
    body = assert_error(response, 429, "rate_limited")
    assert body["detail"] == "You are searching too fast. Wait a minute and try again."
    assert 1 <= int(response["Retry-After"]) <= 60
