"""Redis through Sentinel (REDIS_SENTINELS): two real server processes, a Redis primary, its
replica and one Sentinel. The primary is killed mid-conversation; Sentinel promotes the
replica, every process finds it by itself (channel layer, presence, rate limits, cache),
live delivery resumes between the processes both ways, and every acked message is shown
exactly once (sync fills in what the failover dropped)."""

import asyncio

import pytest

from tests.faults.infra import (
    assert_all_hold,
    conversation,
    until_delivered_live,
)

pytestmark = [pytest.mark.live, pytest.mark.fault, pytest.mark.django_db(transaction=True)]


async def test_a_primary_killed_mid_conversation_is_replaced_and_nothing_acked_is_lost(
    cluster_factory, database_url, sentineled
):
    cluster = cluster_factory(None, REDIS_SENTINELS=sentineled.sentinels)
    seed = cluster.seed("alice", "bob")
    one, two = cluster.start(), cluster.start()
    async with conversation(seed, one, two) as (alice, bob):
        # Live between the processes: through the primary's pub/sub.
        assert await until_delivered_live(alice, bob, one) == 1
        assert await until_delivered_live(bob, alice, two) == 1
        for i in range(3):
            await alice.send_until_acked(one, f"before {i}")

        sentineled.primary.stop()  # SIGKILL: every process's connections to it die
        during = 0
        while sentineled.sentinel.primary_port() != sentineled.replica.port:
            _, errors = await alice.send_until_acked(one, f"during the failover {during}")
            assert errors == [], errors  # stored in PostgreSQL and acked all along
            during += 1
            await asyncio.sleep(0.3)  # within the send rate limit once Redis counts again
        assert during > 0

        # Live again, both ways, through the promoted replica (within a few attempts).
        assert await until_delivered_live(alice, bob, one) <= 10
        assert await until_delivered_live(bob, alice, two) <= 10
        await alice.recover(one)
        await bob.recover(two)
        rows = assert_all_hold(database_url, alice, bob)
    print(f"\n{during} messages acked while Sentinel failed over; {len(rows)} in all")
    assert sentineled.replica.ping()
