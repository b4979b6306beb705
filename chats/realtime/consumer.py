"""One socket per browser tab, carrying events for all of the user's chats (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Any, TypeVar

import psycopg
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError

from chats import events
from chats.realtime import presence, protocol, receipts, socket_auth
from chats.realtime import socket_work as actions
from chats.realtime.worker_pool import db
from chats.validation import Refused
from chatsite import metrics
from ops import drain, logs

logger = logging.getLogger(__name__)
T = TypeVar("T")

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_MANY = 4429
BATCH = 50  # send frames stored per transaction
UNAVAILABLE = "The server could not reach its database; nothing was stored. Try again."


class ChatConsumer(AsyncWebsocketConsumer):
    presence: presence.Connection | None = None
    expiry: socket_auth.SessionExpiry | None = None
    storing: asyncio.Task[None] | None = None
    releasing = False

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
        # chat -> the version up to which every change was sent on this socket
        self.forwarded: dict[int, int] = {}
        self.outbox: list[dict[str, Any]] = []
        # chat.message events waiting for their batch's acks (a deque: a backlogged socket
        # can hold thousands).
        self.held: deque[dict[str, Any]] = deque()
        # Join before reading the state for hello, so no event falls between the two.
        await self.channel_layer.group_add(events.user_group(user.pk), self.channel_name)
        hello = await actions.hello_async(user)
        self.forwarded = {chat["id"]: chat["version"] for chat in hello["chats"]}
        await self.send_json(hello)

    async def disconnect(self, code: int) -> None:
        if self.expiry is not None:
            self.expiry.stop()
        if self.presence is not None:
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
        # Let writes in flight finish: a cancelled await would strand its worker thread.
        # Queued sends not yet stored were never acked: the client resends them.
        self.outbox = []
        if self.storing is not None:
            await asyncio.wait([self.storing], timeout=5)
        await receipts.settle(timeout=5)
        await presence.settle(timeout=5)

    async def send_json(self, frame: dict[str, Any]) -> None:
        metrics.frame_out(frame)
        try:
            await self.send(text_data=json.dumps(frame, separators=(",", ":")))
        except OSError:
            # uvicorn: the client has gone (daphne drops such frames silently). Nothing is
            # lost: what the frame carried is in the database for the next sync, and the
            # disconnect that follows unregisters the socket.
            logger.debug("frame for a closed socket dropped: %s", frame.get("type"))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = protocol.parse(text_data, bytes_data)
            metrics.frame_in(frame["type"])
            await getattr(self, f"on_{frame['type']}")(frame)
        except Refused as refused:
            client_id, chat = protocol.echo_of(text_data)
            await self.send_json(protocol.error(refused.code, refused.detail, client_id, chat))
        except DatabaseError:
            logger.exception("database error on a %s frame", frame["type"])
            client_id, chat = protocol.echo_of(text_data)
            await self.send_json(protocol.error("unavailable", UNAVAILABLE, client_id, chat))

    async def close_for_restart(self) -> None:
        """The drain's close (ops/drain.py): after the sends received so far are acked."""
        deadline = time.monotonic() + 5
        while self.storing is not None and time.monotonic() < deadline:
            await asyncio.wait([self.storing], timeout=deadline - time.monotonic())
        await self.close(code=drain.CLOSE_SERVICE_RESTART)

    # Client frames.

    async def on_send(self, frame: dict[str, Any]) -> None:
        # Sends queue while a batch is being stored and go in the next one: in order, and
        # one commit for all the frames that arrived meanwhile.
        self.outbox.append(frame)
        if self.storing is None:
            self.storing = asyncio.ensure_future(self.store_sends())

    async def on_sync(self, frame: dict[str, Any]) -> None:
        since = frame.get("since")
        messages, synced = await db(actions.sync)(
            self.user, frame["chat"], after=frame.get("after"), since=since
        )
        # Only a sync by version covers every change up to its last one.
        await self.forward(messages, advance=since is not None)
        await self.send_json(synced)

    async def on_read(self, frame: dict[str, Any]) -> None:
        await db(actions.read)(self.user, frame["chat"], frame["seq"])

    async def on_typing(self, frame: dict[str, Any]) -> None:
        await db(actions.typing)(self.user, frame["chat"])

    # Channel-layer events.

    async def chat_message(self, event: dict[str, Any]) -> None:
        own = event.get("sender_id") == self.user.pk and self.storing is not None
        if own or self.held or self.releasing:
            # The batch's acks go before its messages: hold this one (and, to keep the
            # order, everything after it) until store_sends has sent them. Holding, rather
            # than waiting, keeps this socket reading the frames that fill the next batch.
            self.held.append(event)
            return
        await self.deliver(event)

    async def deliver(self, event: dict[str, Any]) -> None:
        payload = event["message"]
        chat_id, version = payload["chat"], payload["version"]
        last = self.forwarded.get(chat_id, 0)
        if version <= last:
            return  # already sent on this socket (by a sync or an earlier gap fill)
        if version > last + 1:
            # The doorbell rang out of order or dropped one: fill the gap from the database.
            await self.forward(await db(actions.between)(chat_id, last, version))
        await self.forward([payload], sender_id=event.get("sender_id"))
        metrics.message_fanout(event, self.user.pk)
        if "unread" in event:  # a new message
            await self.send_json(protocol.unread(chat_id, event["unread"], event["unread_total"]))

    async def chat_unread(self, event: dict[str, Any]) -> None:
        await self.send_json(protocol.unread(event["chat"], event["unread"], event["unread_total"]))

    async def chat_read(self, event: dict[str, Any]) -> None:
        await self.send_json(protocol.read(event["chat"], event["user"], event["seq"]))

    async def chat_delivered(self, event: dict[str, Any]) -> None:
        await self.send_json(protocol.delivered(event["chat"], event["user"], event["seq"]))

    async def chat_typing(self, event: dict[str, Any]) -> None:
        await self.send_json(protocol.typing(event["chat"], event["user"]))

    async def presence_changed(self, event: dict[str, Any]) -> None:
        status = event["status"]
        # Announcements from two processes can cross: forward only what is still true
        # (or the announcement itself, when the store cannot tell).
        if status == presence.HIDDEN or await presence.current(event["user_id"]) in (None, status):
            await self.send_json(protocol.presence(event["user"], status, event["last_seen"]))

    async def chat_message_removed(self, event: dict[str, Any]) -> None:
        frame = {"type": "message_removed", "chat": event["chat"], "seq": event["seq"]}
        await self.send_json({**frame, "id": event["id"]})

    async def session_check(self, event: dict[str, Any]) -> None:
        expires_at = await socket_auth.signed_in_until(self.scope.get("session_key"), self.user.pk)
        if expires_at is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
        elif self.expiry is not None:
            self.expiry.arm(expires_at)

    async def session_ended(self, event: dict[str, Any]) -> None:
        if event["session"] == events.session_digest(self.scope["session"].session_key):
            await self.close(code=CLOSE_UNAUTHENTICATED)

    # Helpers.

    async def forward(
        self, payloads: list[dict[str, Any]], sender_id: int | None = None, advance: bool = True
    ) -> None:
        """Send message frames and note the peer's messages as delivered; `advance` when
        they are every change past `forwarded`, in version order."""
        for payload in payloads:
            chat_id, seq = payload["chat"], payload["seq"]
            if advance:
                self.forwarded[chat_id] = max(payload["version"], self.forwarded.get(chat_id, 0))
            await self.send_json(protocol.message(payload))
            if payload["sender"] != self.user.username:
                receipts.note_delivered(self.user, chat_id, seq, sender_id)

    async def store_sends(self) -> None:
        """Store the queued sends (up to BATCH) and ack them; chain the next batch."""
        batch, self.outbox = self.outbox[:BATCH], self.outbox[BATCH:]
        try:
            try:
                replies = await actions.send_batch(self.user, batch)
            except (DatabaseError, psycopg.Error):
                logger.exception("database error storing %d sends", len(batch))
                replies = [
                    protocol.error("unavailable", UNAVAILABLE, f["client_id"], f["chat"])
                    for f in batch
                ]
            for reply in replies:
                await self.send_json(reply)
        finally:
            try:
                await self.release_held()
            finally:
                self.storing = asyncio.ensure_future(self.store_sends()) if self.outbox else None

    async def release_held(self) -> None:
        """Deliver the held chat.message events, in order, with any that arrive meanwhile."""
        self.releasing = True
        try:
            while self.held:
                try:
                    await self.deliver(self.held.popleft())
                except DatabaseError:
                    # A gap fill failed: the client's gap detection syncs.
                    logger.exception("could not fill a gap for user %s", self.user.pk)
        finally:
            self.releasing = False
