"""A Channels relay without database or auth: the server + Channels + the channel layer alone.

It speaks the floor's frames (`?chats=` to join, `send` -> `ack` + `message` to the chat's
group), so the load client can measure what the channel layer and the Channels stack cost on
their own, between the floor and the product. Served with the product's settings (or
bench.layer_settings for the list-based layer).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application
from django.urls import path

django_app = get_asgi_application()


class RelayConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        chats = query.get("chats", [""])[0].split(",")
        self.groups_joined = [f"chat.{c}" for c in chats if c.isdigit()]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send(text_data=json.dumps({"type": "hello"}))

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame = json.loads(text_data or "{}")
        if frame.get("type") != "send" or f"chat.{frame.get('chat')}" not in self.groups_joined:
            return
        message = {"chat": frame["chat"], "client_id": frame["client_id"], "body": frame["body"]}
        ack = {"type": "ack", "client_id": frame["client_id"], "message": message}
        await self.send(text_data=json.dumps(ack, separators=(",", ":")))
        await self.channel_layer.group_send(
            f"chat.{frame['chat']}", {"type": "relay.message", "message": message}
        )

    async def relay_message(self, event: dict[str, Any]) -> None:
        frame = {"type": "message", "message": event["message"]}
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))


application = ProtocolTypeRouter(
    {
        "http": django_app,
        "websocket": URLRouter([path("ws/", RelayConsumer.as_asgi())]),
    }
)
