"""/readyz on a real server while its database or Redis link is cut and healed."""

import asyncio
import time

import pytest

from tests.chats.live import redis_url_for_processes
from tests.faults.test_links import DatabaseOutage
from tests.ops.conftest import readyz

pytestmark = [pytest.mark.live, pytest.mark.fault, pytest.mark.django_db(transaction=True)]


async def until_ready_is(server, status, within):
    """The body once /readyz answers `status` (fails after `within` seconds)."""
    start = time.monotonic()
    while True:
        answer = await asyncio.to_thread(readyz, server)
        if answer[0] == status:
            return answer[1]
        assert time.monotonic() - start < within, answer
        await asyncio.sleep(0.1)


async def test_readyz_fails_within_two_seconds_of_redis_being_cut_and_recovers(
    cluster_factory, proxy
):
    target = redis_url_for_processes()
    link = proxy(int(target.split(":")[2].split("/")[0]))
    cluster = cluster_factory(f"redis://127.0.0.1:{link.port}/{target.rsplit('/', 1)[1]}")
    server = cluster.start()
    assert readyz(server) == (200, {"status": "ok"})
    link.cut()
    body = await until_ready_is(server, 503, within=2)
    assert body == {"status": "unavailable", "failing": ["redis"]}
    link.restore()
    await until_ready_is(server, 200, within=10)


async def test_readyz_fails_within_two_seconds_of_the_database_being_cut_and_recovers(
    cluster_factory, database_url, proxy
):
    if database_url.startswith("sqlite:"):
        pytest.skip("SQLite is a file in the process: there is no link to cut")
    outage = DatabaseOutage(database_url, proxy)
    cluster = cluster_factory(database=outage.url)
    server = cluster.start()
    assert readyz(server) == (200, {"status": "ok"})
    outage.begin()
    try:
        body = await until_ready_is(server, 503, within=2)
        assert body == {"status": "unavailable", "failing": ["database"]}
    finally:
        outage.end()
    await until_ready_is(server, 200, within=10)
