"""After Redis restarts, the first command on a pooled connection must not fail: the
asyncio clients (presence, rate limits) and the channel layer reconnect and resend.
Against a private redis-server that the test kills and starts again."""

import asyncio
import time
import uuid

import pytest
import redis

from chatsite import redis_clients
from chatsite.layers import PubSubLayer
from tests.faults.infra import RedisServer


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def restart(server: RedisServer) -> None:
    server.stop()  # SIGKILL: the pooled connections are dead, the clients do not know yet
    server.start()


async def test_loop_clients_survive_a_restart(private_redis):
    client = redis_clients.for_loop(private_redis.url)
    assert client is redis_clients.for_loop(private_redis.url)  # one per loop and URL
    await client.set("k", 1)
    pipe = client.pipeline(transaction=False)
    pipe.incr("n")
    await pipe.execute()
    restart(private_redis)
    assert await client.get("k") is None  # answered by the new, empty Redis
    pipe = client.pipeline(transaction=False)
    pipe.incrby("n", 5)
    pipe.expire("n", 10)
    assert await pipe.execute() == [5, True]
    await client.aclose()


async def test_the_layer_publishes_and_resubscribes_after_a_restart(private_redis):
    layer = PubSubLayer(hosts=[private_redis.url], prefix=f"t{uuid.uuid4().hex[:6]}")
    channel = await layer.new_channel()
    await layer.group_add("user.1", channel)
    try:
        await layer.group_send_many([("user.1", {"type": "a", "n": 0})])
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 0
        restart(private_redis)
        # The receiver reconnects and subscribes again by itself.
        probe = redis.Redis.from_url(private_redis.url)
        deadline = time.monotonic() + 10
        while not probe.pubsub_channels():
            assert time.monotonic() < deadline, "the layer did not subscribe again"
            await asyncio.sleep(0.05)
        probe.close()
        # The first publish after the restart goes out on a connection opened before it.
        await layer.group_send_many([("user.1", {"type": "a", "n": 1})])
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1
    finally:
        await layer.group_discard("user.1", channel)
        await layer.flush()
