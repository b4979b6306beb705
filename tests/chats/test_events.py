"""How a ring reaches the channel layer from each place a change can be made."""

import asyncio
import contextlib
import threading

import pytest
from channels.layers import get_channel_layer

from chats import events

pytestmark = pytest.mark.django_db(transaction=True)


async def _received(channel: str) -> dict:
    return await asyncio.wait_for(get_channel_layer().receive(channel), timeout=5)


async def _listening(user_id: int) -> str:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(events.user_group(user_id), channel)
    return channel


async def test_a_ring_made_on_the_event_loop_is_queued_there_directly(alice, monkeypatch):
    channel = await _listening(alice.pk)
    events.ring_from_loop()
    loop = asyncio.get_running_loop()

    def posted_to_itself(*args, **kwargs):
        raise AssertionError("the loop posted a ring onto itself")

    monkeypatch.setattr(loop, "call_soon_threadsafe", posted_to_itself)
    events.user_sessions_changed(user_id=alice.pk)
    assert (await _received(channel))["type"] == "session.check"


async def test_a_ring_made_on_a_sockets_worker_thread_is_handed_to_its_loop(alice):
    channel = await _listening(alice.pk)
    events.ring_from_loop()
    rang_on: list[str] = []

    def on_a_worker():
        # The worker never touches the layer itself: it hands the ring to the loop.
        events.user_sessions_changed(user_id=alice.pk)
        rang_on.append(threading.current_thread().name)

    await asyncio.get_running_loop().run_in_executor(None, on_a_worker)
    assert rang_on and rang_on[0] != threading.main_thread().name
    assert (await _received(channel))["type"] == "session.check"


async def test_a_doorbell_ends_when_cancelled_even_if_its_send_swallows_the_cancel(monkeypatch):
    """The loop's shutdown cancels every task once and waits: a doorbell that kept going
    after a cancel lost mid-publish held it forever."""
    publishing = asyncio.Event()

    async def swallowing(rings):
        publishing.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)

    monkeypatch.setattr(events, "_group_send_many", swallowing)
    doorbell = events._Doorbell(asyncio.get_running_loop())
    doorbell.queue.put_nowait(("user.1", {"type": "session.check"}))
    await publishing.wait()
    doorbell.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(doorbell.task, timeout=2)
