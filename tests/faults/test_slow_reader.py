"""A client that never reads cannot grow the server's memory (issue 21): 250 `sync` frames of
a chat of 500 messages of 4,000 characters on one socket whose client reads nothing. The
socket's queued output stays under SOCKET_SEND_BUFFER (a sync waits for the previous reply to
be read), the socket is closed with 4408 once the client has not read for
SOCKET_DRAIN_SECONDS, on daphne and on uvicorn (whose own send waited for its transport to
drain, so only its pings closed the link, 30 s later), the server's RSS stays bounded, and
another user's sends are acked meanwhile."""

import asyncio
import json
import statistics
import time
from pathlib import Path

import pytest
import websockets

pytestmark = [pytest.mark.fault, pytest.mark.live, pytest.mark.django_db(transaction=True)]

SYNCS = 250


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def ack_ms(client, chat, n):
    times = []
    for _ in range(n):
        start = time.monotonic()
        await client.send_message(chat, "ping")
        times.append((time.monotonic() - start) * 1000)
    return times


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
async def test_a_socket_that_never_reads_stays_bounded_and_is_closed_4408(
    cluster_factory, server, capsys
):
    # The sync budget is lifted: the memory bound is under test, not the rate limit.
    cluster = cluster_factory(
        server=server,
        ping=("20", "30"),  # deploy/chatsite@.service's
        SYNC_RATE="100000/10",
        SOCKET_DRAIN_SECONDS="3",
        SEND_RATE_BURST="100000",
    )
    data = cluster.run_seed("tests.faults.big_chat_seed")
    srv = cluster.start()
    pid, users = srv.process.pid, data["users"]
    carol = await srv.connect(users["carol"]["session"])
    quiet = await ack_ms(carol, data["other_chat"], 10)

    # The attacker: a client that stops reading as soon as its buffer holds one frame.
    ws = await websockets.connect(
        f"ws://127.0.0.1:{srv.port}/ws/",
        origin=f"http://127.0.0.1:{srv.port}",
        additional_headers={"Cookie": f"sessionid={users['alice']['session']}"},
        max_queue=1,
        max_size=None,
        ping_interval=None,  # it answers no ping of the server's either
    )
    before = rss_mb(pid)
    for _ in range(SYNCS):
        await ws.send(json.dumps({"type": "sync", "chat": data["chat"], "after": 0}))
    peak, loud = before, []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        peak = max(peak, rss_mb(pid))
        loud += await ack_ms(carol, data["other_chat"], 1)
        await asyncio.sleep(0.1)
    after = rss_mb(pid)
    log = srv.log_path.read_text(errors="replace")

    # Reading now, the client finds its socket closed: 4408, or 1006 when the server dropped
    # the link after its close frame went unread.
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    code = ws.close_code
    with capsys.disabled():
        print(
            f"\n[{server}] RSS {before:.0f} MB -> peak {peak:.0f} MB -> {after:.0f} MB; "
            f"carol's ack median {statistics.median(quiet):.1f} ms quiet, "
            f"{statistics.median(loud):.1f} ms (max {max(loud):.0f}) under attack; "
            f"closed {code}"
        )
    await ws.close()
    await carol.close()
    assert "too slow: closed 4408" in log
    assert code in {4408, 1006}
    assert peak - before < 64, (before, peak)  # before the cap: +420 MB (issue 21)
    assert statistics.median(loud) < 200
