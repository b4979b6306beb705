import asyncio

import pytest

from chatsite import ratelimit, redis_clients


@pytest.fixture
def frozen_window(monkeypatch):
    """Keep every hit of a test in one window."""
    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_000_000.0)


def test_hit_many_lets_through_the_first_ones_within_the_limit(frozen_window):
    assert ratelimit.hit_many("t:many", 3, limit=5, window=10) == 3
    assert ratelimit.hit_many("t:many", 4, limit=5, window=10) == 2
    assert ratelimit.hit_many("t:many", 2, limit=5, window=10) == 0
    assert ratelimit.hit("t:many", limit=5, window=10) is False


def test_hit_counts_one_at_a_time(frozen_window):
    assert [ratelimit.hit("t:one", limit=2, window=10) for _ in range(3)] == [True, True, False]


def test_keys_and_windows_count_apart(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    assert ratelimit.hit_many("t:a", 2, limit=2, window=10) == 2
    assert ratelimit.hit_many("t:b", 2, limit=2, window=10) == 2
    assert ratelimit.hit_many("t:a", 1, limit=2, window=10) == 0
    now[0] += 10
    assert ratelimit.hit_many("t:a", 1, limit=2, window=10) == 1


async def test_async_hits_of_one_loop_go_to_redis_together(private_redis, settings, monkeypatch):
    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_000_000.0)
    settings.REDIS_URL = private_redis().url
    calls = []
    script = ratelimit._COUNT.script

    async def counting(client, keys, args):
        calls.append(keys)
        return await script(client, keys, args)

    monkeypatch.setattr(ratelimit._COUNT, "script", counting)
    hits = [("t:k", 2), ("t:k", 2), ("t:other", 1), ("t:k", 2), ("t:k", 2)]
    got = await asyncio.gather(
        *(ratelimit.hit_many_async(key, n, limit=5, window=10) for key, n in hits)
    )
    # In the order made: 2 of 2, 2 of 2 (4), 1 of 1 elsewhere, 1 of 2 (6 > 5), 0 of 2.
    assert got == [2, 2, 1, 1, 0]
    assert len(calls) == 1  # five sockets' counts, one round trip
    assert await ratelimit.hit_many_async("t:other", 5, limit=5, window=10) == 4
    assert len(calls) == 2
    client = redis_clients.for_loop(settings.REDIS_URL)
    total = await client.get(f"{ratelimit._prefix()}:rl:t:k:100000")
    assert int(total) == 8
