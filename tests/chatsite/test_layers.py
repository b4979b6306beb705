"""chatsite/layers.py against a real Redis (whatever the suite's backend: the layer is the
scale-out mode's, and Redis runs wherever the suite does)."""

import asyncio
import os
import uuid

import redis

from chatsite.layers import PubSubLayer

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


async def test_group_send_many_delivers_in_order_and_sockets_add_no_subscription():
    prefix = f"layers-test-{uuid.uuid4().hex[:8]}"
    layer = PubSubLayer(hosts=[REDIS_URL], prefix=prefix)
    one, two = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("user.1", one)
    await layer.group_add("user.2", two)
    try:
        # Only the groups are subscribed on Redis, not each socket's own channel.
        client = redis.Redis.from_url(REDIS_URL)
        subscribed = {c.decode() for c in client.pubsub_channels(f"{prefix}*")}
        client.close()
        assert subscribed == {f"{prefix}__group__user.1", f"{prefix}__group__user.2"}

        await layer.group_send_many(
            [("user.1", {"type": "a", "n": i}) for i in range(50)]
            + [("user.2", {"type": "b", "n": 0}), ("user.1", {"type": "a", "n": 50})]
        )
        await layer.group_send("user.2", {"type": "b", "n": 1})
        got_one = [await asyncio.wait_for(layer.receive(one), 5) for _ in range(51)]
        got_two = [await asyncio.wait_for(layer.receive(two), 5) for _ in range(2)]
        assert [m["n"] for m in got_one] == list(range(51))
        assert [(m["type"], m["n"]) for m in got_two] == [("b", 0), ("b", 1)]
    finally:
        await layer.group_discard("user.1", one)
        await layer.group_discard("user.2", two)
        await layer.flush()


class _Counting:
    """Counts the SUBSCRIBE and UNSUBSCRIBE commands the layer sends."""

    def __init__(self, monkeypatch):
        from redis.asyncio.client import PubSub

        self.calls = {"subscribe": [], "unsubscribe": []}
        for name in self.calls:
            original = getattr(PubSub, name)

            async def counted(pubsub, *channels, _name=name, _original=original, **kwargs):
                self.calls[_name].append(channels)
                return await _original(pubsub, *channels, **kwargs)

            monkeypatch.setattr(PubSub, name, counted)


def _subscribed(prefix):
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return {c.decode() for c in client.pubsub_channels(f"{prefix}*")}
    finally:
        client.close()


async def _subscribed_soon(prefix):
    """The subscribed channels once an UNSUBSCRIBE has taken effect (Redis replies to it
    on the pub/sub connection, not to the caller), or after a second."""
    for _ in range(50):
        if not _subscribed(prefix):
            break
        await asyncio.sleep(0.02)
    return _subscribed(prefix)


async def test_a_storm_of_joins_and_leaves_is_one_command_each_way(monkeypatch):
    counting = _Counting(monkeypatch)
    prefix = f"layers-test-{uuid.uuid4().hex[:8]}"
    layer = PubSubLayer(hosts=[REDIS_URL], prefix=prefix)
    channels = [await layer.new_channel() for _ in range(200)]
    try:
        await asyncio.gather(*(layer.group_add(f"user.{i}", c) for i, c in enumerate(channels)))
        assert len(counting.calls["subscribe"]) == 1
        assert len(counting.calls["subscribe"][0]) == 200
        assert len(_subscribed(prefix)) == 200
        # Every group is live: a message to the last one arrives.
        await layer.group_send("user.199", {"type": "x"})
        assert (await asyncio.wait_for(layer.receive(channels[199]), 5))["type"] == "x"

        await asyncio.gather(*(layer.group_discard(f"user.{i}", c) for i, c in enumerate(channels)))
        assert len(counting.calls["unsubscribe"]) == 1
        assert await _subscribed_soon(prefix) == set()
    finally:
        await layer.flush()


async def test_a_group_left_before_its_subscribe_went_out_is_not_subscribed(monkeypatch):
    counting = _Counting(monkeypatch)
    prefix = f"layers-test-{uuid.uuid4().hex[:8]}"
    layer = PubSubLayer(hosts=[REDIS_URL], prefix=prefix)
    one, two = await layer.new_channel(), await layer.new_channel()
    try:
        joining = asyncio.ensure_future(layer.group_add("user.1", one))
        staying = asyncio.ensure_future(layer.group_add("user.2", two))
        await asyncio.sleep(0)  # both queued; the batch has not gone out yet
        await layer.group_discard("user.1", one)
        await asyncio.gather(joining, staying)
        assert counting.calls["subscribe"] == [(f"{prefix}__group__user.2",)]
        assert counting.calls["unsubscribe"] == []
        assert _subscribed(prefix) == {f"{prefix}__group__user.2"}
        # Joined again later: subscribed again.
        await layer.group_add("user.1", one)
        assert _subscribed(prefix) == {f"{prefix}__group__user.1", f"{prefix}__group__user.2"}
    finally:
        await layer.flush()


async def test_a_group_left_while_its_subscribe_is_in_flight_is_unsubscribed(monkeypatch):
    from redis.asyncio.client import PubSub

    original = PubSub.subscribe
    release = asyncio.Event()

    async def slow(pubsub, *channels, **kwargs):
        await release.wait()  # the SUBSCRIBE is on its way while the group is left
        return await original(pubsub, *channels, **kwargs)

    monkeypatch.setattr(PubSub, "subscribe", slow)
    prefix = f"layers-test-{uuid.uuid4().hex[:8]}"
    layer = PubSubLayer(hosts=[REDIS_URL], prefix=prefix)
    one = await layer.new_channel()
    try:
        joining = asyncio.ensure_future(layer.group_add("user.1", one))
        for _ in range(5):
            await asyncio.sleep(0)  # the batch has taken the lock and is sending
        leaving = asyncio.ensure_future(layer.group_discard("user.1", one))
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(joining, leaving)
        assert await _subscribed_soon(prefix) == set()
    finally:
        await layer.flush()
