"""One socket per browser tab, carrying events for all of the user's chats (docs/protocol.md)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from chats import events
from chats.realtime import presence, protocol, receipts, send_buffer, socket_auth
from chats.realtime import socket_work as actions
from chats.realtime.client_frames import ClientFrames
from chats.realtime.delivery import UNAVAILABLE, Delivery
from chats.realtime.layer_events import CLOSE_UNAUTHENTICATED, LayerEvents
from chats.validation import Refused
from chatsite import metrics
from ops import drain, logs

logger = logging.getLogger(__name__)

CLOSE_TOO_MANY = 4429
CLOSE_TOO_SLOW = 4408
# A frame sent to a client that has gone, before its disconnect is processed: uvicorn raises
# an OSError, daphne autobahn's Disconnected ("Attempt to send on a closed protocol").
CLIENT_GONE = (OSError, Disconnected)


class ChatConsumer(ClientFrames, LayerEvents, AsyncWebsocketConsumer):
    presence: presence.Connection | None = None
    expiry: socket_auth.SessionExpiry | None = None
    delivery: Delivery  # set once the socket holds a presence lease
    outgoing: send_buffer.SendBuffer | None = None
    too_slow = False
    closed_for_restart = False  # closed with 1012 by the drain (ops/drain.py)
    ended = False  # Channels' dispatch is over and the consumer cleared (__call__)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # What the socket held (its delivery, timers, presence, send buffer) points back
            # here: without these cycles reference counting frees it all at once, where the
            # cyclic collector (rare: chatsite/asgi.py) left it for minutes (B6's RSS).
            self.__dict__.clear()
            self.ended = True

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels hops to its shared database thread before every event to close stale
        # connections; db() returns its connection after each call, so skip that hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        # Accept first: the session is checked after the handshake, not in it.
        await self.accept()
        self.outgoing = send_buffer.SendBuffer(
            self.base_send,
            limit=settings.SOCKET_SEND_BUFFER,
            drain_seconds=settings.SOCKET_DRAIN_SECONDS,
        )
        opened = await socket_auth.authenticate_async(self.scope.get("session_key"))
        if opened is None:
            metrics.socket_connect("unauthenticated")
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        user, self.scope["session"], expires_at = opened
        logs.bind_socket(user.pk)
        self.scope["user"] = self.user = user
        self.expiry = socket_auth.SessionExpiry(lambda: self.session_check({}))
        self.expiry.arm(expires_at)
        events.ring_from_loop()
        self.presence = await presence.connect(user, self.channel_name)
        if self.presence is None:
            metrics.socket_connect("too_many")
            await self.send_json(protocol.error("too_many_sockets", actions.TOO_MANY_SOCKETS))
            await self.close(code=CLOSE_TOO_MANY)
            return
        metrics.socket_connect("accepted")
        drain.register(self)
        self.delivery = Delivery(user, self.send_json)
        # Join before reading the state for hello, so no event falls between the two.
        await self.channel_layer.group_add(events.user_group(user.pk), self.channel_name)
        hello = await actions.hello_async(user)
        self.delivery.start(hello)
        await self.send_json(hello)

    async def disconnect(self, code: int) -> None:
        if self.expiry is not None:
            self.expiry.stop()
        if self.presence is not None:
            presence.leave(self.presence)
            metrics.socket_closed()
            drain.unregister(self)
            logs.socket_closed(code)
            try:
                await self.channel_layer.group_discard(
                    events.user_group(self.user.pk), self.channel_name
                )
                await presence.disconnect(self.presence)
            except Exception:
                # Redis is down: the subscription dies with the connection, and the
                # presence lease lapses on its own.
                logger.warning("could not unregister socket of user %s", self.user.pk)
            await self.delivery.stop()
        await receipts.settle(timeout=5)
        await presence.settle(timeout=5)

    async def send_json(self, frame: dict[str, Any]) -> None:
        if self.closed_for_restart or self.ended:
            # Nothing follows our 1012, nor the end (a send batch that outlived its socket's
            # wait): the frame is not sent, nor counted as sent.
            return
        metrics.frame_out(frame)
        if not await self.room():
            return
        try:
            await self.send(text_data=protocol.encode(frame))
        except CLIENT_GONE:
            # The client has gone. Nothing is lost: what the frame carried is in the
            # database for the next sync, and the disconnect that follows unregisters the
            # socket (an exception here would end the consumer without that cleanup: its
            # presence, subscription and drain registration would outlive it).
            logger.debug("frame for a closed socket dropped: %s", frame.get("type"))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = protocol.parse(text_data, bytes_data)
            metrics.frame_in(frame["type"])
            await getattr(self, f"on_{frame['type']}")(frame)
        except Refused as refused:
            await self.send_json(
                protocol.refusal(refused.code, refused.detail, text_data, refused.retry_after)
            )
        except DatabaseError:
            logger.exception("database error on a %s frame", frame["type"])
            await self.send_json(protocol.refusal("unavailable", UNAVAILABLE, text_data))

    async def close_for_restart(self) -> None:
        """The drain's close (ops/drain.py): after the sends received so far are acked."""
        await self.delivery.settled(5)
        await self.close(code=drain.CLOSE_SERVICE_RESTART)
        self.closed_for_restart = True  # the client has its 1012: nothing follows it

    async def room(self, below: int | None = None) -> bool:
        """Wait until fewer than `below` bytes (default SOCKET_SEND_BUFFER) are queued for the
        client; one that does not read them in time is closed with 4408 (it syncs on return)."""
        if self.too_slow:
            return False
        if self.outgoing is None or await self.outgoing.room(below):
            return True
        self.too_slow = True
        logger.warning("socket of user %s too slow: closed 4408", self.user.pk)
        self.outgoing.abandon()
        with contextlib.suppress(*CLIENT_GONE):  # dropped while the close waited
            await self.close(code=CLOSE_TOO_SLOW)
        return False
