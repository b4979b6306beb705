"""`private_redis()`: a redis-server of the test's own (tests/faults/conftest.py)."""

from tests.faults.conftest import private_redis  # noqa: F401
