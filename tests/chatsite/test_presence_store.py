"""The presence lease store: one suite over both stores (in process, and Redis's scripts),
each called both ways (from a thread, and from the event loop)."""

import asyncio
import uuid

import pytest

from chatsite.presence_store import LocalStore, RedisStore


@pytest.fixture(params=["local", "redis"])
def store(request, private_redis):
    if request.param == "local":
        return LocalStore()
    return RedisStore(private_redis().url, f"test-{uuid.uuid4().hex}")


@pytest.fixture(params=["thread", "event loop"])
def call(request, store):
    """`call(name, *args)`: the store's method, or its `_async` twin on the event loop."""

    async def run(name, *args):
        if request.param == "thread":
            return await asyncio.to_thread(getattr(store, name), *args)
        return await getattr(store, f"{name}_async")(*args)

    return run


@pytest.fixture(autouse=True)
def _short_leases(settings):
    settings.PRESENCE_LEASE_SECONDS = 0.6
    settings.PRESENCE_GRACE_SECONDS = 0.2


async def test_the_first_socket_brings_a_user_online_and_the_limit_refuses_more(call):
    assert await call("attach", 7, "tab-1", 2) == 1
    assert await call("attach", 7, "tab-2", 2) == 0
    assert await call("attach", 7, "tab-3", 2) == -1  # nothing stored
    assert await call("online", [7, 8]) == {7}


async def test_the_last_socket_closing_starts_a_grace_that_its_token_ends(call):
    await call("attach", 7, "tab-1", 5)
    await call("attach", 7, "tab-2", 5)
    assert await call("detach", 7, "tab-1", "t1") is False  # another tab is open
    assert await call("detach", 7, "tab-2", "t2") is True
    assert await call("online", [7]) == {7}  # still online during the grace
    assert await call("settle", 7, "not-the-token") is False
    assert await call("settle", 7, "t2") is True
    assert await call("online", [7]) == set()


async def test_a_tab_opened_during_the_grace_keeps_the_user_online_without_a_transition(call):
    await call("attach", 7, "tab-1", 5)
    assert await call("detach", 7, "tab-1", "t1") is True
    assert await call("attach", 7, "tab-2", 5) == 0  # a reload: no "came online"
    assert await call("settle", 7, "t1") is False  # the old grace is over, nothing to end
    assert await call("online", [7]) == {7}


async def test_a_lease_lapses_unless_renewed(call):
    await call("attach", 7, "tab-1", 5)
    await call("attach", 8, "tab-1", 5)
    for _ in range(3):
        await asyncio.sleep(0.3)
        await call("renew", 7, "tab-1")
    # 0.9 s after both attached: 8's lease (0.6 s) ran out, 7's was renewed.
    assert await call("online", [7, 8]) == {7}
