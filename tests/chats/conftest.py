from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from chats.realtime import presence
from chatsite.asgi import application
from tests.support.sessions import login_session

ORIGIN = (b"origin", b"http://localhost")
# The Host a browser sends with that Origin: the socket takes only its own origin.
HOST = (b"host", b"localhost")


class Socket:
    """A WebsocketCommunicator on the full ASGI app, logged in as a user."""

    def __init__(self, user=None, origin=ORIGIN, session_key=None, presence=False):
        self.user = user
        # Presence frames come whenever a peer connects; tests about other things set them
        # aside (in `presences`) unless asked to receive them in line.
        self.inline_presence = presence
        self.presences = []
        self.origin = origin
        self.session_key = session_key
        self.comm = None
        self.hello = None
        self.closed = False

    async def connect(self):
        headers = [HOST, self.origin] if self.origin else [HOST]
        if self.user is not None:
            key = self.session_key or await database_sync_to_async(login_session)(self.user)
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

    async def recv(self, timeout=10):
        while True:
            frame = await self.comm.receive_json_from(timeout=timeout)
            if frame["type"] != "presence" or self.inline_presence:
                return frame
            self.presences.append(frame)

    async def recv_until(self, kind, timeout=10):
        """Frames up to and including the first of type `kind`."""
        seen = []
        while True:
            frame = await self.recv(timeout)
            seen.append(frame)
            if frame["type"] == kind:
                return frame, seen

    async def close_code(self, timeout=10):
        """Wait for the server to close the socket, skipping frames sent before; its code."""
        while True:
            output = await self.comm.receive_output(timeout=timeout)
            if output["type"] == "websocket.close":
                self.closed = True
                return output.get("code")

    async def nothing(self, timeout=0.3):
        return await self.comm.receive_nothing(timeout=timeout)

    async def close(self):
        if not self.closed:
            self.closed = True
            await self.comm.disconnect()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Users are made by the dozen here; their password hashing is not under test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
async def socket():
    """Open a logged-in socket: `await socket(user)`; all are closed after the test."""
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
    # Offline transitions still waiting for their grace period die with the test's loop.
    for task in list(presence._settling):
        task.cancel()
