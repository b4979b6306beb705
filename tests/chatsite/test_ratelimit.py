import pytest

from chatsite import ratelimit


@pytest.fixture
def frozen_window(monkeypatch):
    """Keep every hit of a test in one window."""
    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_000_000.0)


def test_hit_many_lets_through_the_first_ones_within_the_limit(frozen_window):
    assert ratelimit.hit_many("t:many", 3, limit=5, window=10) == 3
    assert ratelimit.hit_many("t:many", 4, limit=5, window=10) == 2
    assert ratelimit.hit_many("t:many", 2, limit=5, window=10) == 0
    assert ratelimit.hit("t:many", limit=5, window=10) is False


def test_hit_counts_one_at_a_time(frozen_window):
    assert [ratelimit.hit("t:one", limit=2, window=10) for _ in range(3)] == [True, True, False]


def test_keys_and_windows_count_apart(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    assert ratelimit.hit_many("t:a", 2, limit=2, window=10) == 2
    assert ratelimit.hit_many("t:b", 2, limit=2, window=10) == 2
    assert ratelimit.hit_many("t:a", 1, limit=2, window=10) == 0
    now[0] += 10
    assert ratelimit.hit_many("t:a", 1, limit=2, window=10) == 1
