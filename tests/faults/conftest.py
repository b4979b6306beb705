"""Fixtures for tests against real servers with faults injected (shared with tests/security)."""

import pytest

from tests.chats.live import Cluster, migrate_sqlite_template
from tests.chats.live import test_database_url as live_database_url
from tests.faults.infra import RedisServer, TcpProxy


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory, django_db_setup, django_db_blocker):
    """A migrated SQLite file, copied for each test (embedded runs only)."""
    from django.db import connection

    with django_db_blocker.unblock():
        vendor = connection.vendor
    if vendor != "sqlite":
        return None
    path = tmp_path_factory.mktemp("faults") / "template.sqlite3"
    migrate_sqlite_template(path)
    return path


@pytest.fixture
def database_url(tmp_path, sqlite_template):
    """The database the servers and the test share (a copied SQLite file, or the test
    database on PostgreSQL)."""
    return live_database_url(tmp_path, sqlite_template)


@pytest.fixture
def cluster_factory(tmp_path, database_url):
    clusters = []

    def make(redis_url=None, *, database=None, **kwargs):
        cluster = Cluster(tmp_path, database or database_url, redis_url, **kwargs)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.stop()


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, which it may kill and restart."""
    servers = []

    def make(*args):
        server = RedisServer(tmp_path, *args)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def proxy():
    proxies = []

    def make(target_port):
        p = TcpProxy(target_port)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()
