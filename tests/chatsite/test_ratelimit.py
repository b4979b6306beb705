import asyncio
import random

import pytest

from chatsite import ratelimit, redis_clients


@pytest.fixture
def clock(monkeypatch):
    """The limiter's clock, moved by the test: `clock[0]` is now."""
    now = [1_000_000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    return now


@pytest.fixture(params=["in_process", "redis"])
def backend(request, settings):
    """Each test on both implementations: the in-process log and a real Redis's."""
    if request.param == "redis":
        settings.REDIS_URL = request.getfixturevalue("private_redis")().url
    else:
        settings.REDIS_URL = ""
    return request.param


def test_hit_many_lets_through_the_first_ones_within_the_limit(clock, backend):
    assert ratelimit.hit_many("t:many", 3, limit=5, window=10) == 3
    assert ratelimit.hit_many("t:many", 4, limit=5, window=10) == 2
    assert ratelimit.hit_many("t:many", 2, limit=5, window=10) == 0
    assert ratelimit.hit("t:many", limit=5, window=10) is False


def test_hit_counts_one_at_a_time(clock, backend):
    assert [ratelimit.hit("t:one", limit=2, window=10) for _ in range(3)] == [True, True, False]


def test_keys_count_apart_and_events_leave_after_the_window(clock, backend):
    assert ratelimit.hit_many("t:a", 2, limit=2, window=10) == 2
    assert ratelimit.hit_many("t:b", 2, limit=2, window=10) == 2
    assert ratelimit.hit_many("t:a", 1, limit=2, window=10) == 0
    clock[0] += 10
    assert ratelimit.hit_many("t:a", 1, limit=2, window=10) == 1


def test_a_burst_across_a_fixed_windows_end_gets_no_second_share(clock, backend):
    # Fixed 10 s windows would start at 1,000,000 and 1,000,010: five just before that
    # boundary and five just after it were all let through.
    clock[0] = 1_000_009.5
    assert ratelimit.hit_many("t:edge", 5, limit=5, window=10) == 5
    clock[0] = 1_000_010.5
    assert ratelimit.hit_many("t:edge", 5, limit=5, window=10) == 0
    clock[0] = 1_000_019.5  # the burst has left the window
    assert ratelimit.hit_many("t:edge", 5, limit=5, window=10) == 5


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_no_span_of_a_window_admits_more_than_the_limit(clock, backend, mode):
    """Bursts at random times: every span of `window` seconds holds at most `limit`
    admitted events, and an event is refused only when the last `window` seconds already
    hold `limit` (the limit is not stricter than it says)."""
    limit, window = 7, 10
    rng = random.Random(21)
    admitted: list[float] = []

    async def run():
        for _ in range(300):
            clock[0] += rng.choice([0.0, 0.05, 0.4, 1.3, 3.7])
            count = rng.randint(1, 4)
            if mode == "sync":
                taken = ratelimit.take("t:burst", count, limit=limit, window=window)
            else:
                taken = await ratelimit.take_async("t:burst", count, limit=limit, window=window)
            before = [t for t in admitted if t > clock[0] - window]
            assert taken.allowed == min(count, limit - len(before))
            admitted.extend([clock[0]] * taken.allowed)

    asyncio.run(run())
    assert len(admitted) > 100  # the run did cross many windows
    for start in admitted:
        assert sum(start <= t < start + window for t in admitted) <= limit


def test_retry_after_is_the_wait_until_the_oldest_event_leaves(clock, backend):
    start = clock[0]
    for offset in (0, 2, 4):
        clock[0] = start + offset
        assert ratelimit.take("t:wait", 1, limit=3, window=10).allowed == 1
    clock[0] = start + 5
    assert ratelimit.take("t:wait", 1, limit=3, window=10) == ratelimit.Taken(0, 5)
    clock[0] = start + 5.5
    assert ratelimit.take("t:wait", 2, limit=3, window=10) == ratelimit.Taken(0, 5)
    clock[0] = start + 9.9
    assert ratelimit.take("t:wait", 1, limit=3, window=10) == ratelimit.Taken(0, 1)
    clock[0] = start + 10  # the first event has left: one more now, then the next in 2 s
    assert ratelimit.take("t:wait", 3, limit=3, window=10) == ratelimit.Taken(1, 2)
    # Room left: no wait; a count of none only asks.
    assert ratelimit.take("t:other", 1, limit=3, window=10) == ratelimit.Taken(1, 0)
    assert ratelimit.take("t:wait", 0, limit=3, window=10) == ratelimit.Taken(0, 2)


def test_forget_drops_a_key_and_the_keys_under_it(clock, backend):
    for key in ("t:5", "t:5:12", "t:55"):
        assert ratelimit.hit(key, limit=1, window=60)
    ratelimit.forget(["t:5"])
    assert ratelimit.hit("t:5", limit=1, window=60)
    assert ratelimit.hit("t:5:12", limit=1, window=60)
    assert not ratelimit.hit("t:55", limit=1, window=60)


def test_a_redis_log_holds_only_admitted_events_and_expires_with_its_window(
    clock, private_redis, settings
):
    settings.REDIS_URL = private_redis().url
    assert ratelimit.hit_many("t:log", 5, limit=3, window=10) == 3
    assert ratelimit.hit_many("t:log", 5, limit=3, window=10) == 0
    client = redis_clients.threaded(settings.REDIS_URL)
    key = f"{ratelimit._prefix()}:rl:t:log:log"
    assert client.zcard(key) == 3
    assert 0 < client.pttl(key) <= 10_000


async def test_async_hits_of_one_loop_go_to_redis_together(
    private_redis, settings, clock, monkeypatch
):
    settings.REDIS_URL = private_redis().url
    calls = []
    script = ratelimit._TAKE.script

    async def counting(client, keys, args):
        calls.append(keys)
        return await script(client, keys, args)

    monkeypatch.setattr(ratelimit._TAKE, "script", counting)
    hits = [("t:k", 2), ("t:k", 2), ("t:other", 1), ("t:k", 2), ("t:k", 2)]
    got = await asyncio.gather(
        *(ratelimit.hit_many_async(key, n, limit=5, window=10) for key, n in hits)
    )
    # In the order made: 2 of 2, 2 of 2 (4), 1 of 1 elsewhere, 1 of 2 (5), 0 of 2.
    assert got == [2, 2, 1, 1, 0]
    assert len(calls) == 1  # five sockets' counts, one round trip
    assert await ratelimit.hit_many_async("t:other", 5, limit=5, window=10) == 4
    assert len(calls) == 2
    client = redis_clients.for_loop(settings.REDIS_URL)
    assert await client.zcard(f"{ratelimit._prefix()}:rl:t:k:log") == 5


def test_the_limit_fails_open_when_redis_is_down(clock, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    assert ratelimit.take("t:down", 3, limit=1, window=10) == ratelimit.Taken(3)
