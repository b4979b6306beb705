"""`private_redis()`: a redis-server of the test's own; `sentineled`: a primary, a replica
and a Sentinel of the test's own (tests/faults/conftest.py)."""

from tests.faults.conftest import private_redis, sentineled  # noqa: F401
