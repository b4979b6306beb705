"""Live servers: real daphne processes and a real `websockets` client, on both backends."""

import asyncio
import uuid

import pytest

from tests.chats.live import redis_url_for_processes

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])  # docs/deploy.md offers both
async def test_two_users_chat_live_with_receipts(cluster_factory, server):
    cluster = cluster_factory(server=server)  # the embedded layer, or Redis when configured
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    chat = seed["chat"]
    alice = await server.connect(seed["users"]["alice"]["session"])
    bob = await server.connect(seed["users"]["bob"]["session"])
    try:
        assert alice.hello["user"] == "alice"
        assert [c["id"] for c in bob.hello["chats"]] == [chat]
        ack = await alice.send_message(chat, "hello bob")
        message, _ = await bob.recv_until("message")
        assert message["message"] == ack["message"]
        assert message["message"]["body"] == "hello bob"
        reply = await bob.send_message(chat, "hi alice")
        got, _ = await alice.recv_until(
            lambda f: f["type"] == "message" and f["message"]["seq"] == 2
        )
        assert got["message"]["id"] == reply["message"]["id"]
        await alice.send({"type": "read", "chat": chat, "seq": 2})
        read, _ = await bob.recv_until("read")
        assert read == {"type": "read", "chat": chat, "user": "alice", "seq": 2}
    finally:
        await alice.close()
        await bob.close()


async def test_reconnect_sync_and_resend_lose_and_duplicate_nothing(cluster_factory):
    cluster = cluster_factory()
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    chat = seed["chat"]
    alice = await server.connect(seed["users"]["alice"]["session"])
    bob = await server.connect(seed["users"]["bob"]["session"])
    await alice.send_message(chat, "one")
    await bob.recv_until("message")
    await bob.close()
    sent = [await alice.send_message(chat, f"missed {i}") for i in range(3)]
    # A resend after a lost ack gets the original ack back.
    again = await alice.send_message(chat, "missed 2", client_id=sent[-1]["client_id"])
    assert again == sent[-1]
    bob = await server.connect(seed["users"]["bob"]["session"])
    try:
        entry = bob.hello["chats"][0]
        assert (entry["last_seq"], entry["unread"]) == (4, 4)
        await bob.send({"type": "sync", "chat": chat, "after": 1})
        synced, frames = await bob.recv_until("synced")
        assert [f["message"]["body"] for f in frames[:-1]] == ["missed 0", "missed 1", "missed 2"]
        assert synced == {"type": "synced", "chat": chat, "last_seq": 4, "more": False}
    finally:
        await alice.close()
        await bob.close()


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
async def test_concurrent_senders_in_four_tabs_get_gapless_seqs_in_order(cluster_factory, server):
    cluster = cluster_factory(server=server, SEND_RATE_BURST="100")
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    chat = seed["chat"]
    users = seed["users"]
    tabs = [
        await server.connect(users[name]["session"]) for name in ("alice", "alice", "bob", "bob")
    ]
    per_tab = 8
    total = per_tab * len(tabs)

    async def burst(tab, n):
        frames = [
            {"type": "send", "chat": chat, "client_id": str(uuid.uuid4()), "body": f"{n}-{i}"}
            for i in range(per_tab)
        ]
        for frame in frames:
            await tab.send(frame)
        # Every tab sees every message once, in seq order, and acks for its own.
        acks, seqs = [], []
        while len(acks) < per_tab or len(seqs) < total:
            frame = await tab.recv()
            if frame["type"] == "ack":
                acks.append(frame["message"]["seq"])
            elif frame["type"] == "message":
                seqs.append(frame["message"]["seq"])
            elif frame["type"] == "error":
                raise AssertionError(frame)
        return acks, seqs

    try:
        results = await asyncio.gather(*(burst(tab, n) for n, tab in enumerate(tabs)))
        all_acks = sorted(seq for acks, _ in results for seq in acks)
        assert all_acks == list(range(1, total + 1))
        for _, seqs in results:
            assert seqs == list(range(1, total + 1))
    finally:
        for tab in tabs:
            await tab.close()


async def test_two_processes_share_chat_presence_and_the_socket_limit(cluster_factory):
    cluster = cluster_factory(redis_url_for_processes())
    seed = cluster.seed("alice", "bob")
    one, two = cluster.start(), cluster.start()
    chat = seed["chat"]
    alice_session = seed["users"]["alice"]["session"]
    bob = await two.connect(seed["users"]["bob"]["session"])
    opened = [bob]
    try:
        assert bob.hello["chats"][0]["peer_status"] == "offline"
        # Alice on process one comes online for bob on process two.
        tab1 = await one.connect(alice_session)
        opened.append(tab1)
        presence, _ = await bob.recv_until("presence")
        assert (presence["user"], presence["status"]) == ("alice", "online")
        # Messages cross processes both ways.
        ack = await tab1.send_message(chat, "from process one")
        message, _ = await bob.recv_until("message")
        assert message["message"]["id"] == ack["message"]["id"]
        badge, _ = await bob.recv_until("unread")  # bob's unread badge, across processes
        assert (badge["chat"], badge["unread"], badge["unread_total"]) == (chat, 1, 1)
        await bob.send({"type": "read", "chat": chat, "seq": 1})
        badge, _ = await bob.recv_until("unread")
        assert (badge["unread"], badge["unread_total"]) == (0, 0)
        receipt, _ = await tab1.recv_until("read")  # alice's read receipt, across processes
        assert (receipt["user"], receipt["seq"]) == ("bob", 1)
        await bob.send_message(chat, "from process two")
        got, _ = await tab1.recv_until(
            lambda f: f["type"] == "message" and f["message"]["seq"] == 2
        )
        assert got["message"]["body"] == "from process two"
        badge, _ = await tab1.recv_until("unread")
        assert (badge["unread"], badge["unread_total"]) == (1, 1)
        # A second tab on process two; closing the first keeps alice online past the grace.
        tab2 = await two.connect(alice_session)
        opened.append(tab2)
        assert tab2.hello["chats"][0]["peer_status"] == "online"
        await tab1.close()
        await asyncio.sleep(3)  # PRESENCE_GRACE_SECONDS is 1 in the servers
        marker = await tab2.send_message(chat, "still here")
        _, frames = await bob.recv_until(
            lambda f: f["type"] == "message" and f["message"]["id"] == marker["message"]["id"]
        )
        assert [f for f in frames if f["type"] == "presence"] == []
        # The limit of 10 sockets counts across processes.
        tabs = [await (one if i % 2 else two).connect(alice_session) for i in range(9)]
        opened.extend(tabs)
        assert all(t.hello["type"] == "hello" for t in tabs)
        refused = await one.connect(alice_session)
        assert refused.hello["code"] == "too_many_sockets"
        await refused.ws.wait_closed()
        assert refused.ws.close_code == 4429
        # When every tab is closed, alice goes offline after the grace period.
        for tab in [tab2, *tabs]:
            await tab.close()
        presence, _ = await bob.recv_until("presence")
        assert (presence["user"], presence["status"]) == ("alice", "offline")
        assert presence["last_seen"].endswith("Z")
        fresh = await one.connect(seed["users"]["bob"]["session"])
        opened.append(fresh)
        entry = fresh.hello["chats"][0]
        assert entry["peer_status"] == "offline"
        assert entry["peer_last_seen"] == presence["last_seen"]
    finally:
        for client in opened:
            await client.close()
