"""Every end of a session ends its sockets with 4401 (issue 21, finding 4): a logout on the
page, the API or the admin, a password change on the site, the API or the admin, a session
deleted on the server, a session that expires; which sessions open a socket at all."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

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


LOGOUTS = {"page": "/accounts/logout/", "api": "/api/auth/logout/", "admin": "/admin/logout/"}


@pytest.mark.parametrize("path", LOGOUTS.values(), ids=LOGOUTS.keys())
async def test_logout_closes_that_sessions_socket_only(alice, path):
    alice.is_staff = True  # the admin's logout is for staff
    await sync_to_async(alice.save)()
    one, two = Client(), Client()
    key_one = await sync_to_async(login)(one)
    key_two = await sync_to_async(login)(two)
    sock_one = await open_socket(alice, key_one)
    sock_two = await open_socket(alice, key_two)
    response = await sync_to_async(one.post)(path)
    assert response.status_code in {204, 200, 302}
    assert await sock_one.close_code() == 4401
    assert await sock_two.nothing(timeout=0.5)
    await sock_two.close()


def _delete_row(key):
    Session.objects.filter(session_key=key).delete()


def _delete_through_the_engine(key):
    SessionStore(key).delete()


@pytest.mark.parametrize("delete", [_delete_row, _delete_through_the_engine])
async def test_a_session_deleted_on_the_server_closes_its_sockets(alice, delete):
    key = await sync_to_async(login_session)(alice)
    other = await sync_to_async(login_session)(alice)
    sock = await open_socket(alice, key)
    kept = await open_socket(alice, other)
    await sync_to_async(delete)(key)
    assert await sock.close_code() == 4401
    assert await kept.nothing(timeout=0.5)
    await kept.close()


def _expire_in(key, seconds):
    expiry = timezone.now() + timedelta(seconds=seconds)
    Session.objects.filter(session_key=key).update(expire_date=expiry)


async def test_a_socket_closes_when_its_session_expires(alice):
    key = await sync_to_async(login_session)(alice)
    await sync_to_async(_expire_in)(key, 1.5)
    sock = await open_socket(alice, key)
    assert await sock.nothing(timeout=1)  # still valid
    assert await sock.close_code(timeout=5) == 4401


async def test_a_session_extended_meanwhile_keeps_its_socket_and_is_checked_again(alice):
    key = await sync_to_async(login_session)(alice)
    await sync_to_async(_expire_in)(key, 1)
    sock = await open_socket(alice, key)
    await sync_to_async(_expire_in)(key, 3)  # extended (a request that saved the session)
    assert await sock.nothing(timeout=2.5)  # checked at 1.5 s: still valid, re-armed
    assert await sock.close_code(timeout=5) == 4401  # and checked again at its new expiry


async def test_password_change_in_the_api_closes_other_sessions_sockets(alice):
    this, other = Client(), Client()
    await sync_to_async(login)(this)
    sock_other = await open_socket(alice, await sync_to_async(login)(other))
    new = "another-horse-battery-7"
    response = await sync_to_async(this.post)(
        "/api/me/password/",
        {"old_password": PASSWORD, "new_password": new},
        content_type="application/json",
    )
    assert response.status_code == 204
    assert await sock_other.close_code() == 4401


async def test_password_change_in_the_admin_closes_the_users_sockets(alice, bob):
    alice.is_staff = alice.is_superuser = True
    await sync_to_async(alice.save)()
    admin = Client()
    await sync_to_async(login)(admin)
    sock_bob = await open_socket(bob, None)
    new = "another-horse-battery-7"
    response = await sync_to_async(admin.post)(
        f"/admin/accounts/user/{bob.pk}/password/",
        {"password1": new, "password2": new, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert await sock_bob.close_code() == 4401


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
