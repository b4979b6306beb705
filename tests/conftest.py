from __future__ import annotations

import os

import pytest
from django.core.cache import cache

from tests.chats.live import Cluster, migrate_sqlite_template
from tests.chats.live import test_database_url as live_database_url
from tests.factories import UserFactory
from tests.support.fixtures import factory_fixture

# Fast password hashing for test runs and the servers they start (DEBUG only; see settings).
os.environ["CHATSITE_TEST_FAST_HASHER"] = "1"


def pytest_configure(config):
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_presence():
    """Presence registrations live outside the database (in process, or in Redis, which the
    cache clear below empties): start every test from none."""
    from chatsite import presence_store

    presence_store.reset_local()
    yield
    presence_store.reset_local()


@pytest.fixture(autouse=True)
def _close_send_connections():
    """Each test's event loop opens its own send-path connections (chats/realtime/pg_async.py); the
    loop is gone after the test, so close them here (the test database is dropped at the
    end, which open sessions would block)."""
    yield
    from chats.realtime import pg_async

    pg_async.close_all()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Presence lives in the cache, and rate-limit logs in Redis (cleared with it) or in
    process: start every test from none."""
    from chatsite import ratelimit

    cache.clear()
    ratelimit.reset_local()
    yield
    cache.clear()
    ratelimit.reset_local()


@pytest.fixture
def no_send_limit(settings):
    """The send limit counts across a test's actions; a test of the limit sets its own."""
    settings.SEND_RATE = (10**6, 1)


@pytest.fixture
def user_factory():
    return UserFactory


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def carol(db):
    return UserFactory(username="carol")


# -- real daphne processes (tests/chats/test_live.py, tests/faults, tests/security) --------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory, django_db_setup, django_db_blocker):
    """A migrated SQLite file, copied for each test (embedded runs only)."""
    from django.db import connection

    with django_db_blocker.unblock():
        vendor = connection.vendor
    if vendor != "sqlite":
        return None
    path = tmp_path_factory.mktemp("live") / "template.sqlite3"
    migrate_sqlite_template(path)
    return path


@pytest.fixture
def database_url(tmp_path, sqlite_template):
    """The database the servers and the test share (a copied SQLite file, or the test
    database on PostgreSQL)."""
    return live_database_url(tmp_path, sqlite_template)


@pytest.fixture
def cluster_factory(tmp_path, database_url):
    """`cluster_factory(redis_url=None, *, database=None, daphne_args=..., **env)`: a Cluster
    on the shared database (or on `database`); its servers are stopped after the test."""

    def build(redis_url=None, *, database=None, **kwargs):
        return Cluster(tmp_path, database or database_url, redis_url, **kwargs)

    yield from factory_fixture(build, Cluster.stop)
