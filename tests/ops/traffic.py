"""Many pairs of users chatting at once, each tab on its own as the browser client behaves
(static/js/socket.js, outbox.js and docs/protocol.md, "Reconnect and sync"), recording what a
user would notice: every close code, every refused connect, and how long each message took
from being written to being shown on the other side."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field

import websockets

from tests.chats.live import Server
from tests.faults.infra import RETRY, Member, stored_messages

RESTART_JITTER = 0.5  # static/js/socket.js: RESTART_JITTER_MS


class Chatter(Member):
    """A tab that writes a message every `period` seconds while it runs: one send in flight,
    the rest queued in order and resent with the same client_id after a reconnect; a close
    with 1012 reconnects within RESTART_JITTER, any other after a backoff; a seq gap is
    filled with a sync."""

    def __init__(self, name: str, session: str, chat: int, period: float) -> None:
        super().__init__(name, session, chat)
        self.period = period
        self.outbox: list[tuple[str, str]] = []  # (client_id, body), first in, first out
        self.in_flight: str | None = None
        self.written: dict[str, float] = {}  # body -> when it was written
        self.shown: dict[str, float] = {}  # body of the peer's message -> when first shown
        self.acked: set[str] = set()
        self.closes: list[int] = []  # close codes seen (1006: no close frame)
        self.refused: list[str] = []  # connects that failed, and why
        self.errors: list[dict] = []
        self.writing = True

    def apply(self, frame: dict) -> None:
        super().apply(frame)
        if frame["type"] not in {"message", "ack"} or frame["message"]["chat"] != self.chat:
            return
        message = frame["message"]
        if message["sender"] != self.name:
            self.shown.setdefault(message["body"], time.monotonic())
        elif self.outbox and message["client_id"] == self.outbox[0][0]:
            # An ack, or the message itself (in a sync after a reconnect), settles it.
            self.acked.add(self.outbox.pop(0)[0])
            self.in_flight = None

    def state(self) -> dict:
        """What a failing test shows of a tab."""
        return {
            "name": self.name,
            "open": self.open,
            "in_flight": self.in_flight,
            "outbox": self.outbox[:2],
            "last frames": self.frames[-4:],
            "closes": self.closes,
            "refused": self.refused[-2:],
            "errors": self.errors[-2:],
        }

    def write(self) -> None:
        body = f"{self.name} {len(self.written)}"
        self.written[body] = time.monotonic()
        self.outbox.append((str(uuid.uuid4()), body))

    async def run(self, server: Server, via: int) -> None:
        """Chat until `writing` is off and the outbox is empty."""
        next_write = time.monotonic() + random.uniform(0, self.period)
        retry_at = 0.0
        while self.writing or self.outbox:
            try:
                if not self.open:
                    if self.client is not None:  # closed while nothing was reading it
                        self._closed(self.client.ws.protocol.close_rcvd)
                        await self.drop()
                    await self._reconnect(server, via)
                    continue
                now = time.monotonic()
                if self.writing and now >= next_write:
                    self.write()
                    next_write += self.period
                if self.in_flight is None and self.outbox and now >= retry_at:
                    client_id, body = self.outbox[0]
                    self.in_flight = client_id
                    frame = {"type": "send", "chat": self.chat, "client_id": client_id}
                    await self.client.send({**frame, "body": body})
                wake = [next_write if self.writing else now + 1]
                if self.in_flight is None and self.outbox:
                    wake.append(retry_at)
                try:
                    frame = await self.recv(timeout=max(min(wake) - time.monotonic(), 0.001))
                except TimeoutError:
                    continue
                if frame["type"] == "message" and frame["message"]["seq"] > self.last_seq + 1:
                    await self.sync()  # a gap: what a lost doorbell left out
                elif frame["type"] == "error":
                    self.errors.append(frame)
                    if frame.get("client_id") == self.in_flight:
                        self.in_flight = None
                        retry_at = time.monotonic() + frame.get("retry_after", 1)
            except websockets.ConnectionClosed as closed:
                self._closed(closed.rcvd)
                await self.drop()
            except RETRY as error:  # no answer to a sync: start over
                self.refused.append(repr(error))
                await self.drop()

    def _closed(self, frame) -> None:
        """Note the close code the server sent (1006: the connection ended without one)."""
        self.closes.append(frame.code if frame is not None else 1006)

    async def _reconnect(self, server: Server, via: int) -> None:
        """Connect (and sync) as socket.js does: within RESTART_JITTER after a 1012, else
        after its backoff (0.5 s, 1 s, 2 s... with jitter)."""
        self.in_flight = None
        if self.closes and self.closes[-1] == 1012:
            await asyncio.sleep(random.uniform(0, RESTART_JITTER))
        elif self.closes:
            await asyncio.sleep(random.uniform(0.25, 0.5))
        attempt = 1
        while True:
            try:
                await self.connect(server, via=via, deadline=0)
                return
            except websockets.ConnectionClosed as closed:  # closed again during the sync
                self._closed(closed.rcvd)
            except RETRY as error:
                self.refused.append(repr(error))
            await self.drop()
            ceiling = min(30, 0.5 * 2**attempt)
            attempt += 1
            await asyncio.sleep(ceiling / 2 + random.uniform(0, ceiling / 2))


@dataclass
class Pairs:
    """The chatters of `python -m tests.ops.pairs_seed N`, writing `rate` messages a second
    in all."""

    seed: dict
    rate: float
    chatters: list[Chatter] = field(default_factory=list)
    tasks: list[asyncio.Future] = field(default_factory=list)

    def __post_init__(self) -> None:
        period = 2 * len(self.seed["pairs"]) / self.rate
        for i, pair in enumerate(self.seed["pairs"]):
            for side in "ab":
                self.chatters.append(Chatter(f"{side}{i}", pair[side], pair["chat"], period))

    def start(self, server: Server, via: int) -> None:
        self.tasks = [asyncio.ensure_future(c.run(server, via)) for c in self.chatters]

    async def stop(self, timeout: float = 120) -> None:
        """Stop writing, and wait until everything written is acked."""
        for chatter in self.chatters:
            chatter.writing = False
        done, pending = await asyncio.wait(self.tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        for task in done:
            task.result()  # a chatter that crashed fails the test here
        stuck = [c for c in self.chatters if c.outbox]
        assert not pending, [c.state() for c in stuck[:3]] + [f"{len(stuck)} stuck"]

    async def resync(self, server: Server, via: int) -> None:
        """Every tab syncs once more (as on the next page load), then closes."""
        for chatter in self.chatters:
            if not chatter.open:
                await chatter.connect(server, via=via)
            else:
                await chatter.sync()
            await chatter.drop()

    async def finish(
        self, server: Server, via: int, database_url: str
    ) -> tuple[int, list[float], dict[int, int]]:
        """Stop, sync every tab once more and check every message is stored once and shown
        once: (how many messages, their delivery times, the close codes seen)."""
        await self.stop()
        await self.resync(server, via=via)
        total = self.assert_stored_once_and_shown_once(database_url)
        return total, self.delivery_gaps(), self.closes()

    def closes(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for chatter in self.chatters:
            for code in chatter.closes:
                counts[code] = counts.get(code, 0) + 1
        return counts

    def delivery_gaps(self) -> list[float]:
        """For every message, seconds from written to first shown to the peer (sorted)."""
        gaps = []
        for a, b in zip(self.chatters[::2], self.chatters[1::2], strict=True):
            for sender, receiver in ((a, b), (b, a)):
                for body, written in sender.written.items():
                    gaps.append(receiver.shown[body] - written)
        return sorted(gaps)

    def assert_stored_once_and_shown_once(self, database_url: str) -> int:
        """Every acked message is stored once, and each tab shows exactly the stored
        messages, each once, in seq order. Returns how many messages there are."""
        total = 0
        for a, b in zip(self.chatters[::2], self.chatters[1::2], strict=True):
            rows = stored_messages(database_url, a.chat)
            client_ids = [client_id for _, _, client_id, _ in rows]
            assert len(client_ids) == len(set(client_ids))
            assert set(client_ids) == a.acked | b.acked
            assert len(rows) == len(a.written) + len(b.written)
            a.assert_holds(rows)
            b.assert_holds(rows)
            total += len(rows)
        return total


def summary(gaps: list[float]) -> str:
    p50 = gaps[len(gaps) // 2]
    p99 = gaps[int(len(gaps) * 0.99)]
    return f"{len(gaps)} messages, delivery p50 {p50:.3f} s, p99 {p99:.3f} s, max {gaps[-1]:.3f} s"
