"""A task's cancellation, as asyncio records it, for the loops that must honour it.

redis-py can swallow the CancelledError of a task cancelled while a command is in flight:
the command returns its reply as if nothing happened (redis/redis-py#2028; measured with
redis-py 8.1 on Python 3.11: a cancel that lands in the first few steps of an EVALSHA was
lost about one time in three). A task that loops (the doorbell's drain, a pub/sub reader, a
lease renewer) would then go round again and wait for its next item forever, and the
shutdown of its event loop (asyncio.run, daphne's, or a test's) waits for it with it. The
request itself survives the swallow (`Task.cancelling()` counts it), so such loops ask
here on every round instead of relying on the exception.
"""

from __future__ import annotations

import asyncio


def cancelling() -> bool:
    """Whether the current task has been asked to stop (False outside a task)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def raise_if_cancelled() -> None:
    """Stop the current task if it was cancelled, even where a library swallowed the
    CancelledError."""
    if cancelling():
        raise asyncio.CancelledError
