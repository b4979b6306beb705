"""Logging out or changing the password closes the user's open sockets; which sessions
open a socket at all."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from chats import socket_actions
from chatsite.asgi import application
from tests.chats.conftest import HOST, ORIGIN, Socket
from tests.factories import PASSWORD
from tests.support.sessions import login_session

pytestmark = pytest.mark.django_db(transaction=True)


def login(client):
    assert (
        client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code
        == 302
    )
    return client.cookies["sessionid"].value


async def open_socket(user, key):
    sock = Socket(user, session_key=key)
    connected, _ = await sock.connect()
    assert connected and sock.hello is not None
    return sock


async def test_logout_closes_that_sessions_socket_only(alice):
    one, two = Client(), Client()
    key_one = await sync_to_async(login)(one)
    key_two = await sync_to_async(login)(two)
    sock_one = await open_socket(alice, key_one)
    sock_two = await open_socket(alice, key_two)
    await sync_to_async(one.post)("/accounts/logout/")
    assert await sock_one.close_code() == 4401
    assert await sock_two.nothing(timeout=0.5)
    await sock_two.close()


async def test_password_change_closes_other_sessions_sockets(alice):
    this, other = Client(), Client()
    await sync_to_async(login)(this)
    key_other = await sync_to_async(login)(other)
    sock_other = await open_socket(alice, key_other)
    new = "another-horse-battery-7"
    response = await sync_to_async(this.post)(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert await sock_other.close_code() == 4401


async def test_a_session_from_before_a_password_change_is_closed_with_4401(alice):
    key = await sync_to_async(login)(Client())

    def change_password_behind_the_sessions_back():
        alice.set_password("a whole new secret 123")
        alice.save()

    await sync_to_async(change_password_behind_the_sessions_back)()
    assert await Socket(alice, session_key=key).connect() == (False, 4401)


async def test_a_deactivated_users_session_is_closed_with_4401(alice):
    key = await sync_to_async(login)(Client())
    alice.is_active = False
    await sync_to_async(alice.save)()
    assert await Socket(alice, session_key=key).connect() == (False, 4401)


async def test_the_session_cookie_is_found_among_other_cookies(alice):
    key = await sync_to_async(login)(Client())
    cookie = f"theme=dark; sessionid={key}; other=1".encode()
    comm = WebsocketCommunicator(application, "/ws/", headers=[HOST, ORIGIN, (b"cookie", cookie)])
    connected, _ = await comm.connect(timeout=5)
    assert connected
    hello = await comm.receive_json_from(timeout=5)
    assert hello["type"] == "hello" and hello["user"] == "alice"
    await comm.disconnect()


def _session_with(user, **changes):
    key = login_session(user)
    store = SessionStore(key)
    for name, value in changes.items():
        store[name] = value
    store.save()
    return key


async def test_authenticate_async_agrees_with_authenticate(alice, bob, carol):
    def prepare():
        keys = {
            "fresh": login_session(alice),
            "expired": login_session(alice),
            "stale hash": login_session(bob),
            "deactivated": login_session(carol),
            "unknown backend": _session_with(alice, **{BACKEND_SESSION_KEY: "no.such.Backend"}),
            "no user id": _session_with(alice, **{SESSION_KEY: "not a number"}),
            "unknown key": "nosuchsessionkey0000000000000000",
        }
        past = timezone.now() - timedelta(seconds=1)
        Session.objects.filter(session_key=keys["expired"]).update(expire_date=past)
        bob.set_password("a-new-password-93")
        bob.save()
        carol.is_active = False
        carol.save()
        return keys

    keys = await sync_to_async(prepare)()
    got = {name: await socket_actions.authenticate_async(key) for name, key in keys.items()}
    user, session = got.pop("fresh")
    assert user.pk == alice.pk and user.username == "alice" and user.is_active
    assert session.session_key == keys["fresh"] and session[SESSION_KEY] == str(alice.pk)
    assert got == dict.fromkeys(got)  # every other one: no one
    # The sync way gives the same answers (it ran after: a stale hash flushed its session).
    assert (await sync_to_async(socket_actions.authenticate)(keys["fresh"]))[0].pk == alice.pk
    for name in got:
        assert await sync_to_async(socket_actions.authenticate)(keys[name]) is None, name
    flushed = await sync_to_async(Session.objects.filter(session_key=keys["stale hash"]).exists)()
    assert not flushed
