"""The Redis pub/sub channel layer of channels-redis, with two changes measured in
docs/benchmarks.md.

- No Redis subscription per socket. channels-redis subscribes every consumer's own
  ("specific") channel so that other processes can `send()` to it directly; Chatsite never
  does (every event goes to a user's group, still subscribed once per process and user).
  Skipping it (and its unsubscribe) saves a round trip per connect. A direct `send()` to a
  channel name reaches only sockets of this process.
- A list of messages in one round trip. channels-redis publishes under a per-process lock,
  one publish and its round trip in flight at a time: the product (two or three events per
  message) plateaued near 500 messages per second with its core 75% busy. `group_send_many`
  publishes a list in one round trip (one script call), in order, without that lock;
  events.py's doorbell rings through it (B2: 480 -> 800 msg/s delivered). Single
  `group_send` calls keep the lock: with hundreds of consumers publishing at once
  (bench/relay_asgi.py), going without it opened a pooled connection each and made the
  relay's p99 at 1,000 msg/s 1 s instead of 6 ms.

Its connections retry a command on a dead connection (chatsite/redis_clients.py): after a
Redis restart the first publish would otherwise fail and its doorbell be lost. And the
receiving task blocks on its pub/sub connection instead of polling it every 0.1 s: each
poll wrapped the read of every message in an asyncio timeout (5% of the server's CPU at
1,400 msg/s).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)

from chatsite.redis_clients import Script, retry_policy

logger = logging.getLogger(__name__)


class _Shard(RedisSingleShardConnection):  # type: ignore[misc]
    async def _do_receiving(self) -> None:
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    # timeout=None: wait for the next message without a timer per read.
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=None
                    )
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception:
                logger.exception("Unexpected exception in receive task")
                await asyncio.sleep(1)


class _LoopLayer(RedisPubSubLoopLayer):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shards: list[Any] = getattr(self, "_shards")  # noqa: B009 (untyped in channels-redis)
        self._shards = [_Shard({**s.host, "retry": retry_policy()}, self) for s in shards]

    async def new_channel(self, prefix: str = "specific.") -> str:
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        self.channels[channel] = asyncio.Queue()
        return channel

    async def group_send_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """Publish each (group, message), in order, one script call per shard (a command
        and a reply, where a pipeline had one of each per message)."""
        by_shard: dict[int, tuple[Any, list[tuple[str, bytes]]]] = {}
        for group, message in messages:
            channel = self._get_group_channel_name(group)
            shard = self._get_shard(channel)
            entry = by_shard.setdefault(id(shard), (shard, []))
            entry[1].append((channel, self.channel_layer.serialize(message)))
        for shard, publishes in by_shard.values():
            shard._ensure_redis()
            channels = [channel for channel, _ in publishes]
            await _PUBLISH(shard._redis, channels, [payload for _, payload in publishes])


_PUBLISH = Script(
    """
for i, channel in ipairs(KEYS) do
  redis.call('PUBLISH', channel, ARGV[i])
end
return #KEYS
"""
)


class PubSubLayer(RedisPubSubChannelLayer):  # type: ignore[misc]
    def _get_layer(self) -> Any:
        loop = asyncio.get_running_loop()
        if loop not in self._layers:
            from channels_redis.utils import _wrap_close

            self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return self._layers[loop]
