"""The frames a client sends (docs/protocol.md, "Client -> server"), one `on_<type>` each:
`ChatConsumer.receive` (consumer.py) parses a frame and calls its handler; a `Refused` it
raises becomes the error frame. Budgets are checked first (chats/limits.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from accounts.models import User
from chats import limits
from chats.realtime import send_buffer
from chats.realtime import socket_work as actions
from chats.realtime.delivery import Delivery
from chats.realtime.worker_pool import db


class ClientFrames:
    user: User
    delivery: Delivery
    outgoing: send_buffer.SendBuffer | None
    room: Callable[..., Awaitable[bool]]

    async def on_send(self, frame: dict[str, Any]) -> None:
        self.delivery.send(frame)

    async def on_discard(self, frame: dict[str, Any]) -> None:
        await limits.check_budget_async("discard", user_id=self.user.pk)
        await self.delivery.discard(frame)

    async def on_sync(self, frame: dict[str, Any]) -> None:
        await limits.check_budget_async("sync", user_id=self.user.pk)
        # The reply to an earlier sync is still queued: wait until most of it is read.
        if self.outgoing is not None and not await self.room(self.outgoing.limit // 8):
            return
        await self.delivery.sync(frame)

    async def on_read(self, frame: dict[str, Any]) -> None:
        await limits.check_budget_async("read", user_id=self.user.pk)
        await db(actions.read)(self.user, frame["chat"], frame["seq"])

    async def on_typing(self, frame: dict[str, Any]) -> None:
        await limits.check_budget_async("typing", user_id=self.user.pk)
        await db(actions.typing)(self.user, frame["chat"])

    # Changes to a message come back, as to every socket of both members, as its new state.
    # Each counts against the send rate, checked first, as a send's is.

    async def on_edit(self, frame: dict[str, Any]) -> None:
        await limits.check_budget_async("send", user_id=self.user.pk)
        await db(actions.edit)(self.user, frame)

    async def on_delete(self, frame: dict[str, Any]) -> None:
        await limits.check_budget_async("send", user_id=self.user.pk)
        await db(actions.delete)(self.user, frame)

    async def on_react(self, frame: dict[str, Any]) -> None:
        await limits.check_budget_async("send", user_id=self.user.pk)
        await db(actions.react)(self.user, frame)
