"""Real daphne processes with real failures: a lost ack, Redis dying (and coming back empty),
daphne killed with SIGKILL. No acked message is ever missing or shown twice."""

import asyncio
import uuid

import pytest

from tests.faults.infra import assert_all_hold, conversation, log_of, until_delivered_live

pytestmark = [pytest.mark.live, pytest.mark.fault, pytest.mark.django_db(transaction=True)]


async def test_resend_after_a_lost_ack_stores_one_row_and_returns_the_original_ack(
    cluster_factory, database_url, proxy
):
    cluster = cluster_factory()
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    link = proxy(server.port)
    async with conversation(seed, server, alice_via=link.port) as (alice, bob):
        # The server's replies to alice are lost from now on: the frame reaches the server,
        # which commits and acks into the void.
        link.lose_replies()
        client_id = str(uuid.uuid4())
        await alice.client.send(
            {"type": "send", "chat": alice.chat, "client_id": client_id, "body": "lost ack"}
        )
        # Bob's copy proves the message was committed (it is announced after commit).
        live = await bob.recv_until(lambda f: f["type"] == "message")
        assert live["message"]["client_id"] == client_id
        link.cut()  # alice's socket dies without ever seeing the ack
        link.restore()
        ack, errors = await alice.send_until_acked(
            server, "lost ack", client_id=client_id, via=link.port
        )
        assert errors == []
        assert ack["message"] == live["message"]  # the original message, same id and seq
        rows = assert_all_hold(database_url, alice)
        assert [(seq, cid) for seq, _, cid, _ in rows] == [(1, client_id)]


async def test_redis_down_sends_are_stored_and_acked_and_everyone_recovers(
    cluster_factory, database_url, private_redis
):
    redis = private_redis()
    cluster = cluster_factory(redis.url)
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    async with conversation(seed, server) as (alice, bob):
        await alice.send("before the outage")
        await bob.recv_until(lambda f: f["type"] == "message")

        redis.stop()
        during = [await alice.send(f"during the outage {i}") for i in range(3)]
        assert [f["type"] for f in during] == ["ack", "ack", "ack"], during
        assert [f["message"]["seq"] for f in during] == [2, 3, 4]
        assert alice.open  # the sender's socket survives the outage
        assert "channel layer send failed" in log_of(server)

        redis.start()  # back, and empty
        for person in (alice, bob):
            await person.recover(server)
        assert len(assert_all_hold(database_url, alice, bob)) == 4

        # Live delivery works again on the surviving sockets, once the layer has
        # resubscribed (doorbells rung before that are filled in with the next message).
        await until_delivered_live(bob, alice, server)
        assert_all_hold(database_url, alice, bob)


async def test_redis_restarted_empty_live_delivery_resumes_after_reconnect(
    cluster_factory, database_url, private_redis
):
    redis = private_redis()
    cluster = cluster_factory(redis.url)
    seed = cluster.seed("alice", "bob")
    one, two = cluster.start(), cluster.start()
    async with conversation(seed, one, two) as (alice, bob):
        await alice.send("first")
        await bob.recv_until(lambda f: f["type"] == "message")
        redis.stop()
        redis.start()  # every subscription and presence key is gone
        # Clients reconnect (a browser does so on close; here every tab reconnects).
        await alice.connect(one)
        await bob.connect(two)
        ack = await alice.send("after the restart")
        assert ack["type"] == "ack", ack
        live = await bob.recv_until(lambda f: f["type"] == "message")
        assert live["message"]["id"] == ack["message"]["id"]
        reply = await bob.send("and back")
        await alice.recv_until(
            lambda f: f["type"] == "message" and f["message"]["id"] == reply["message"]["id"]
        )
        assert_all_hold(database_url, alice, bob)


async def test_daphne_sigkill_mid_conversation_loses_and_duplicates_nothing(
    cluster_factory, database_url, private_redis
):
    cluster = cluster_factory(private_redis().url, SEND_RATE_BURST="1000")
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    acked = []
    async with conversation(seed, server) as (alice, bob):

        async def talk(person, n):
            for i in range(n):
                ack, _ = await person.send_until_acked(server, f"{person.name} {i}")
                acked.append(ack["message"]["id"])

        chatter = asyncio.gather(talk(alice, 15), talk(bob, 15))
        # Kill the server once the conversation is under way, then bring it back.
        while len(acked) < 6 and not chatter.done():
            await asyncio.sleep(0.02)
        assert not chatter.done(), "the conversation ended before the kill"
        server.kill()
        server.restart()
        await chatter
        for person in (alice, bob):
            await person.recover(server)
        rows = assert_all_hold(database_url, alice, bob)
        assert sorted(acked) == sorted(mid for _, mid, *_ in rows)  # every ack is a row
        assert len(rows) == 30  # and every send stored once, resends included
