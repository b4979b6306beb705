"""The benchmark tools work on tiny inputs: correctness only, no timing assertions."""

from __future__ import annotations

import contextlib
import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from websockets.asyncio.server import serve

from accounts.models import SessionRecord, User
from bench import floor, seed
from bench.client import Account, Target, close_all, drive, open_many, percentiles
from bench.live import cpu_per_message, passes_b3, reconcile
from chats import services
from chats.models import Chat, Membership, Message
from tests.chats.conftest import Socket


def accounts_for(chat_ids):
    return [
        Account(user_id=i, username=f"u{i}", session_key="", chat_id=chat)
        for i, chat in enumerate(c for c in chat_ids for _ in range(2))
    ]


async def run_against(handler, accounts, *, rate=200, duration=0.2, one_way=False):
    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        opened = await open_many(Target("floor", (port,)), accounts)
        assert not opened.refused
        writers = opened.conns[::2] if one_way else opened.conns
        tally = await drive(
            opened.conns,
            writers=writers,
            rate=rate,
            duration=duration,
            warmup=0.0,
            token="t",
            drain=3.0,
        )
        await close_all(opened.conns)
    return tally


async def test_floor_relays_every_message_once_to_the_peer_and_acks_the_sender():
    tally = await run_against(floor.relay, accounts_for([1, 2]))
    summary = tally.summary()
    assert summary["sent"] > 0
    assert summary["delivered"] == summary["sent"]
    assert summary["acked"] == summary["sent"]
    assert (summary["lost"], summary["duplicated"], summary["echo_lost"]) == (0, 0, 0)
    assert summary["latency_ms"]["n"] == summary["sent"]


async def test_floor_keeps_chats_apart():
    tally = await run_against(floor.relay, accounts_for([1, 2, 3]), one_way=True)
    # Each message reaches exactly its own chat's other socket: none unexpected, none twice.
    assert tally.summary()["unexpected"] == 0
    assert tally.summary()["duplicated"] == 0
    assert tally.summary()["delivered"] == tally.summary()["sent"]


def sequence_number(client_id):
    return int(client_id.rsplit("-", 1)[1])


async def faulty_relay(ws):
    """Acks everything, drops the peer's copy of every 3rd message, doubles every 4th."""
    peers = faulty_relay.sockets
    peers.append(ws)
    await ws.send(json.dumps({"type": "hello"}))
    async for text in ws:
        frame = json.loads(text)
        client_id = frame["client_id"]
        message = {"chat": frame["chat"], "client_id": client_id}
        await ws.send(json.dumps({"type": "ack", "client_id": client_id, "message": message}))
        j = sequence_number(client_id)
        copies = 0 if j % 3 == 0 else 2 if j % 4 == 1 else 1
        for other in peers:
            if other is not ws:
                for _ in range(copies):
                    await other.send(json.dumps({"type": "message", "message": message}))


async def test_load_client_counts_lost_and_duplicated_messages_exactly():
    faulty_relay.sockets = []
    tally = await run_against(faulty_relay, accounts_for([1]), rate=100, duration=0.3, one_way=True)
    sent = [sequence_number(cid) for cid in tally.sent]
    dropped = sum(1 for j in sent if j % 3 == 0)
    doubled = sum(1 for j in sent if j % 3 != 0 and j % 4 == 1)
    summary = tally.summary()
    assert len(sent) > 12
    assert summary["lost"] == dropped
    assert summary["duplicated"] == doubled
    assert summary["delivered"] == len(sent) - dropped
    assert summary["acked"] == len(sent)
    assert summary["acked_not_delivered"] == dropped


def test_percentiles_pick_ranks():
    stats = percentiles([float(v) for v in range(1, 101)])
    assert (stats["n"], stats["p50"], stats["p99"], stats["max"]) == (100, 51.0, 100.0, 100.0)
    assert percentiles([]) == {}


def test_b3_step_passes_only_when_everything_arrived_in_time():
    ok = {"lost": 0, "duplicated": 0, "latency_ms": {"p99": 12.0}}
    assert passes_b3(ok)
    assert not passes_b3({**ok, "lost": 1})
    assert not passes_b3({**ok, "latency_ms": {"p99": 50.5}})


@pytest.mark.django_db
def test_seeding_makes_users_chats_messages_and_sessions_that_log_in():
    ids = seed.seed_users(["seed_a", "seed_b", "seed_c"])
    chats = seed.seed_chats([(ids[0], ids[1]), (ids[2], ids[0])])
    seed.seed_messages(chats[0], (ids[0], ids[1]), 25, tag="x")
    keys = seed.seed_sessions(ids)

    user = User.objects.get(username="seed_a")
    assert user.check_password(seed.PASSWORD)
    assert User.objects.filter(pk__in=ids).count() == 3
    assert Membership.objects.filter(chat_id__in=chats).count() == 4
    chat = Chat.objects.get(pk=chats[0])
    assert chat.last_seq == 25
    assert list(
        Message.objects.filter(chat=chat).values_list("seq", flat=True).order_by("seq")
    ) == (list(range(1, 26)))
    assert Chat.objects.get(pk=chats[1]).user_low_id == ids[0]  # pairs are stored ordered
    session = SessionStore(session_key=keys[user.pk])
    assert session[SESSION_KEY] == str(user.pk)
    # Each with the record a login writes.
    records = SessionRecord.objects.filter(session_id__in=keys.values())
    assert dict(records.values_list("user_id", "session_id")) == keys
    # New rows get fresh ids after the bulk insert (sequences were reset).
    assert User.objects.create(username="after_seed").pk > max(ids)


@pytest.mark.django_db(transaction=True)
async def test_a_seeded_session_opens_the_real_socket():
    ids = await sync_to_async(seed.seed_users)(["sock_a", "sock_b"])
    chats = await sync_to_async(seed.seed_chats)([(ids[0], ids[1])])
    keys = await sync_to_async(seed.seed_sessions)(ids)
    user = await User.objects.aget(pk=ids[0])
    sock = Socket(user, session_key=keys[ids[0]])
    connected, _code = await sock.connect()
    assert connected
    assert sock.hello["user"] == "sock_a"
    assert [c["id"] for c in sock.hello["chats"]] == chats
    await sock.close()


@pytest.mark.django_db
def test_reconcile_compares_sent_acked_and_stored():
    ids = seed.seed_users(["rec_a", "rec_b"])
    (chat,) = seed.seed_chats([(ids[0], ids[1])])
    sender = User.objects.get(pk=ids[0])
    from bench.client import Tally

    tally = Tally("tok")
    for n in range(3):
        services.message_send(sender=sender, chat_id=chat, client_id=f"tok-0-{n}", body="hi")
        tally.sent[f"tok-0-{n}"] = (0.0, 0)
        tally.acked[f"tok-0-{n}"] += 1
    tally.sent["tok-0-9"] = (0.0, 0)  # sent, never stored
    result = reconcile(tally)
    assert result == {
        "stored": 3,
        "sent_not_stored": 1,
        "acked_not_stored": 0,
        "stored_not_acked": 0,
        "chats_with_seq_gaps": 0,
    }


@pytest.mark.django_db(transaction=True)  # Channels closes old DB connections per event
async def test_channels_relay_delivers_within_the_chat_only():
    from channels.testing import WebsocketCommunicator

    from bench.relay_asgi import application as relay

    a = WebsocketCommunicator(relay, "/ws/?chats=7")
    b = WebsocketCommunicator(relay, "/ws/?chats=7")
    other = WebsocketCommunicator(relay, "/ws/?chats=8")
    for comm in (a, b, other):
        connected, _ = await comm.connect()
        assert connected
        assert (await comm.receive_json_from())["type"] == "hello"
    await a.send_json_to({"type": "send", "chat": 7, "client_id": "r-0-0", "body": "hi"})
    assert (await a.receive_json_from())["type"] == "ack"
    assert (await a.receive_json_from())["message"]["client_id"] == "r-0-0"
    assert (await b.receive_json_from())["message"]["client_id"] == "r-0-0"
    assert await other.receive_nothing(timeout=0.2)
    await a.send_json_to({"type": "send", "chat": 8, "client_id": "r-0-1", "body": "no"})
    assert await other.receive_nothing(timeout=0.2)  # a is not in chat 8
    for comm in (a, b, other):
        await comm.disconnect()


def test_plan_reader_flags_sequential_and_filter_only_index_scans():
    from bench.plans import full_scan

    seq = "Limit\n  ->  Parallel Seq Scan on accounts_user\n        Filter: (x)"
    walk = (
        "Limit\n  ->  Index Scan using accounts_user_ci on accounts_user\n"
        "        Filter: (upper((username)::text) ~~ 'AB%'::text)"
    )
    seek = (
        "Limit\n  ->  Index Scan using accounts_user_ci on accounts_user\n"
        "        Index Cond: ((lower(username) >= 'ab') AND (lower(username) < 'ac'))\n"
        "  ->  Seq Scan on chats_chat"
    )
    assert full_scan(seq, "accounts_user", "postgresql")
    assert full_scan(walk, "accounts_user", "postgresql")
    assert not full_scan(seek, "accounts_user", "postgresql")
    assert full_scan("SCAN accounts_user USING INDEX ci", "accounts_user", "sqlite")
    assert not full_scan(
        "SEARCH accounts_user USING INDEX ci (username>?)", "accounts_user", "sqlite"
    )
    assert full_scan("SCAN chats_message", "chats_message", "sqlite")
    fts = "SCAN chats_message_fts VIRTUAL TABLE INDEX 0:M1"
    assert not full_scan(fts, "chats_message", "sqlite")  # the FTS5 table, not the messages


def test_servers_stay_off_the_load_clients_cores_after_it_pins_itself():
    import os
    import subprocess
    import sys

    from bench import config, server

    before = os.sched_getaffinity(0)
    priority = os.getpriority(os.PRIO_PROCESS, 0)
    config.cpu_split.cache_clear()
    try:
        server_cores, client_cores = config.cpu_split()
        assert server.pin_self_to_client_cores() == client_cores
        assert os.sched_getaffinity(0) == set(client_cores)
        # Asked after the pinning, the split is still the one from before it.
        cmd = server._pin(["uvicorn"])
        assert cmd == ["taskset", "-c", ",".join(map(str, server_cores)), "uvicorn"]
        assert not set(server_cores) & set(client_cores)
        # The client yields to PostgreSQL and Redis on its cores; servers do not inherit it.
        assert os.getpriority(os.PRIO_PROCESS, 0) == max(server.CLIENT_NICE, priority)
        show = [sys.executable, "-c", "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"]
        child = subprocess.run(
            show, capture_output=True, text=True, check=True, preexec_fn=server._normal_priority
        )
        assert int(child.stdout) == (0 if os.geteuid() == 0 else max(server.CLIENT_NICE, priority))
    finally:
        os.sched_setaffinity(0, before)
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, 0, priority)
        config.cpu_split.cache_clear()


def test_cpu_per_message_is_server_cpu_over_messages_delivered():
    assert cpu_per_message(2.0, 2000) == 1.0  # ms per message
    assert cpu_per_message(0.3, 2000) == 0.15
    assert cpu_per_message(1.0, 0) is None


def test_unpinned_rows_serve_with_the_production_command_of_docs_deploy():
    from bench import config, server

    text = (config.ROOT / "docs" / "deploy.md").read_text()
    block = text.split("## Choosing the server", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    documented = block.replace("\\\n", " ").split()
    cmd = server.deployed_command("chatsite.asgi:application", 8001)
    assert cmd[0].endswith("/uvicorn")
    assert ["uvicorn", *cmd[1:]] == documented
    # And nothing pins it: no taskset in front, whatever the split of cores.
    assert server._pin(cmd, pinned=False) == cmd


def test_unpinned_rows_run_the_channels_relay_beside_the_floor_and_the_product():
    """B2u and B5u measure the relay unpinned too, so each unpinned row says whether the
    fixed part of the stack alone carries its load as people run it."""
    from bench.config import Config
    from bench.live import Live, Plan

    live = Live(Config(), "postgres://unused", Plan.quick(), accounts_for(range(200)))
    seen = []

    def record(name, *_args, kinds=("floor", "product"), **_kwargs):
        seen.append((name, kinds, live.pinned))
        return {}

    live.repeated = lambda name, *args, **kwargs: record(name, *args, **kwargs)
    live.storms = lambda name, kinds: record(name, kinds=kinds)
    b2u, b5u = live.b2u(), live.b5u()
    everything = ("floor", "product", "relay")
    assert seen == [("B2u", everything, False), ("B5u", everything, False)]
    assert live.pinned  # back to pinned for the rows after
    assert "client" in b2u and "server_command" in b5u


def test_b10_measures_each_query_and_keeps_the_page_statements_plan(db):
    from bench import search_queries
    from bench.plans import index_used

    out = search_queries.b10(user_messages=1000, total=1000, runs=3)
    assert out["messages_total"] == 1000 and out["user_messages"] == 1000
    queries = out["queries"]
    # Three runs; the one kept whole is the one with the median worst p99.
    assert len(out["repetitions"]) == 3
    kept = max(q["latency_ms"]["p99"] for q in queries.values())
    assert kept == sorted(out["repetitions"])[1]
    assert set(queries) == set(search_queries.QUERIES)
    assert queries["common word"]["results"] == 20
    assert queries["rare word"]["results"] == 1  # message 0 carries the rare word
    for measured in queries.values():
        assert measured["latency_ms"]["n"] == 3
        # The last plan is the page's statement, the one that reads the message table.
        page = measured["plans"][-1].split("\n--\n", 1)[-1]
        assert index_used(page, "chats_message", out["vendor"]) != ""
