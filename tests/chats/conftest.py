from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from chatsite.asgi import application

ORIGIN = (b"origin", b"http://localhost")


def session_cookie(user) -> str:
    """A real session for `user`, as Django's login would make it."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return store.session_key


class Socket:
    """A WebsocketCommunicator on the full ASGI app, logged in as a user."""

    def __init__(self, user=None, origin=ORIGIN, session_key=None):
        self.user = user
        self.origin = origin
        self.session_key = session_key
        self.comm = None
        self.hello = None

    async def connect(self):
        headers = [self.origin] if self.origin else []
        if self.user is not None:
            key = self.session_key or await sync_to_async(session_cookie)(self.user)
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode()))
        self.comm = WebsocketCommunicator(application, "/ws/", headers=headers)
        connected, code = await self.comm.connect(timeout=5)
        if connected:
            first = await self.comm.receive_output(timeout=5)
            if first["type"] == "websocket.send":
                self.hello = json.loads(first["text"])
            elif first["type"] == "websocket.close":
                return False, first.get("code")
        return connected, code

    async def send(self, frame):
        await self.comm.send_to(text_data=json.dumps(frame))

    async def recv(self, timeout=3):
        return await self.comm.receive_json_from(timeout=timeout)

    async def recv_until(self, kind, timeout=3):
        """Frames up to and including the first of type `kind`."""
        seen = []
        while True:
            frame = await self.recv(timeout)
            seen.append(frame)
            if frame["type"] == kind:
                return frame, seen

    async def nothing(self, timeout=0.3):
        return await self.comm.receive_nothing(timeout=timeout)

    async def close(self):
        await self.comm.disconnect()


@pytest.fixture
async def socket():
    """Open logged-in sockets; every one is closed at teardown so no consumer outlives the loop."""
    opened = []

    async def make(user=None, **kwargs):
        sock = Socket(user, **kwargs)
        connected, code = await sock.connect()
        assert connected and sock.hello is not None, f"refused: {code}"
        opened.append(sock)
        return sock

    yield make
    for sock in opened:
        await sock.close()
