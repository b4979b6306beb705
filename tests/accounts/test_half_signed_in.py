"""After the password step of a two-factor account, the session reaches nothing an anonymous
visitor cannot: every page and API route answers it as it answers a stranger, and the socket
refuses it. Only the code form is open."""

import json
import re

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.chats.conftest import Socket
from tests.factories import PASSWORD, make_exchange

pytestmark = pytest.mark.django_db


def page_paths(chat_id):
    """Every page path of the site with real ids in it (the admin's root stands for it)."""

    def walk(patterns, prefix):
        for entry in patterns:
            route = str(entry.pattern)
            if isinstance(entry, URLResolver):
                if route.startswith("admin/"):
                    yield prefix + route
                elif not route.startswith("api/"):
                    yield from walk(entry.url_patterns, prefix + route)
            elif isinstance(entry, URLPattern):
                yield prefix + route

    for route in walk(get_resolver().url_patterns, "/"):
        yield route.replace("<int:chat_id>", str(chat_id)).replace("<int:seq>", "1")


def api_operations(chat_id):
    doc = Client().get("/api/openapi.json").json()
    for path, ops in doc["paths"].items():
        for method in ops:
            path = path.replace("{chat_id}", str(chat_id)).replace("{emoji}", "%F0%9F%91%8D")
            # Every other parameter is an id or a seq: 1 names one, or nothing.
            yield method, re.sub(r"\{\w+\}", "1", path)


def half_signed_in(user, with_2fa):
    with_2fa(user)
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response["Location"] == "/accounts/login/code/"
    return client


def answer(client, method, path):
    call = getattr(client, method)
    body = json.dumps({}) if method != "get" else None
    response = call(path) if body is None else call(path, body, content_type="application/json")
    return response.status_code, response.get("Location")


def test_every_page_answers_as_to_a_stranger(alice, bob, with_2fa):
    chat = make_exchange(alice, bob, "hi", "hello")
    half = half_signed_in(alice, with_2fa)
    stranger = Client()
    assert half.get("/accounts/login/code/").status_code == 200
    paths = sorted(set(page_paths(chat.pk)))
    assert len(paths) > 20
    for path in paths:
        if path in ("/accounts/login/code/", "/accounts/logout/"):  # logout ends the step
            continue
        for method in ("get", "post"):
            assert answer(half, method, path) == answer(stranger, method, path), (method, path)
    # Nothing of alice's leaks into the pages it can see.
    assert "alice" not in half.get("/").content.decode()
    assert half.get("/accounts/login/code/").status_code == 200  # still half-signed-in


def test_every_api_route_is_401_or_as_to_a_stranger(alice, bob, with_2fa):
    chat = make_exchange(alice, bob, "hi", "hello")
    half = half_signed_in(alice, with_2fa)
    stranger = Client()
    operations = list(api_operations(chat.pk))
    assert len(operations) > 10
    operations.remove(("post", "/api/auth/logout/"))
    for method, path in operations:
        mine = answer(half, method, path)
        assert mine == answer(stranger, method, path), (method, path)
        public = path.startswith("/api/auth/")
        assert public or mine[0] in (401, 403), (method, path, mine)
    assert half.get("/accounts/login/code/").status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_it(alice, with_2fa):
    client = await sync_to_async(half_signed_in)(alice, with_2fa)
    key = client.cookies["sessionid"].value
    connected, code = await Socket(alice, session_key=key).connect()
    assert not connected or code == 4401
    assert (connected, code) != (True, None)
