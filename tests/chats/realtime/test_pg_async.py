"""chats/realtime/pg_async.py's slots: first come, first served, at most `size` at once,
and a waiter
cancelled at any point neither takes nor leaks a slot."""

import asyncio

from chats.realtime.pg_async import _Slots


async def test_slots_are_handed_out_in_arrival_order_at_most_size_at_once():
    slots = _Slots(2)
    inside: list[int] = []
    order: list[int] = []
    most = 0

    async def user(n: int) -> None:
        nonlocal most
        async with slots:
            order.append(n)
            inside.append(n)
            most = max(most, len(inside))
            await asyncio.sleep(0.001)
            inside.remove(n)

    await asyncio.gather(*(user(n) for n in range(50)))
    assert order == list(range(50))
    assert most == 2
    assert slots.free == 2 and not slots.waiters


async def test_a_cancelled_waiter_neither_takes_nor_leaks_a_slot():
    slots = _Slots(1)
    await slots.__aenter__()  # the only slot is taken
    waiting = asyncio.ensure_future(slots.__aenter__())
    after = asyncio.ensure_future(slots.__aenter__())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.sleep(0)
    await slots.__aexit__(None, None, None)  # skips the cancelled waiter
    await asyncio.wait_for(after, 1)
    assert waiting.cancelled()
    await slots.__aexit__(None, None, None)
    assert slots.free == 1 and not slots.waiters


async def test_a_waiter_cancelled_after_being_handed_a_slot_gives_it_back():
    slots = _Slots(1)
    await slots.__aenter__()
    waiting = asyncio.ensure_future(slots.__aenter__())
    await asyncio.sleep(0)
    await slots.__aexit__(None, None, None)  # hands the slot to `waiting`...
    waiting.cancel()  # ...which is cancelled before it resumes
    await asyncio.gather(waiting, return_exceptions=True)
    assert waiting.cancelled()
    assert slots.free == 1 and not slots.waiters
