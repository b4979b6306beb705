"""The Redis pub/sub channel layer of channels-redis, with two changes measured in
docs/benchmarks.md.

- No Redis subscription per socket. channels-redis subscribes every consumer's own
  ("specific") channel so that other processes can `send()` to it directly; Chatsite never
  does (every event goes to a user's group, still subscribed once per process and user).
  Skipping it (and its unsubscribe) saves a round trip per connect. A direct `send()` to a
  channel name reaches only sockets of this process.
- Publishes are not serialized. channels-redis publishes under a per-process lock, so one
  publish and its round trip are in flight at a time: that capped a process at about 1,200
  publishes per second with the CPU half idle (the relay's plateau; the product's, at two
  or three events per message, was about 500 messages per second). `group_send` publishes on
  the pooled client directly, and `group_send_many` publishes a list in one pipeline, in
  order (events.py rings through it).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer


class _LoopLayer(RedisPubSubLoopLayer):  # type: ignore[misc]
    async def new_channel(self, prefix: str = "specific.") -> str:
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        self.channels[channel] = asyncio.Queue()
        return channel

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self.group_send_many([(group, message)])

    async def group_send_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """Publish each (group, message), in order, one pipeline (round trip) per shard."""
        by_shard: dict[int, tuple[Any, list[tuple[str, bytes]]]] = {}
        for group, message in messages:
            channel = self._get_group_channel_name(group)
            shard = self._get_shard(channel)
            entry = by_shard.setdefault(id(shard), (shard, []))
            entry[1].append((channel, self.channel_layer.serialize(message)))
        for shard, publishes in by_shard.values():
            shard._ensure_redis()
            pipe = shard._redis.pipeline(transaction=False)
            for channel, payload in publishes:
                pipe.publish(channel, payload)
            await pipe.execute()


class PubSubLayer(RedisPubSubChannelLayer):  # type: ignore[misc]
    def _get_layer(self) -> Any:
        loop = asyncio.get_running_loop()
        if loop not in self._layers:
            from channels_redis.utils import _wrap_close

            self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return self._layers[loop]
