"""Floods of the frames that had no budget (issue 21), on a real daphne: 200 `sync` frames of
a chat of 500 messages of 4,000 characters over 10 sockets, then 2,000 `read` frames. With
the budgets the server answers most with `rate_limited`: the bytes sent, the server's CPU and
another user's send-to-ack time stay small."""

import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.fault, pytest.mark.live, pytest.mark.django_db(transaction=True)]

SOCKETS = 10
# CHATSITE_FLOOD_NO_BUDGET=1 lifts the budgets, to measure what they save.
BUDGETS = (
    {"SYNC_RATE": "100000/10", "READ_RATE": "100000/10"}
    if os.environ.get("CHATSITE_FLOOD_NO_BUDGET")
    else {}
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drain(ws, replies):
    """Read until `replies` answers (synced or error frames) have come; the bytes read."""
    total = 0
    while replies:
        raw = await asyncio.wait_for(ws.recv(), 30)
        total += len(raw.encode())
        if json.loads(raw)["type"] in {"synced", "error"}:
            replies -= 1
    return total


async def test_sync_and_read_floods_are_budgeted(cluster_factory, capsys):
    cluster = cluster_factory(SEND_RATE_BURST="100000", **BUDGETS)
    data = cluster.run_seed("tests.faults.big_chat_seed")
    srv = cluster.start()
    pid, users, chat = srv.process.pid, data["users"], data["chat"]
    carol = await srv.connect(users["carol"]["session"])
    sockets = [await srv.connect(users["alice"]["session"]) for _ in range(SOCKETS)]

    async def acks(stop):
        times = []
        while not stop.is_set():
            start = time.monotonic()
            await carol.send_message(data["other_chat"], "ping")
            times.append((time.monotonic() - start) * 1000)
            await asyncio.sleep(0.05)
        return times

    stop = asyncio.Event()
    pinger = asyncio.ensure_future(acks(stop))
    cpu = cpu_seconds(pid)
    started = time.monotonic()
    for s in sockets:
        for _ in range(200 // SOCKETS):
            await s.send({"type": "sync", "chat": chat, "after": 0})
    sent = sum(await asyncio.gather(*(drain(s.ws, 200 // SOCKETS) for s in sockets)))
    sync_cpu, sync_wall = cpu_seconds(pid) - cpu, time.monotonic() - started

    cpu = cpu_seconds(pid)
    for s in sockets:
        for seq in range(1, 2000 // SOCKETS + 1):
            await s.send({"type": "read", "chat": chat, "seq": seq})
    # A read has no reply: a sync after them on each socket marks the end.
    for s in sockets:
        await s.send({"type": "sync", "chat": data["other_chat"] + 1000, "after": 0})
    await asyncio.gather(*(drain(s.ws, 1) for s in sockets))
    read_cpu = cpu_seconds(pid) - cpu
    stop.set()
    times = await pinger
    for s in [*sockets, carol]:
        await s.close()
    with capsys.disabled():
        print(
            f"\n200 syncs: {sent / 1e6:.1f} MB sent, {sync_cpu:.2f} s CPU, {sync_wall:.1f} s; "
            f"2,000 reads: {read_cpu:.2f} s CPU; carol's ack median "
            f"{statistics.median(times):.1f} ms, max {max(times):.0f} ms ({len(times)} sends)"
        )
    # At most 20 syncs in any 10 s are answered (~2.1 MB each; a sliding window, so a burst
    # across a window's end gets no second share), and a flood slowed past 10 s by a busy
    # machine earns the next 10 s's too. 416 MB before the budget.
    assert sent < 2.2e6 * 20 * (1 + sync_wall / 10)
    assert read_cpu < 3
    assert statistics.median(times) < 500  # 530-810 ms before, for the whole flood
