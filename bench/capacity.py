"""What one PostgreSQL primary and one Redis carry: the inputs of docs/scaling.md.

`python -m bench capacity` creates `<BENCH_DB_PREFIX>_cap`, migrates it, runs `capacity-run`
against it (Django set up, production-like settings) and drops it. That subprocess

- runs the product's send statement (`rules.send_one_chat_sql`, the statement the socket's
  send path runs per chat, chats/realtime/send_path.py) from 1, 2, 4 and 8 connections for a
  fixed time, single sends and batches of 10, each connection on its own chats as a busy
  site's senders are, and reads the CPU each backend spent from /proc/<pid>/schedstat
  (pg_stat_statements is not loaded on the benchmark machine);
- times Redis PUBLISH of a serialized `chat.message` event (its size from the layer's own
  `serialize`) with redis-benchmark: the single PUBLISH that `group_send` makes and the
  batched script that `group_send_many` runs (chatsite/layers.py), with 1 and 4 subscribers
  per channel, and reads the CPU redis-server spent from INFO.

Results go to bench/results/capacity.json. Each measurement waits while /tmp/BENCH_RUNNING
exists (another measurement is running on the machine).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg

BUSY_FLAG = Path("/tmp/BENCH_RUNNING")  # noqa: S108 (the lead's flag, a fixed path)
CHANNEL_PREFIX = "capacity."


def wait_for_quiet_machine() -> None:
    while BUSY_FLAG.exists():
        print("waiting: /tmp/BENCH_RUNNING exists", flush=True)
        time.sleep(30)


def cpu_ns(pid: int) -> int:
    """Nanoseconds `pid` has spent on a CPU (the scheduler's own count, not 10 ms ticks)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


# PostgreSQL: the send statement


@dataclass(frozen=True)
class Sender:
    user_id: int
    chat_id: int
    peer_id: int


def seed_senders(chats: int, *, chats_per_user: int = 1) -> list[Sender]:
    """`chats` one-to-one chats of fresh users; the sender of each is its first user.

    Each of those users is in `chats_per_user` chats in all (the others with users made
    for them): the send statement and the read mark sum a member's unread over every chat
    they are in."""
    from bench import seed

    users = seed.seed_users([f"cap{i}" for i in range(2 * chats)])
    pairs = [(users[2 * i], users[2 * i + 1]) for i in range(chats)]
    chat_ids = seed.seed_chats(pairs)
    extra = chats_per_user - 1
    if extra > 0:
        others = seed.seed_users([f"capo{i}" for i in range(extra)])
        seed.seed_chats([(user, other) for user in users for other in others], last_seq=5)
    seed.settle()
    return [Sender(low, chat, high) for (low, high), chat in zip(pairs, chat_ids, strict=True)]


@dataclass
class _Worker:
    conn: psycopg.Connection[Any]
    senders: list[Sender]
    name: str
    statements: int = 0
    messages: int = 0
    refused: int = 0


def _drive(worker: _Worker, batch: int, deadline: float, body: str) -> None:
    from django.utils import timezone

    from chats import rules

    sql = rules.send_one_chat_sql(batch)
    with worker.conn.cursor() as cursor:
        while time.perf_counter() < deadline:
            sender = worker.senders[worker.statements % len(worker.senders)]
            first = worker.messages
            sends = [(f"{worker.name}-{first + k}", body) for k in range(batch)]
            params = rules.send_one_chat_params(
                user_id=sender.user_id, chat_id=sender.chat_id, now=timezone.now(), sends=sends
            )
            cursor.execute(sql, params)
            if cursor.fetchall():
                worker.messages += batch
            else:
                worker.refused += 1
            worker.statements += 1


def send_statement(
    senders: list[Sender], *, url: str, connections: int, batch: int, seconds: float, body: str
) -> dict[str, Any]:
    """Run the send statement from `connections` connections (each on its own slice of
    `senders`, in autocommit as the send path does) for `seconds`."""
    conns = [psycopg.connect(url, autocommit=True) for _ in range(connections)]
    try:
        pids = [c.execute("SELECT pg_backend_pid()").fetchone()[0] for c in conns]  # type: ignore[index]
        tag = f"{time.monotonic_ns()}"
        workers = [
            _Worker(conn, senders[i::connections], f"cap-{tag}-{i}") for i, conn in enumerate(conns)
        ]
        cpu_before = sum(cpu_ns(pid) for pid in pids)
        wal_before = wal_bytes(conns[0])
        busy_before = machine_busy()
        started = time.perf_counter()
        threads = [
            threading.Thread(target=_drive, args=(w, batch, started + seconds, body))
            for w in workers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        busy_after = machine_busy()
        cpu = sum(cpu_ns(pid) for pid in pids) - cpu_before
        wal = wal_bytes(conns[0]) - wal_before
    finally:
        for conn in conns:
            conn.close()
    statements = sum(w.statements for w in workers)
    messages = sum(w.messages for w in workers)
    busy = busy_after[0] - busy_before[0]
    total = busy_after[1] - busy_before[1]
    return {
        "connections": connections,
        "batch": batch,
        "seconds": round(elapsed, 2),
        "statements": statements,
        "messages": messages,
        "refused": sum(w.refused for w in workers),
        "statements_per_s": round(statements / elapsed, 1),
        "messages_per_s": round(messages / elapsed, 1),
        "mean_ms": round(1000 * elapsed * connections / max(statements, 1), 3),
        "backend_cpu_ms_per_statement": round(cpu / 1e6 / max(statements, 1), 4),
        "backend_cpu_ms_per_message": round(cpu / 1e6 / max(messages, 1), 4),
        "backends_busy_cores": round(cpu / 1e9 / elapsed, 2),
        # The whole cluster's WAL: other databases' writes meanwhile count too.
        "wal_bytes_per_message": round(wal / max(messages, 1)),
        "machine_busy_pct": round(100 * busy / max(total, 1), 1),
    }


def wal_bytes(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    return int(row[0]) if row else 0


def receipts(senders: list[Sender], *, url: str, seconds: float, body: str) -> dict[str, Any]:
    """What follows a message on the database: the recipient's delivered pointer (written
    for a process's sockets together, `services.chats_mark_delivered`, here 20 a flush) and
    the read pointer when the chat is open (`services.chat_mark_read`, on Django's
    connection as the socket's workers run it). Rounds of 20 chats: a message each, their
    deliveries in one call, then each read; the backend CPU of each part apart."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from chats import rules, services

    users = User.objects.in_bulk([s.peer_id for s in senders])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        django_pid = cursor.fetchone()[0]
    sql = rules.send_one_chat_sql(1)
    cpu = {"send": 0, "delivered": 0, "read": 0}
    rounds = 0
    with psycopg.connect(url, autocommit=True) as conn:
        send_pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            chunk = [senders[(rounds * 20 + k) % len(senders)] for k in range(20)]
            before = cpu_ns(send_pid)
            seqs = []
            for sender in chunk:
                params = rules.send_one_chat_params(
                    user_id=sender.user_id,
                    chat_id=sender.chat_id,
                    now=timezone.now(),
                    sends=[(f"rc-{rounds}-{sender.chat_id}", body)],
                )
                seqs.append(conn.execute(sql, params).fetchall()[0][1])
            cpu["send"] += cpu_ns(send_pid) - before
            before = cpu_ns(django_pid)
            services.chats_mark_delivered(
                [
                    services.Delivery(users[s.peer_id], s.chat_id, seq, s.user_id)
                    for s, seq in zip(chunk, seqs, strict=True)
                ]
            )
            cpu["delivered"] += cpu_ns(django_pid) - before
            before = cpu_ns(django_pid)
            for s, seq in zip(chunk, seqs, strict=True):
                services.chat_mark_read(user=users[s.peer_id], chat_id=s.chat_id, seq=seq)
            cpu["read"] += cpu_ns(django_pid) - before
            rounds += 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        same = cursor.fetchone()[0] == django_pid
    messages = 20 * rounds
    return {
        "messages": messages,
        "same_django_backend": same,
        **{f"backend_cpu_ms_per_{k}": round(v / 1e6 / max(messages, 1), 4) for k, v in cpu.items()},
    }


# Redis: PUBLISH of the layer's payload


def event_payload(body: str) -> bytes:
    """A `chat.message` event as events.messages_created makes it, serialized by the
    configured channel layer, for a message stored by the send statement."""
    from channels.layers import get_channel_layer

    from chats import selectors
    from chats.models import Message

    message = Message.objects.select_related("sender").filter(body=body).first()
    if message is None:
        raise RuntimeError("no stored message to build the event from")
    event = {
        "type": "chat.message",
        "message": selectors.message_payload(message),
        "sender_id": message.sender_id,
        "unread": 3,
        "unread_total": 12,
        "committed_at": time.time(),
    }
    layer = get_channel_layer()
    if layer is None or not hasattr(layer, "serialize"):
        raise RuntimeError("the Redis channel layer is not configured (REDIS_URL)")
    return bytes(layer.serialize(event))


def redis_cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


_RPS = re.compile(r'"([^"]+)","([0-9.]+)"')


def redis_benchmark(
    redis_url: str,
    args: list[str],
    *,
    requests: int,
    clients: int,
    subscribers: int,
    channels: list[str],
) -> dict[str, Any]:
    """Run one redis-benchmark command with `subscribers` redis-cli SUBSCRIBErs per
    channel listening; its requests/s and redis-server's CPU per request."""
    import redis

    url = urlparse(redis_url)
    host, port = url.hostname or "127.0.0.1", str(url.port or 6379)
    client = redis.Redis(host=host, port=int(port))
    listeners = [
        subprocess.Popen(
            ["redis-cli", "-h", host, "-p", port, "SUBSCRIBE", *channels],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(subscribers)
    ]
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            counts = client.pubsub_numsub(*channels)
            if all(n >= subscribers for _, n in counts):
                break
            time.sleep(0.05)
        # Redis is shared with other work on the machine: its CPU while this run is idle.
        idle_before = redis_cpu(client)
        time.sleep(2)
        idle_rate = (redis_cpu(client) - idle_before) / 2
        cpu_before = redis_cpu(client)
        busy_before = machine_busy()
        started = time.perf_counter()
        out = subprocess.run(
            [
                "redis-benchmark",
                *("-h", host, "-p", port, "-n", str(requests), "-c", str(clients), "--csv"),
                *args,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        elapsed = time.perf_counter() - started
        cpu = redis_cpu(client) - cpu_before - idle_rate * elapsed
        busy_after = machine_busy()
        # A subscriber that fell too far behind is cut off by Redis (and then costs nothing).
        still = min(n for _, n in client.pubsub_numsub(*channels))
    finally:
        for listener in listeners:
            listener.terminate()
            listener.wait()
        client.close()
    match = _RPS.search(out.split("\n", 1)[1] if "\n" in out else out)
    rps = float(match.group(2)) if match else requests / elapsed
    busy = busy_after[0] - busy_before[0]
    total = busy_after[1] - busy_before[1]
    return {
        "requests": requests,
        "clients": clients,
        "subscribers_per_channel": subscribers,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(rps),
        "subscribers_at_end": still,
        "redis_idle_cpu_share": round(idle_rate, 3),
        "redis_cpu_s": round(cpu, 3),
        "redis_busy_cores": round(cpu / elapsed, 2),
        "redis_cpu_us_per_request": round(1e6 * cpu / requests, 2),
        "machine_busy_pct": round(100 * busy / max(total, 1), 1),
    }


def publish_runs(
    redis_url: str, payload: bytes, *, requests: int, batch: int, clients: int
) -> dict[str, Any]:
    """Single PUBLISH and the layer's batched script (`batch` publishes a call), each with
    1 and 4 subscribers per channel. redis-benchmark takes its arguments from argv, which
    cannot carry the payload's bytes, so the payload is as many printable bytes."""
    import redis

    from chatsite.layers import _PUBLISH

    filler = "x" * len(payload)
    channels = [f"{CHANNEL_PREFIX}{os.getpid()}.{k}" for k in range(batch)]
    url = urlparse(redis_url)
    sha = redis.Redis(host=url.hostname or "127.0.0.1", port=url.port or 6379).script_load(
        _PUBLISH.text
    )
    out: dict[str, Any] = {
        "payload_bytes": len(payload),
        "batch": batch,
        "clients": clients,
        "runs": [],
    }
    for subscribers in (1, 4):
        for kind, args, count in (
            ("PUBLISH", ["PUBLISH", channels[0], filler], requests),
            (
                f"script x{batch}",
                ["EVALSHA", sha, str(batch), *channels, *([filler] * batch)],
                3 * requests // batch,
            ),
        ):
            wait_for_quiet_machine()
            run = redis_benchmark(
                redis_url,
                args,
                requests=count,
                clients=clients,
                subscribers=subscribers,
                channels=channels if kind != "PUBLISH" else channels[:1],
            )
            per = 1 if kind == "PUBLISH" else batch
            run.update(
                kind=kind,
                publishes_per_s=run["requests_per_s"] * per,
                redis_cpu_us_per_publish=round(run["redis_cpu_us_per_request"] / per, 3),
            )
            print(f"redis {kind} subs={subscribers}: {run}", flush=True)
            out["runs"].append(run)
    return out


def run(
    *,
    seconds: float,
    connections: list[int],
    batches: list[int],
    chats: int,
    chats_per_user: int = 1,
    redis: bool = True,
) -> dict[str, Any]:
    """Every measurement (Django set up, DATABASE_URL a fresh migrated database)."""
    from django.conf import settings

    body = "On my way, see you at the station in ten minutes - bring the tickets please!"
    url = os.environ["DATABASE_URL"]
    senders = seed_senders(chats, chats_per_user=chats_per_user)
    out: dict[str, Any] = {
        "seconds": seconds,
        "chats": chats,
        "chats_per_user": chats_per_user,
        "body_chars": len(body),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }
    with psycopg.connect(url) as conn:
        settings_rows = conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('synchronous_commit', 'fsync', 'shared_buffers', 'wal_level', 'server_version')"
        ).fetchall()
    out["pg_settings"] = dict(settings_rows)
    out["pg"] = []
    for batch in batches:
        for n in connections:
            wait_for_quiet_machine()
            result = send_statement(
                senders, url=url, connections=n, batch=batch, seconds=seconds, body=body
            )
            print(f"pg batch={batch} connections={n}: {result}", flush=True)
            out["pg"].append(result)
    wait_for_quiet_machine()
    out["receipts"] = receipts(senders, url=url, seconds=seconds, body=body)
    print(f"pg receipts: {out['receipts']}", flush=True)
    if not redis:
        return out
    redis_url = settings.REDIS_URL
    payload = event_payload(body)
    if shutil.which("redis-benchmark") is None:
        out["redis"] = "redis-benchmark is not installed (apt-get install redis-tools)"
        return out
    out["redis"] = publish_runs(redis_url, payload, requests=600_000, batch=10, clients=8)
    out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    return out
