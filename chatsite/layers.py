"""The Redis pub/sub channel layer, without a Redis subscription per socket.

channels-redis subscribes every consumer's own ("specific") channel on Redis so that other
processes can `send()` to it directly; Chatsite never does that (every event goes to a
user's group, which is still subscribed on Redis, once per process and user). Skipping that
subscription (and its unsubscribe) was measured at about a tenth of the CPU of a connect
storm (docs/benchmarks.md, B5). Messages for a socket still arrive through its groups; a
direct `send()` to a channel name would reach only sockets of this process.
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


class PubSubLayer(RedisPubSubChannelLayer):  # type: ignore[misc]
    def _get_layer(self) -> Any:
        loop = asyncio.get_running_loop()
        if loop not in self._layers:
            from channels_redis.utils import _wrap_close

            self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return self._layers[loop]
