"""scripts/rolling-restart.sh against two real processes while a conversation goes on: one
process at a time, each after the one before answers /readyz, and no message lost or
doubled. The test plays systemd: a process that exits is started again (Restart=always)."""

import asyncio
import contextlib
import time

import pytest

from tests.chats.live import ROOT, redis_url_for_processes
from tests.faults.infra import RETRY, assert_all_hold, conversation

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


async def supervise(servers, pid_dir, restarts):
    """Restart a server whose process exited, as systemd's Restart=always does."""
    while True:
        for server in servers:
            (pid_dir / f"pid-{server.port}").write_text(str(server.process.pid))
            if server.process.poll() is not None:
                await asyncio.to_thread(server.restart)
                restarts.append((server.port, time.monotonic()))
        await asyncio.sleep(0.05)


async def follow(member, server):
    """Read the member's frames as a browser does, reconnecting (and syncing) after a close:
    a socket nobody reads stops reading its TCP stream, close frame included."""
    while True:
        try:
            if not member.open:
                await member.connect(server)
            await member.recv(timeout=60)
        except RETRY:
            await member.drop()
            await asyncio.sleep(0.2)


async def test_rolling_restart_takes_one_process_at_a_time_and_loses_nothing(
    cluster_factory, database_url, tmp_path
):
    cluster = cluster_factory(redis_url_for_processes(), DRAIN_SECONDS="1")
    seed = cluster.seed("alice", "bob")
    one, two = cluster.start(), cluster.start()
    restarts = []
    supervisor = asyncio.ensure_future(supervise([one, two], tmp_path, restarts))
    try:
        async with conversation(seed, one, two) as (alice, bob):
            reader = asyncio.ensure_future(follow(bob, two))
            script = await asyncio.create_subprocess_exec(
                "bash",
                str(ROOT / "scripts" / "rolling-restart.sh"),
                str(one.port),
                str(two.port),
                env={
                    "PATH": "/usr/bin:/bin",
                    "RESTART_COMMAND": f"kill -TERM $(cat {tmp_path}/pid-{{port}})",
                    "SETTLE": "0.5",
                    "READY_TIMEOUT": "60",
                },
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            sent = 0
            while script.returncode is None and sent < 400:
                await alice.send_until_acked(one, f"during the restart {sent}")
                sent += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(script.wait(), 0.02)
            output = (await script.communicate())[0].decode()
            assert script.returncode == 0, output
            await alice.send_until_acked(one, "after the restart")
            reader.cancel()
            # Wait for it to end: a reader still inside recv() would race the sync below.
            await asyncio.wait([reader], timeout=10)
            await bob.connect(two)  # and sync
            await alice.recover(one)
            rows = assert_all_hold(database_url, alice, bob)
            assert len(rows) == sent + 1
            print(f"{sent} messages sent during the rolling restart")
    finally:
        supervisor.cancel()
    # One at a time, in order: the second was signalled only after the first was back.
    lines = [line for line in output.splitlines() if line.startswith("rolling-restart: ")]
    assert lines == [
        f"rolling-restart: restarting the process on port {one.port}",
        f"rolling-restart: port {one.port} is ready",
        f"rolling-restart: restarting the process on port {two.port}",
        f"rolling-restart: port {two.port} is ready",
        "rolling-restart: done (2 processes)",
    ]
    assert [port for port, _ in restarts] == [one.port, two.port]


async def test_rolling_restart_stops_when_a_process_does_not_come_back(tmp_path):
    script = await asyncio.create_subprocess_exec(
        "bash",
        str(ROOT / "scripts" / "rolling-restart.sh"),
        "1",  # nothing listens on port 1: never ready
        "2",
        env={
            "PATH": "/usr/bin:/bin",
            "RESTART_COMMAND": f"echo {{port}} >> {tmp_path}/restarted",
            "READY_TIMEOUT": "1",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await script.communicate())[0].decode()
    assert script.returncode == 1, output
    assert "port 1 not ready after 1s; stopping here" in output
    assert (tmp_path / "restarted").read_text() == "1\n"  # the second was left alone
