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
