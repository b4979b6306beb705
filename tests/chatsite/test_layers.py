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
        # Besides the groups, one channel of the layer's own (its subscriptions are live).
        origin = layer._get_layer()._origin_channel(layer._get_layer()._shards[0])
        assert subscribed == {f"{prefix}__group__user.1", f"{prefix}__group__user.2", origin}

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
    """Counts the SUBSCRIBE and UNSUBSCRIBE commands the layer sends (the channels of each,
    but the layer's own origin channel, which goes out with the first group's)."""

    def __init__(self, monkeypatch):
        from redis.asyncio.client import PubSub

        self.calls = {"subscribe": [], "unsubscribe": []}
        for name in self.calls:
            original = getattr(PubSub, name)

            async def counted(pubsub, *channels, _name=name, _original=original, **kwargs):
                self.calls[_name].append(tuple(c for c in channels if "__origin__" not in c))
                return await _original(pubsub, *channels, **kwargs)

            monkeypatch.setattr(PubSub, name, counted)


def _subscribed(prefix):
    """The groups subscribed on Redis (not the layer's own origin channel)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        channels = {c.decode() for c in client.pubsub_channels(f"{prefix}*")}
        return {c for c in channels if "__origin__" not in c}
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


class _Publishes:
    """What each `group_send_many` script call published (the script returns the count)."""

    def __init__(self, monkeypatch):
        from chatsite import layers

        self.counts: list[int] = []
        original = layers._PUBLISH

        async def counted(client, keys, args):
            sent = await original(client, keys, args)
            self.counts.append(sent)
            return sent

        monkeypatch.setattr(layers, "_PUBLISH", counted)


async def _nothing_more(layer, channel):
    """True when no further event arrives on `channel` within a moment (the channel is
    closed after: the layer drops a channel whose receive was cancelled)."""
    try:
        await asyncio.wait_for(layer.receive(channel), 0.3)
    except TimeoutError:
        return True
    return False


async def test_a_group_with_sockets_here_only_is_delivered_from_memory(monkeypatch):
    publishes = _Publishes(monkeypatch)
    prefix = f"layers-test-{uuid.uuid4().hex[:8]}"
    layer = PubSubLayer(hosts=[REDIS_URL], prefix=prefix)
    one, two = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("user.1", one)
    await layer.group_add("user.1", two)  # two tabs of one user in this process
    try:
        await layer.group_send_many([("user.1", {"type": "a", "n": n}) for n in range(3)])
        # Nothing went through Redis: no other subscriber has the group.
        assert publishes.counts == [0]
        for channel in (one, two):
            got = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(3)]
            assert [m["n"] for m in got] == [0, 1, 2]
            assert await _nothing_more(layer, channel)
        # A group with nobody here is published as before, whoever subscribes.
        await layer.group_send_many([("user.9", {"type": "a"})])
        assert publishes.counts == [0, 1]
    finally:
        await layer.flush()


async def test_another_process_in_the_group_gets_it_through_redis_and_we_get_it_once(
    monkeypatch,
):
    publishes = _Publishes(monkeypatch)
    prefix = f"layers-test-{uuid.uuid4().hex[:8]}"
    here, there = (PubSubLayer(hosts=[REDIS_URL], prefix=prefix) for _ in range(2))
    mine, theirs = await here.new_channel(), await there.new_channel()
    await here.group_add("user.1", mine)
    await there.group_add("user.1", theirs)  # the same user's tab on another process
    try:
        await here.group_send_many([("user.1", {"type": "a", "n": n}) for n in range(3)])
        assert publishes.counts == [3]
        got_there = [await asyncio.wait_for(there.receive(theirs), 5) for _ in range(3)]
        got_here = [await asyncio.wait_for(here.receive(mine), 5) for _ in range(3)]
        assert [m["n"] for m in got_there] == [m["n"] for m in got_here] == [0, 1, 2]
        # Our own publish came back to our subscription and was dropped, not delivered twice.
        assert await _nothing_more(here, mine)
        assert await _nothing_more(there, theirs)
    finally:
        await here.flush()
        await there.flush()


async def test_an_event_published_while_our_subscribe_lands_is_not_delivered_twice(monkeypatch):
    publishes = _Publishes(monkeypatch)
    prefix = f"layers-test-{uuid.uuid4().hex[:8]}"
    layer = PubSubLayer(hosts=[REDIS_URL], prefix=prefix)
    one = await layer.new_channel()
    await layer.group_add("user.1", one)
    try:
        # As if the SUBSCRIBE were still on its way: the script cannot count Redis's
        # subscriber as ours, so it publishes, and the copy comes back to us.
        loop_layer = layer._get_layer()
        shard = loop_layer._shards[0]
        channel = loop_layer._get_group_channel_name("user.1")
        shard._subscribed_to.discard(channel)
        await layer.group_send_many([("user.1", {"type": "a", "n": 1})])
        assert publishes.counts == [1]
        assert (await asyncio.wait_for(layer.receive(one), 5))["n"] == 1
        assert await _nothing_more(layer, one)
    finally:
        shard._subscribed_to.add(channel)
        await layer.flush()


async def test_our_subscription_lost_on_redis_is_not_counted_as_ours(monkeypatch):
    """Between a Redis restart and our pub/sub connection's resubscribe, Redis counts only
    the other processes' subscriptions: the event is published for them, not skipped."""
    publishes = _Publishes(monkeypatch)
    prefix = f"layers-test-{uuid.uuid4().hex[:8]}"
    here, there = (PubSubLayer(hosts=[REDIS_URL], prefix=prefix) for _ in range(2))
    mine, theirs = await here.new_channel(), await there.new_channel()
    await here.group_add("user.1", mine)
    await there.group_add("user.1", theirs)
    try:
        loop_layer = here._get_layer()
        shard = loop_layer._shards[0]
        channel = loop_layer._get_group_channel_name("user.1")
        # Redis forgets our connection's subscriptions; the layer still lists the group.
        await shard._pubsub.unsubscribe(channel, loop_layer._origin_channel(shard))
        for _ in range(50):
            if not {c for c in _subscribed(prefix) if c == channel} or _numsub(channel) == 1:
                break
            await asyncio.sleep(0.02)
        assert channel in shard._subscribed_to and _numsub(channel) == 1  # theirs only
        await here.group_send_many([("user.1", {"type": "a", "n": 7})])
        assert publishes.counts == [1]
        assert (await asyncio.wait_for(there.receive(theirs), 5))["n"] == 7
        assert (await asyncio.wait_for(here.receive(mine), 5))["n"] == 7  # from memory
    finally:
        await here.flush()
        await there.flush()


def _numsub(channel):
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return dict(client.pubsub_numsub(channel))[channel.encode()]
    finally:
        client.close()
