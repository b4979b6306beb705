"""Which stored messages become pushes: called once per batch of stored messages, after
commit, from `chats.events.messages_created`.

Nothing here runs in the send path: the batch is handed to one thread per process, which
takes what queued meanwhile together (one query per round under load), keeps the
recipients who have a subscription and no open socket anywhere at that moment
(`presence`), and puts one task per subscription on the durable push queue
(`push.tasks`). The presence check happens here, in the server process, because in the
embedded mode only this process knows its sockets.

The hand-off is in memory: a process killed outright (SIGKILL, OOM, power loss) loses the
pushes of the messages it stored in the last moments before they reached the durable
queue (tens of milliseconds' worth; docs/architecture.md, "The hand-off is in memory, on
purpose"). A process that stops normally (SIGTERM's drain, Ctrl+C) queues what it holds
first (`_flush_at_exit`).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Iterable
from functools import cache

from django.db import close_old_connections

from chats.models import Message
from chatsite import presence_store
from push import selectors

logger = logging.getLogger(__name__)

# (message id, chat id, recipient id); an Event in the queue is set once what came before is done.
_Work = tuple[int, int, int]
# At exit, how long to wait for the pushes still in memory to reach the queue: inside
# systemd's TimeoutStopSec (30 s) after the drain's 20 s at most.
EXIT_FLUSH_SECONDS = 5


class _Dispatcher:
    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[_Work | threading.Event] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self.run, name="push-dispatch", daemon=True)
        self.thread.start()
        atexit.register(self._flush_at_exit)

    def _flush_at_exit(self) -> None:
        done = threading.Event()
        self.queue.put(done)
        if not done.wait(EXIT_FLUSH_SECONDS):
            logger.warning("exiting with pushes not yet queued")

    def run(self) -> None:
        while True:
            items = [self.queue.get()]
            while True:
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            work = [item for item in items if not isinstance(item, threading.Event)]
            if work:
                try:
                    close_old_connections()
                    enqueue_pushes(work)
                except Exception:
                    logger.exception("could not queue pushes for %d messages", len(work))
                finally:
                    close_old_connections()
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()


@cache
def _dispatcher() -> _Dispatcher:
    return _Dispatcher()


def messages_stored(*, messages: Iterable[Message], peers: dict[int, int]) -> None:
    """Queue the pushes for these just-committed messages (`peers`: chat -> recipient).
    Never raises: a push is not worth failing a stored send for.

    A recipient with a socket open in this process is online: nothing is handed over (a
    lease here implies one in the store, so this only skips work the dispatcher's presence
    check would skip). Checked here, on the caller's thread, it costs a dict lookup; handed
    over, each message woke the dispatch thread, which then took the GIL from the event
    loop (7% of the server's GIL time at B2's load, docs/benchmarks.md)."""
    try:
        work = [
            (message.pk, message.chat_id, peers[message.chat_id])
            for message in messages
            if presence_store.sockets_here(peers[message.chat_id]) == 0
        ]
        if not work:
            return
        dispatcher = _dispatcher()
        for item in work:
            dispatcher.queue.put(item)
    except Exception:
        logger.exception("could not hand messages over for pushes")


def wait_idle(timeout: float = 10) -> bool:
    """Wait until everything handed over so far is queued (tests, shutdown)."""
    done = threading.Event()
    _dispatcher().queue.put(done)
    return done.wait(timeout)


def enqueue_pushes(work: list[_Work]) -> None:
    # Checked again: the recipient may have opened a socket here since the hand-off.
    work = [item for item in work if presence_store.sockets_here(item[2]) == 0]
    if not work:
        return
    from push import tasks  # the web push libraries, only in processes that push

    targets = selectors.push_targets(pairs={(chat_id, user_id) for _, chat_id, user_id in work})
    if not targets:
        return
    store = presence_store.store()
    offline = {uid for uid in {uid for _, uid in targets} if store.sockets(uid) == 0}
    for message_id, chat_id, user_id in work:
        if user_id not in offline:
            continue
        for subscription_id in targets.get((chat_id, user_id), []):
            tasks.push_deliver.enqueue(message_id=message_id, subscription_id=subscription_id)
