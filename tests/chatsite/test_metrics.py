"""chatsite/metrics.py: bounded labels, the store timer, and several processes' sums."""

import os
import subprocess
import sys
import textwrap

from prometheus_client import REGISTRY

from chatsite import metrics
from tests.chats.live import ROOT


def test_label_values_past_the_bound_count_as_other(monkeypatch):
    monkeypatch.setattr(metrics, "_frames_in", metrics._Series(metrics.FRAMES_IN, limit=2))
    for kind in ["a", "b", "c", "d"]:
        metrics.frame_in(f"kind-{kind}")
    value = REGISTRY.get_sample_value
    assert value("chatsite_frames_in_total", {"type": "kind-b"}) >= 1
    assert value("chatsite_frames_in_total", {"type": "kind-c"}) is None
    assert value("chatsite_frames_in_total", {"type": "other"}) >= 2


async def test_timed_store_times_sync_and_async_services():
    def count():
        return REGISTRY.get_sample_value("chatsite_message_store_seconds_count")

    @metrics.timed_store
    def store(x):
        return x + 1

    @metrics.timed_store
    async def store_async(x):
        return x + 2

    before = count()
    assert store(1) == 2
    assert await store_async(1) == 3
    assert count() - before == 2


def test_several_processes_add_up_in_multiprocess_mode(tmp_path):
    # Each process writes its figures to the shared directory; any process exposes the sum.
    child = textwrap.dedent(
        """
        from chatsite import metrics
        metrics.messages_stored(5)
        metrics.socket_connect("accepted")
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", child], env=env, cwd=ROOT, check=True)
    expose = textwrap.dedent(
        """
        from chatsite import metrics
        print(metrics.exposition()[0].decode())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", expose], env=env, cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    assert "chatsite_messages_stored_total 10.0" in out
    assert 'chatsite_socket_connects_total{outcome="accepted"} 2.0' in out
