"""The load client: asyncio + websockets, open loop.

Every send has a scheduled time and latency counts from it, so a server that falls behind
cannot hide it (no coordinated omission). Writers are spread evenly over the send interval.
Deliveries are counted per client_id at the recipient's socket, so lost and duplicated
messages show up; the caller reconciles the sent ids with the database afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


@dataclass(frozen=True)
class Account:
    user_id: int
    username: str
    session_key: str
    chat_id: int


@dataclass(frozen=True)
class Target:
    """Where sockets connect: the product (session cookie) or the floor (`?chats=`)."""

    kind: str  # "product", "floor" or "relay"
    ports: tuple[int, ...]
    host: str = "127.0.0.1"
    cookie_name: str = "sessionid"

    def request(self, account: Account, index: int) -> tuple[str, str, dict[str, str]]:
        port = self.ports[index % len(self.ports)]
        origin = f"http://{self.host}:{port}"
        if self.kind != "product":  # the floor and the Channels relay: no auth, `?chats=`
            return f"ws://{self.host}:{port}/ws/?chats={account.chat_id}", origin, {}
        headers = {"Cookie": f"{self.cookie_name}={account.session_key}"}
        return f"ws://{self.host}:{port}/ws/", origin, headers


@dataclass
class Tally:
    """What the load client saw, keyed by client_id."""

    token: str
    sent: dict[str, tuple[float, int]] = field(default_factory=dict)  # id -> (scheduled, conn)
    counted: set[str] = field(default_factory=set)  # ids whose latency is measured
    delivered: Counter[str] = field(default_factory=Counter)
    echoed: Counter[str] = field(default_factory=Counter)
    acked: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    scheduled: list[float] = field(default_factory=list)  # each latency's send time
    ack_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    other_frames: Counter[str] = field(default_factory=Counter)
    last_delivery: float = 0.0
    started: float = 0.0
    span: float = 0.0

    def summary(self) -> dict[str, Any]:
        sent = set(self.sent)
        delivered = set(self.delivered) & sent
        elapsed = max(self.last_delivery - self.started, self.span, 1e-9)
        return {
            "delivered_rate": round(len(delivered) / elapsed, 1),
            "sent": len(sent),
            "delivered": len(delivered),
            "lost": len(sent - delivered),
            "duplicated": sum(n - 1 for cid, n in self.delivered.items() if n > 1 and cid in sent),
            "unexpected": len(set(self.delivered) - sent),
            "echo_lost": len(sent - set(self.echoed)),
            "echo_duplicated": sum(n - 1 for n in self.echoed.values() if n > 1),
            "acked": len(set(self.acked) & sent),
            "acked_not_delivered": len((set(self.acked) & sent) - delivered),
            "ack_duplicated": sum(n - 1 for n in self.acked.values() if n > 1),
            "errors": dict(self.errors),
            "latency_ms": percentiles(self.latencies_ms),
            "ack_latency_ms": percentiles(self.ack_ms),
            "worst_seconds": self.worst_seconds(),
            "frames": dict(self.other_frames),
        }

    def worst_seconds(self, count: int = 3) -> list[dict[str, float]]:
        """The one-second windows (by send time, from the first send) with the highest
        p99: whether a tail is spread over the run or comes from a few bursts."""
        if not self.scheduled:
            return []
        first = min(self.scheduled)
        windows: dict[int, list[float]] = {}
        for at, latency in zip(self.scheduled, self.latencies_ms, strict=True):
            windows.setdefault(int(at - first), []).append(latency)
        rows = [
            {"second": second, "n": len(values), **percentiles(values)}
            for second, values in windows.items()
        ]
        rows.sort(key=lambda row: row["p99"], reverse=True)
        return [{k: row[k] for k in ("second", "n", "p50", "p99", "max")} for row in rows[:count]]


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {
        "n": len(ordered),
        "p50": pick(0.50),
        "p90": pick(0.90),
        "p99": pick(0.99),
        "p999": pick(0.999),
        "max": round(ordered[-1], 3),
        "mean": round(sum(ordered) / len(ordered), 3),
    }


class Conn:
    """One socket of one account; its reader feeds the shared tally."""

    def __init__(self, index: int, account: Account, ws: ClientConnection, hello: dict) -> None:
        self.index = index
        self.account = account
        self.ws = ws
        self.hello = hello
        self.tally: Tally | None = None
        self.reader = asyncio.ensure_future(self.read())

    async def read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                tally = self.tally
                if tally is not None:
                    self.handle(tally, json.loads(raw), time.perf_counter())

    def handle(self, tally: Tally, frame: dict[str, Any], now: float) -> None:
        kind = frame.get("type")
        if kind == "message":
            client_id = frame["message"].get("client_id")
            entry = tally.sent.get(client_id)
            if entry is None:
                tally.delivered[client_id] += 1  # not ours: counted as unexpected
                return
            if entry[1] == self.index:
                tally.echoed[client_id] += 1
                return
            tally.delivered[client_id] += 1
            if tally.delivered[client_id] == 1:
                tally.last_delivery = now
                if client_id in tally.counted:
                    tally.latencies_ms.append((now - entry[0]) * 1000)
                    tally.scheduled.append(entry[0])
        elif kind == "ack":
            client_id = frame.get("client_id")
            tally.acked[client_id] += 1
            entry = tally.sent.get(client_id)
            if entry is not None and tally.acked[client_id] == 1 and client_id in tally.counted:
                tally.ack_ms.append((now - entry[0]) * 1000)
        elif kind == "error":
            tally.errors[frame.get("code", "?")] += 1
        else:
            tally.other_frames[str(kind)] += 1

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(BaseException):
            await self.reader


@dataclass
class ConnectResult:
    conns: list[Conn]
    seconds: float
    refused: Counter[str]
    connect_ms: dict[str, float]
    extensions: str


async def open_one(target: Target, account: Account, index: int, timeout: float) -> Conn:
    url, origin, headers = target.request(account, index)
    ws = await connect(
        url,
        origin=origin,  # type: ignore[arg-type]
        additional_headers=headers,
        ping_interval=None,
        open_timeout=timeout,
        max_size=None,
        max_queue=None,
    )
    try:
        first = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    except Exception:
        await ws.close()
        raise
    if first.get("type") != "hello":
        await ws.close()
        raise ConnectionError(f"first frame was {first.get('type')!r}, not hello")
    return Conn(index, account, ws, first)


async def open_many(
    target: Target,
    accounts: list[Account],
    *,
    concurrency: int = 500,
    timeout: float = 60.0,
    first_index: int = 0,
    cap_seconds: float | None = None,
) -> ConnectResult:
    """Open one socket per account (at most `concurrency` handshakes in flight).

    With `cap_seconds`, handshakes not started by then are skipped (counted as refused
    with the reason "not attempted"), so a slow server cannot stall the whole run.
    """
    gate = asyncio.Semaphore(concurrency)
    cap = None if cap_seconds is None else time.perf_counter() + cap_seconds
    refused: Counter[str] = Counter()
    times: list[float] = []

    async def one(i: int, account: Account) -> Conn | None:
        async with gate:
            started = time.perf_counter()
            if cap is not None and started > cap:
                refused["not attempted (time cap)"] += 1
                return None
            try:
                conn = await open_one(target, account, first_index + i, timeout)
            except Exception as exc:
                refused[type(exc).__name__ + ": " + str(exc)[:60]] += 1
                return None
            times.append((time.perf_counter() - started) * 1000)
            return conn

    started = time.perf_counter()
    results = await asyncio.gather(*(one(i, a) for i, a in enumerate(accounts)))
    seconds = time.perf_counter() - started
    conns = [c for c in results if c is not None]
    extensions = ""
    if conns and conns[0].ws.response is not None:
        extensions = conns[0].ws.response.headers.get("Sec-WebSocket-Extensions", "") or "none"
    return ConnectResult(conns, seconds, refused, percentiles(times), extensions)


async def close_all(conns: list[Conn]) -> None:
    await asyncio.gather(*(c.close() for c in conns))


async def drive(
    conns: list[Conn],
    *,
    writers: list[Conn],
    rate: float,
    duration: float,
    warmup: float,
    token: str,
    drain: float = 10.0,
) -> Tally:
    """Send at `rate` msg/s in total for warmup + duration seconds, then wait for deliveries.

    Writer w of n sends its j-th message at t0 + (j * n + w) / rate, so sends are evenly
    spaced overall; latency is measured from that scheduled time.
    """
    tally = Tally(token)
    for conn in conns:
        conn.tally = tally
    # A collector pause in the load client would count as server latency: none during a run.
    gc.collect()
    gc.disable()
    try:
        await _drive(tally, writers, rate=rate, duration=duration, warmup=warmup, drain=drain)
    finally:
        gc.enable()
        for conn in conns:
            conn.tally = None
    return tally


async def _drive(
    tally: Tally, writers: list[Conn], *, rate: float, duration: float, warmup: float, drain: float
) -> None:
    token = tally.token
    n = len(writers)
    t0 = time.perf_counter() + 0.2
    tally.started, tally.span = t0, warmup + duration
    end = t0 + warmup + duration
    measure_from = t0 + warmup

    async def writer(w: int, conn: Conn) -> None:
        j = 0
        while True:
            at = t0 + (j * n + w) / rate
            if at >= end:
                return
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            client_id = f"{token}-{w}-{j}"
            tally.sent[client_id] = (at, conn.index)
            if at >= measure_from:
                tally.counted.add(client_id)
            frame = {
                "type": "send",
                "chat": conn.account.chat_id,
                "client_id": client_id,
                "body": f"bench message {j} from writer {w}",
            }
            try:
                await conn.ws.send(json.dumps(frame, separators=(",", ":")))
            except Exception:
                tally.errors["send_failed"] += 1
                return
            j += 1

    await asyncio.gather(*(writer(w, c) for w, c in enumerate(writers)))
    deadline = time.perf_counter() + drain
    while time.perf_counter() < deadline:
        done = len(tally.acked) >= len(tally.sent) and all(
            tally.delivered[cid] for cid in tally.sent
        )
        if done:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # let late duplicates arrive before counting
