"""/metrics of real server processes sharing PROMETHEUS_MULTIPROC_DIR: the figures are what
the test did, summed over the processes."""

import asyncio
import http.client
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.chats.live import redis_url_for_processes
from tests.faults.infra import conversation

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

TOKEN = "live-metrics-token-0123456789"


def scrape(server, token=TOKEN):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", "/metrics", headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def samples(server):
    status, text = scrape(server)
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(figures, name, **labels):
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


async def eventually(server, name, expected, **labels):
    deadline = time.monotonic() + 10
    while (got := value(await asyncio.to_thread(samples, server), name, **labels)) != expected:
        assert time.monotonic() < deadline, (name, labels, got, expected)
        await asyncio.sleep(0.1)


async def test_metrics_count_messages_and_sockets_across_processes(cluster_factory, tmp_path):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    cluster = cluster_factory(
        redis_url_for_processes(), METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(shared)
    )
    seed = cluster.seed("alice", "bob")
    one, two = cluster.start(), cluster.start()
    assert scrape(one, token=None)[0] == 404
    assert scrape(one, token="wrong")[0] == 404
    async with conversation(seed, one, two) as (alice, bob):
        for i in range(5):
            ack = await alice.send(f"hello {i}")
            assert ack["type"] == "ack"
            await bob.recv_until(
                lambda f, mid=ack["message"]["id"]: (
                    f["type"] == "message" and f["message"]["id"] == mid
                )
            )
        figures = await asyncio.to_thread(samples, two)  # either process sees both
        assert value(figures, "chatsite_messages_stored_total") == 5
        assert value(figures, "chatsite_frames_in_total", type="send") == 5
        assert value(figures, "chatsite_socket_connects_total", outcome="accepted") == 2
        assert value(figures, "chatsite_sockets_open") == 2
        # Stored on alice's process, written on bob's socket on the other one.
        assert value(figures, "chatsite_message_fanout_seconds_count") == 5
        assert value(figures, "chatsite_message_fanout_seconds_bucket", le="1.0") == 5
        two.kill()  # bob's process dies without a word: its live gauge must not linger
        two.restart()
    await eventually(one, "chatsite_sockets_open", 0)
    assert value(await asyncio.to_thread(samples, one), "chatsite_messages_stored_total") == 5
