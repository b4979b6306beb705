"""1,000 connect/send/disconnect cycles against a real server: database connections (file
descriptors on SQLite) stay bounded."""

import asyncio
import os
import uuid
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.faults.infra import stored_messages

pytestmark = [pytest.mark.live, pytest.mark.fault, pytest.mark.django_db(transaction=True)]

CYCLES = 1000
POOL_MAX = 8


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def pg_connections(database_url, application_name):
    """The server's connections (libpq tags them with PGAPPNAME)."""
    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(database_url) as db:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
        return db.execute(query, (name, application_name)).fetchone()[0]


async def test_a_thousand_connect_send_disconnect_cycles_leak_no_connections(
    cluster_factory, database_url
):
    # The socket limit is not under test: a closed socket's slot is freed when the server
    # has processed the close, which can trail the client's next connect under this load.
    app_name = f"cycles-{uuid.uuid4().hex[:8]}"
    cluster = cluster_factory(
        SEND_RATE_BURST="100000",
        MAX_SOCKETS_PER_USER="1000",
        DB_POOL_MAX=str(POOL_MAX),
        PGAPPNAME=app_name,
    )
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    chat = seed["chat"]
    sessions = [seed["users"][name]["session"] for name in ("alice", "bob")]
    sqlite = database_url.startswith("sqlite:")

    def measure():
        if sqlite:
            return open_fds(server.process.pid)
        return pg_connections(database_url, app_name)

    async def cycle(i):
        client = await server.connect(sessions[i % 2])
        try:
            ack = await client.send_message(chat, f"cycle {i}", client_id=str(uuid.uuid4()))
            assert ack["message"]["body"] == f"cycle {i}"
        finally:
            await client.close()

    async def run(start, stop, lanes=4):
        async def lane(k):
            for i in range(start + k, stop, lanes):
                await cycle(i)

        await asyncio.gather(*(lane(k) for k in range(lanes)))

    await run(0, 50)  # warm up: pools and caches reach their working size
    baseline = measure()
    peak = baseline
    for start in range(50, CYCLES, 50):
        await run(start, start + 50)
        peak = max(peak, measure())
    assert len(stored_messages(database_url, chat)) == CYCLES
    if sqlite:
        # One SQLite connection per thread at most: descriptors do not grow with cycles.
        assert peak <= baseline + 6, (baseline, peak)
    else:
        assert baseline >= 1 and peak <= POOL_MAX, (baseline, peak)
    assert server.process.poll() is None
