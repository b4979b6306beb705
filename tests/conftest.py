from __future__ import annotations

import os

import pytest
from django.core.cache import cache

from tests.factories import UserFactory

# Fast password hashing for test runs and the servers they start (DEBUG only; see settings).
os.environ["CHATSITE_TEST_FAST_HASHER"] = "1"


def pytest_configure(config):
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_presence():
    """Presence registrations live outside the database (in process, or in Redis, which the
    cache clear below empties): start every test from none."""
    from chats import presence

    presence.reset_local()
    yield
    presence.reset_local()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters and presence live in the cache: start every test from zero."""
    cache.clear()
    yield
    cache.clear()


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
