"""ops/drain.run: every registered socket closed, spread over DRAIN_SECONDS, then stop."""

import asyncio
import time
import weakref

import pytest
from django.test import override_settings

from ops import drain


class FakeSocket:
    def __init__(self, fail=False):
        self.fail = fail
        self.closed_at = None

    async def close_for_restart(self):
        self.closed_at = time.monotonic()
        drain.unregister(self)
        if self.fail:
            raise RuntimeError("boom")


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch):
    """Only this test's sockets: consumers of earlier tests may not be collected yet."""
    monkeypatch.setattr(drain, "_open", weakref.WeakSet())


@override_settings(DRAIN_SECONDS=0.6)
async def test_run_closes_each_socket_spread_out_then_stops_even_if_one_fails():
    sockets = [FakeSocket(), FakeSocket(fail=True), FakeSocket()]
    for socket in sockets:
        drain.register(socket)
    stopped = []
    started = time.monotonic()
    await drain.run(lambda: stopped.append(time.monotonic()))
    moments = sorted(s.closed_at for s in sockets)
    assert moments[0] - started < 0.1
    assert 0.3 <= moments[-1] - moments[0] < 0.6  # 0.2 s apart
    assert stopped and drain.open_sockets() == 0


async def test_run_with_no_socket_stops_at_once():
    stopped = []
    await asyncio.wait_for(drain.run(lambda: stopped.append(True)), 1)
    assert stopped == [True]


@override_settings(DRAIN_SECONDS=0.4)
async def test_a_socket_registered_during_the_drain_is_closed_with_1012_too():
    """Its handshake passed the draining check just before SIGTERM; it registers after the
    drain listed the open sockets."""
    listed, late = [FakeSocket(), FakeSocket()], FakeSocket()
    for socket in listed:
        drain.register(socket)
    stopped = []
    running = asyncio.ensure_future(drain.run(lambda: stopped.append(True)))
    await asyncio.sleep(0.1)  # the drain has listed the two and is spreading their closes
    drain.register(late)
    await asyncio.wait_for(running, 5)
    assert all(socket.closed_at is not None for socket in [*listed, late])
    assert stopped == [True]
