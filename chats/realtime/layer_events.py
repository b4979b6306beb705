"""The channel-layer events a socket's consumer handles: each rings after a commit and becomes
a frame (docs/protocol.md), or a check of the socket's session. `ChatConsumer`
(consumer.py) mixes them in; its `delivery`, `send_json`, `user` and `close` are theirs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from accounts.models import User
from chats import events
from chats.realtime import presence, protocol, socket_auth
from chats.realtime.delivery import Delivery

CLOSE_UNAUTHENTICATED = 4401


class LayerEvents:
    """`<type>` handlers of the events of chats/events.py (Channels calls `chat_message` for
    a `chat.message` event)."""

    user: User
    delivery: Delivery
    expiry: socket_auth.SessionExpiry | None
    scope: dict[str, Any]
    send_json: Callable[[dict[str, Any]], Awaitable[None]]
    close: Callable[..., Awaitable[None]]

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.delivery.message(event)

    async def chat_unread(self, event: dict[str, Any]) -> None:
        await self.send_json(protocol.unread(event["chat"], event["unread"], event["unread_total"]))

    async def chat_read(self, event: dict[str, Any]) -> None:
        await self.send_json(protocol.read(event["chat"], event["user"], event["seq"]))

    async def chat_delivered(self, event: dict[str, Any]) -> None:
        await self.send_json(protocol.delivered(event["chat"], event["user"], event["seq"]))

    async def chat_muted(self, event: dict[str, Any]) -> None:
        await self.send_json(protocol.muted(event["chat"], event["muted"]))

    async def chat_typing(self, event: dict[str, Any]) -> None:
        await self.send_json(protocol.typing(event["chat"], event["user"]))

    async def presence_changed(self, event: dict[str, Any]) -> None:
        status = event["status"]
        # Announcements from two processes can cross: forward only what is still true
        # (or the announcement itself, when the store cannot tell).
        if status == presence.HIDDEN or await presence.current(event["user_id"]) in (None, status):
            await self.send_json(protocol.presence(event["user"], status, event["last_seen"]))

    async def user_renamed(self, event: dict[str, Any]) -> None:
        await self.send_json(protocol.renamed(event["old"], event["new"]))

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
