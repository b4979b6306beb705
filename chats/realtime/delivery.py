"""One socket's delivery bookkeeping: which change of each chat it has forwarded, the gap
fill, its send batches, and the messages held while a batch's acks are out. The consumer owns
one `Delivery` and hands it frames and events (docs/architecture.md, "Delivery")."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from django.db import DatabaseError

from accounts.models import User
from chats.realtime import protocol, receipts
from chats.realtime import socket_work as actions
from chats.realtime.worker_pool import db
from chatsite import aio, metrics

logger = logging.getLogger(__name__)

BATCH = 50  # send frames stored per transaction
UNAVAILABLE = "The server could not reach its database; nothing was stored. Try again."

SendJson = Callable[[dict[str, Any]], Awaitable[None]]


class Delivery:
    """What one socket has sent of each chat, and the sends it is storing."""

    def __init__(self, user: User, send_json: SendJson) -> None:
        self.user = user
        self.send_json = send_json
        # chat -> the version up to which every change was sent on this socket
        self.forwarded: dict[int, int] = {}
        self.outbox: list[dict[str, Any]] = []
        # chat -> the client_id of the send refused `rate_limited` that holds the chat's
        # later sends (socket_work.send_batch); at most MAX_HELD_CHATS entries.
        self.send_holds: dict[int, str] = {}
        # chat.message events waiting for their batch's acks (a deque: a backlogged socket
        # can hold thousands).
        self.held: deque[dict[str, Any]] = deque()
        self.storing: asyncio.Task[None] | None = None
        self.releasing = False

    def start(self, hello: dict[str, Any]) -> None:
        """Every change up to the versions in hello is the client's."""
        self.forwarded = {chat["id"]: chat["version"] for chat in hello["chats"]}

    async def stop(self) -> None:
        """Let writes in flight finish: a cancelled await would strand its worker thread.
        Queued sends not yet stored were never acked: the client resends them."""
        self.outbox = []
        if self.storing is not None:
            await asyncio.wait([self.storing], timeout=5)

    async def settled(self, timeout: float) -> None:
        """Wait (up to `timeout` seconds) until the sends received so far are stored and acked."""
        deadline = time.monotonic() + timeout
        while self.storing is not None and time.monotonic() < deadline:
            await asyncio.wait([self.storing], timeout=deadline - time.monotonic())

    # Sends.

    def send(self, frame: dict[str, Any]) -> None:
        """Queue a send frame. Sends queue while a batch is being stored and go in the next
        one: in order, and one commit for all the frames that arrived meanwhile."""
        self.outbox.append(frame)
        if self.storing is None:
            self.storing = asyncio.ensure_future(self.store_sends())

    async def store_sends(self) -> None:
        """Store the queued sends (up to BATCH) and ack them; chain the next batch."""
        batch, self.outbox = self.outbox[:BATCH], self.outbox[BATCH:]
        try:
            try:
                replies = await actions.send_batch(self.user, batch, self.send_holds)
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
                # Not after a cancel (the loop closing): the new task would outlive it.
                chain = self.outbox and not aio.cancelling()
                self.storing = asyncio.ensure_future(self.store_sends()) if chain else None

    async def discard(self, frame: dict[str, Any]) -> None:
        """The client gave a send up: if it holds its chat, the chat's later sends flow
        again. Applied after the sends received before it are stored (frame order)."""
        await self.settled(5)
        chat_id = frame["chat"]
        if self.send_holds.get(chat_id) == frame["client_id"]:
            del self.send_holds[chat_id]
        elif chat_id not in self.send_holds:
            await db(actions.chat_check)(self.user, chat_id)  # a clear not_found

    # Messages.

    async def sync(self, frame: dict[str, Any]) -> None:
        """Reply to a `sync` frame: the messages, then `synced`."""
        since = frame.get("since")
        messages, synced = await db(actions.sync)(
            self.user, frame["chat"], after=frame.get("after"), since=since
        )
        # Only a sync by version covers every change up to its last one.
        await self.forward(messages, advance=since is not None)
        await self.send_json(synced)

    async def message(self, event: dict[str, Any]) -> None:
        """A chat.message event: deliver it now, or hold it behind this socket's acks."""
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
