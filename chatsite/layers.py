"""The Redis pub/sub channel layer of channels-redis, with the changes measured in
docs/benchmarks.md.

- One SUBSCRIBE (or UNSUBSCRIBE) for many sockets: the groups joined (left) while one is
  on its way go out together in the next.
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
- Local delivery (`group_send_many`). A group with sockets on this event loop gets the event
  from memory at once, and Redis publishes it only when another subscriber (another
  process) has the group: in one process, and for the peers of one process, the doorbell
  costs no pub/sub read and no second decode. The script asks `PUBSUB NUMSUB` before each
  such PUBLISH, and counts one subscriber as ours only while Redis counts our connection on
  the layer's own origin channel (after a Redis restart, until redis-py has resubscribed
  all of them in one command, the others' subscriptions would otherwise be taken for
  ours); an event that still comes back carries this layer's origin as its first key and
  is dropped by our receiving task. Events from elsewhere (other processes, single
  `group_send` calls) arrive through Redis as before; a message's order and gaps are the
  socket's `Delivery`'s business (versions), as with any doorbell.

Its connections retry a command on a dead connection (chatsite/redis_clients.py): after a
Redis restart the first publish would otherwise fail and its doorbell be lost. And the
receiving task blocks on its pub/sub connection instead of polling it every 0.1 s: each
poll wrapped the read of every message in an asyncio timeout (5% of the server's CPU at
1,400 msg/s).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from typing import Any

import msgpack
from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)

from chatsite import aio
from chatsite.redis_clients import Script, retry_policy, with_connection_class

logger = logging.getLogger(__name__)


class _Shard(RedisSingleShardConnection):  # type: ignore[misc]
    def __init__(self, host: dict[str, Any], channel_layer: Any) -> None:
        super().__init__(host, channel_layer)
        self._queued: dict[str, tuple[set[str], asyncio.Future[None]]] = {}
        self._subscribing: set[str] = set()  # the SUBSCRIBE on its way
        self._tasks: set[asyncio.Task[None]] = set()

    async def subscribe(self, channel: str) -> None:
        """Subscribe to `channel`, in one SUBSCRIBE with every channel asked for while the
        previous command was on its way: one command per socket was a twelfth of a connect
        storm's CPU (redis-py's pub/sub commands are heavy in Python)."""
        if channel not in self._subscribed_to:
            await self._queue("subscribe", channel)

    async def unsubscribe(self, channel: str) -> None:
        """As `subscribe`: a disconnect storm queued every socket on the shard's lock, whose
        acquire scans all its waiters (Python 3.11). A channel never subscribed (a socket's
        own, or one whose SUBSCRIBE is still queued and will now skip it) needs nothing; one
        whose SUBSCRIBE is on its way is unsubscribed after it."""
        if channel in self._subscribed_to or channel in self._subscribing:
            await self._queue("unsubscribe", channel)

    async def _queue(self, command: str, channel: str) -> None:
        queued = self._queued.get(command)
        if queued is None:
            queued = self._queued[command] = (set(), asyncio.get_running_loop().create_future())
            task = asyncio.create_task(self._send(command, queued))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        queued[0].add(channel)
        # Shielded: a caller cancelled while waiting does not cancel the others' command.
        await asyncio.shield(queued[1])

    async def _send(self, command: str, queued: tuple[set[str], asyncio.Future[None]]) -> None:
        channels, sent = queued
        try:
            async with self._lock:
                if self._queued.get(command) is queued:
                    del self._queued[command]  # later callers start the next batch
                # Decided by the groups as they are now, whatever the order of batches: a
                # group left (or joined again) meanwhile is not (un)subscribed by mistake.
                groups = self.channel_layer.groups
                if command == "subscribe":
                    todo = [c for c in channels if c in groups and c not in self._subscribed_to]
                else:
                    todo = [c for c in channels if c not in groups and c in self._subscribed_to]
                if todo:
                    self._ensure_redis()
                    self._ensure_receiver()
                    if command == "subscribe":
                        self._subscribing.update(todo)
                        try:
                            await self._pubsub.subscribe(*todo)
                            self._subscribed_to.update(todo)
                        finally:
                            self._subscribing.difference_update(todo)
                    else:
                        await self._pubsub.unsubscribe(*todo)
                        self._subscribed_to.difference_update(todo)
        except asyncio.CancelledError:
            sent.cancel()
            raise
        except Exception as error:
            sent.set_exception(error)
        else:
            sent.set_result(None)
        finally:
            if self._queued.get(command) is queued:
                del self._queued[command]

    def _receive_message(self, message: Any) -> None:
        # An event this layer published after delivering it here (the origin is its first
        # key, so its marker sits in the first bytes): dropped, not delivered twice.
        if message is not None and self.channel_layer.origin_marker in message["data"][:64]:
            return
        super()._receive_message(message)

    async def _do_receiving(self) -> None:
        while True:
            aio.raise_if_cancelled()  # a read may have swallowed the layer's cancel
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


def _with_retry(host: dict[str, Any]) -> dict[str, Any]:
    """The `hosts` entry, retrying on a dead connection; through Sentinel (a `master_name`
    entry, chatsite.redis_clients.layer_host), asking it for the primary on each reconnect."""
    if "master_name" in host:
        return {**with_connection_class(host, asyncio=True), "retry": retry_policy()}
    return {**host, "retry": retry_policy()}


class _LoopLayer(RedisPubSubLoopLayer):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        shards: list[Any] = getattr(self, "_shards")  # noqa: B009 (untyped in channels-redis)
        self._shards = [_Shard(_with_retry(s.host), self) for s in shards]
        self.origin = uuid.uuid4().hex
        self._origins: dict[int, str] = {}  # shard -> this layer's origin channel on it
        self.origin_marker: bytes = msgpack.packb(ORIGIN) + msgpack.packb(self.origin)
        # Local delivery needs the marker readable in the published bytes: not encrypted,
        # no random prefix (neither is configured by chatsite/settings.py).
        serializer = self.channel_layer._serializer
        self._local = serializer.crypter is None and not serializer.random_prefix_length

    async def new_channel(self, prefix: str = "specific.") -> str:
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        self.channels[channel] = asyncio.Queue()
        return channel

    def _origin_channel(self, shard: Any) -> str:
        """This layer's own channel on `shard`: nothing is published to it; Redis counting
        our subscription to it says our pub/sub connection's subscriptions are all live
        (redis-py restores them in one SUBSCRIBE after a reconnect)."""
        if id(shard) not in self._origins:
            names = (f"{self.prefix}__origin__.{self.origin}.{n}" for n in itertools.count())
            # The first name that hashes to this shard.
            self._origins[id(shard)] = next(n for n in names if self._get_shard(n) is shard)
        return self._origins[id(shard)]

    async def group_add(self, group: str, channel: str) -> None:
        shard = self._get_shard(self._get_group_channel_name(group))
        origin = self._origin_channel(shard) if self._local else None
        if origin is None or origin in self.groups:
            await super().group_add(group, channel)
            return
        self.groups[origin] = set()  # a group of no socket: never unsubscribed
        # Queued in the same SUBSCRIBE as the group's, which is registered first and at
        # once (a group_discard right after must find it, as without the origin).
        subscribing = asyncio.ensure_future(shard.subscribe(origin))
        await super().group_add(group, channel)
        await subscribing

    async def group_send_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """Deliver each (group, message), in order: to this loop's sockets in the group at
        once, and through Redis to the other subscribers, one script call per shard (a
        command and a reply, where a pipeline had one of each per message)."""
        serialize = self.channel_layer.serialize
        by_shard: dict[int, tuple[Any, list[tuple[str, bytes, int]]]] = {}
        for group, message in messages:
            channel = self._get_group_channel_name(group)
            shard = self._get_shard(channel)
            local = self.groups.get(channel) if self._local else None
            if local:
                payload = serialize({ORIGIN: self.origin, **message})
                for name in local:
                    queue = self.channels.get(name)
                    if queue is not None:
                        queue.put_nowait(payload)
                # 1: one of Redis's subscribers is ours, if our connection's are live.
                mine = 1 if channel in shard._subscribed_to else 0
            else:
                payload, mine = serialize(message), -1
            by_shard.setdefault(id(shard), (shard, []))[1].append((channel, payload, mine))
        for shard, publishes in by_shard.values():
            shard._ensure_redis()
            origin = self._origins.get(id(shard), "")
            await _PUBLISH(
                shard._redis,
                [origin] + [channel for channel, _, _ in publishes],
                [payload for _, payload, _ in publishes] + [mine for _, _, mine in publishes],
            )


# The key that names the layer an event was published by (events of local delivery only).
ORIGIN = "_origin"

# KEYS[1] the layer's origin channel on this shard ('' if it has none), KEYS[1 + i] a
# group's channel, ARGV[i] its payload, ARGV[n + i] -1 (not delivered here: publish for
# whoever subscribes), 0 (delivered here: publish if anyone subscribes; a copy that comes
# back is dropped by its origin) or 1 (delivered here, and one subscriber is ours if our
# connection's subscriptions are live: publish if another subscribes). Returns the publishes.
_PUBLISH = Script(
    """
local live = 0
if KEYS[1] ~= '' then
  live = redis.call('PUBSUB', 'NUMSUB', KEYS[1])[2]
end
local n = #KEYS - 1
local sent = 0
for i = 1, n do
  local channel = KEYS[i + 1]
  local flag = tonumber(ARGV[n + i])
  local publish = flag < 0
  if not publish then
    local mine = 0
    if flag > 0 and live > 0 then
      mine = 1
    end
    publish = redis.call('PUBSUB', 'NUMSUB', channel)[2] > mine
  end
  if publish then
    redis.call('PUBLISH', channel, ARGV[i])
    sent = sent + 1
  end
end
return sent
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
