"""Fixtures for tests against real servers with faults injected (the servers themselves:
`cluster_factory` in tests/conftest.py)."""

import pytest

from tests.faults.infra import RedisServer, Sentineled, TcpProxy
from tests.support.fixtures import factory_fixture


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, which it may kill and restart."""

    def build(*args):
        server = RedisServer(tmp_path, *args)
        server.start()
        return server

    yield from factory_fixture(build, RedisServer.stop)


@pytest.fixture
def proxy():
    """`proxy(target_port)`: a TcpProxy the test can cut, freeze or make lose replies."""
    yield from factory_fixture(TcpProxy, TcpProxy.close)


@pytest.fixture
def sentineled(tmp_path):
    """A Redis primary, a replica and a Sentinel of the test's own (tests/faults/infra.py)."""
    setup = Sentineled(tmp_path)
    yield setup
    setup.stop()
