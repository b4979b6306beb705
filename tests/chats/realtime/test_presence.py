"""Presence, read-receipt privacy and blocking over the socket (issue 4)."""

import asyncio
import time
from datetime import UTC, datetime

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from chats import presence as rules
from chats import selectors, services
from chats.models import Message
from chats.realtime import presence, socket_work
from chatsite import presence_store
from tests.chats.realtime.test_consumer import marker, send_and_ack
from tests.factories import make_chat, make_messages

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


@pytest.fixture(autouse=True)
def _short_grace(settings):
    settings.PRESENCE_GRACE_SECONDS = 0.3


def presences(frames):
    return [(f["user"], f["status"]) for f in frames if f["type"] == "presence"]


async def set_privacy(user, **fields):
    await db(User.objects.filter(pk=user.pk).update)(**fields)


async def test_peer_sees_online_then_offline_after_the_grace_and_last_seen_is_stored(
    socket, alice, bob
):
    await db(make_chat)(alice, bob)
    b = await socket(bob, presence=True)
    entry = b.hello["chats"][0]
    assert (entry["peer_status"], entry["peer_last_seen"]) == ("offline", None)
    a = await socket(alice)
    online = await b.recv()
    assert (online["type"], online["user"], online["status"]) == ("presence", "alice", "online")
    assert online["last_seen"].endswith("Z")
    other_tab = await socket(bob)
    assert other_tab.hello["chats"][0]["peer_status"] == "online"
    await a.close()
    offline = await b.recv()
    assert (offline["user"], offline["status"]) == ("alice", "offline")
    stored = await db(User.objects.get)(pk=alice.pk)
    assert stored.last_seen == datetime.fromisoformat(offline["last_seen"])
    later = await socket(bob)
    assert later.hello["chats"][0]["peer_status"] == "offline"
    assert later.hello["chats"][0]["peer_last_seen"] == offline["last_seen"]


async def test_online_while_any_tab_is_open(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    b = await socket(bob, presence=True)
    a1, a2 = await socket(alice), await socket(alice)
    assert presences([await b.recv()]) == [("alice", "online")]
    await a1.close()
    await asyncio.sleep(1)  # well past the grace period
    seen = await marker(a2, [b], chat)
    assert presences(seen) == []
    assert await db(presence_store.store().online)([alice.pk]) == {alice.pk}


async def test_a_reload_within_the_grace_period_does_not_flap(socket, settings, alice, bob):
    settings.PRESENCE_GRACE_SECONDS = 30
    chat = await db(make_chat)(alice, bob)
    b = await socket(bob, presence=True)
    a = await socket(alice)
    assert presences([await b.recv()]) == [("alice", "online")]
    await a.close()
    a = await socket(alice)
    seen = await marker(a, [b], chat)
    assert presences(seen) == []


async def test_presence_reaches_only_users_sharing_a_chat(socket, alice, bob, carol):
    await db(make_chat)(alice, bob)
    bc = await db(make_chat)(bob, carol)
    c = await socket(carol, presence=True)
    await socket(alice)
    b = await socket(bob)
    seen = await marker(b, [c], bc)
    assert presences(seen) == [("bob", "online")]


@pytest.mark.parametrize("hider", ["alice", "bob"])
async def test_hiding_presence_is_reciprocal(socket, alice, bob, hider):
    """Whoever hides: neither sees the other's presence or last seen."""
    chat = await db(make_chat)(alice, bob)
    await set_privacy(alice if hider == "alice" else bob, hide_presence=True)
    seen_at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    await db(User.objects.filter(pk=alice.pk).update)(last_seen=seen_at)
    b = await socket(bob, presence=True)
    a = await socket(alice, presence=True)
    for sock in (a, b):
        entry = sock.hello["chats"][0]
        assert (entry["peer_status"], entry["peer_last_seen"]) == ("hidden", None)
    seen = await marker(a, [b], chat)
    seen += await marker(b, [a], chat)
    assert presences(seen) == []


async def test_read_receipts_are_shown_by_default(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    await db(make_messages)(chat, alice, 1)
    await db(services.chat_mark_read)(user=bob, chat_id=chat.pk, seq=1)
    a = await socket(alice)
    assert a.hello["chats"][0]["peer_read_seq"] == 1


@pytest.mark.parametrize("who_turns_off", ["reader", "sender"])
async def test_read_receipts_off_on_either_side_means_no_read_frames(
    socket, alice, bob, who_turns_off
):
    chat = await db(make_chat)(alice, bob)
    await set_privacy(bob if who_turns_off == "reader" else alice, send_read_receipts=False)
    a, b = await socket(alice), await socket(bob)
    await send_and_ack(a, chat, body="read me")
    delivered, _ = await a.recv_until("delivered")  # delivered stays
    assert delivered["seq"] == 1
    await b.send({"type": "read", "chat": chat.pk, "seq": 1})
    seen = await marker(b, [a], chat)
    assert [f["type"] for f in seen if f["type"] == "read"] == []
    assert a.hello["chats"][0]["peer_read_seq"] is None
    again = await socket(alice)
    entry = again.hello["chats"][0]
    assert (entry["peer_read_seq"], entry["peer_delivered_seq"]) == (None, 2)
    # The read itself still counts for the reader.
    assert b.hello["chats"][0]["unread"] == 0


async def test_a_read_with_receipts_off_still_sends_the_sender_delivered(socket, alice, bob):
    """Issue 23, bug 2: messages stored while the reader had no socket reach them when they
    open the chat; reading moves the delivered pointer, and the sender hears `delivered`
    although the reader turned read receipts off (and hears no `read`)."""
    chat = await db(make_chat)(alice, bob)
    await set_privacy(bob, send_read_receipts=False)
    await db(make_messages)(chat, alice, 2)
    a, b = await socket(alice), await socket(bob)
    assert a.hello["chats"][0]["peer_delivered_seq"] == 0
    await b.send({"type": "read", "chat": chat.pk, "seq": 2})
    delivered, seen = await a.recv_until("delivered")
    assert delivered == {"type": "delivered", "chat": chat.pk, "user": "bob", "seq": 2}
    seen += await marker(b, [a], chat)
    assert [f for f in seen if f["type"] == "read"] == []


async def test_a_blocked_user_cannot_send_and_sees_no_presence_or_typing(socket, alice, bob, carol):
    chat = await db(make_chat)(alice, bob)
    ac = await db(make_chat)(alice, carol)
    await db(make_messages)(chat, bob, 2)
    await db(services.block_user)(blocker=bob, blocked=alice)
    a = await socket(alice, presence=True)
    peers = {entry["peer"]: entry for entry in a.hello["chats"]}
    assert peers["bob"]["peer_status"] == "hidden"
    assert peers["carol"]["peer_status"] == "offline"
    b = await socket(bob, presence=True)
    await b.send({"type": "typing", "chat": chat.pk})
    await a.send({"type": "typing", "chat": chat.pk})
    c = await socket(carol)
    seen = await marker(c, [a], ac)
    assert [f["type"] for f in seen if f["type"] == "typing"] == []
    assert presences(seen) == [("carol", "online")]
    # Sends are refused both ways; nothing is stored.
    for sock in (a, b):
        await sock.send({"type": "send", "chat": chat.pk, "client_id": "x", "body": "hi"})
        error, _ = await sock.recv_until("error")
        assert error["code"] == "blocked" and error["detail"]
    assert await db(Message.objects.filter(chat=chat).count)() == 2
    # History stays readable.
    await a.send({"type": "sync", "chat": chat.pk, "after": 0})
    synced, frames = await a.recv_until("synced")
    assert [f["message"]["seq"] for f in frames[:-1]] == [1, 2]
    assert synced["last_seq"] == 2


async def test_blocking_live_hides_presence_and_unblocking_restores_it(socket, alice, bob):
    chat = await db(make_chat)(alice, bob)
    b = await socket(bob, presence=True)
    a = await socket(alice, presence=True)
    assert presences([await b.recv()]) == [("alice", "online")]
    await db(services.block_user)(blocker=bob, blocked=alice)
    assert presences([await a.recv()]) == [("bob", "hidden")]
    assert presences([await b.recv()]) == [("alice", "hidden")]
    await db(services.unblock_user)(blocker=bob, blocked=alice)
    assert presences([await a.recv()]) == [("bob", "online")]
    assert presences([await b.recv()]) == [("alice", "online")]
    await send_and_ack(a, chat, body="we talk again")


# Services and selectors behind it.


async def test_block_and_unblock_are_idempotent(alice, bob):
    assert await db(services.block_user)(blocker=alice, blocked=bob)
    assert not await db(services.block_user)(blocker=alice, blocked=bob)
    assert await db(services.unblock_user)(blocker=alice, blocked=bob)
    assert not await db(services.unblock_user)(blocker=alice, blocked=bob)


async def test_nobody_can_block_themselves(alice):
    with pytest.raises(services.Refused) as refused:
        await db(services.block_user)(blocker=alice, blocked=alice)
    assert refused.value.code == "invalid"


async def test_presence_audiences_skip_hidden_and_blocked_peers(alice, bob, carol, user_factory):
    dave = await db(user_factory)(username="dave", hide_presence=True)
    erin = await db(user_factory)(username="erin")
    for peer in (bob, carol, dave, erin):
        await db(make_chat)(alice, peer)
    await db(services.block_user)(blocker=erin, blocked=alice)
    audiences = await db(selectors.presence_audiences)(users=[alice, bob])
    assert sorted(audiences[alice.pk]) == sorted([bob.pk, carol.pk])
    assert audiences[bob.pk] == [alice.pk]
    alice.hide_presence = True
    assert await db(selectors.presence_audiences)(users=[alice]) == {alice.pk: []}


async def test_turning_hide_presence_on_and_off_is_announced_live(socket, alice, bob):
    from django.test import Client

    await db(make_chat)(alice, bob)
    b = await socket(bob, presence=True)
    a = await socket(alice, presence=True)
    assert presences([await b.recv()]) == [("alice", "online")]
    client = Client()
    await db(client.force_login)(alice)

    def post_privacy(**fields):
        return client.post("/accounts/profile/", fields)

    response = await db(post_privacy)(hide_presence="on", send_read_receipts="on")
    assert response.status_code == 302
    assert presences([await b.recv()]) == [("alice", "hidden")]
    assert presences([await a.recv()]) == [("bob", "hidden")]
    await db(post_privacy)(send_read_receipts="on")
    assert presences([await b.recv()]) == [("alice", "online")]
    assert presences([await a.recv()]) == [("bob", "online")]


async def test_a_batch_of_presence_changes_is_stored_and_announced_per_user(
    alice, bob, carol, user_factory, monkeypatch
):
    """Connect storms announce in batches (chats/realtime/presence.py): each user of a batch
    gets its
    own audience, its last_seen is stored, and the later of two changes of a user wins."""
    dave = await db(user_factory)(username="dave", hide_presence=True)
    await db(make_chat)(alice, bob)
    await db(make_chat)(carol, bob)
    await db(make_chat)(dave, bob)
    await db(services.block_user)(blocker=bob, blocked=carol)
    rung = []
    monkeypatch.setattr(
        services.events,
        "presence",
        lambda **kw: rung.append((kw["subject"].username, kw["status"], kw["user_ids"])),
    )
    t1, t2 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 5, 0, tzinfo=UTC)
    await db(services.presences_changed)(
        [
            (alice.pk, rules.ONLINE, t1),
            (carol.pk, rules.ONLINE, t1),
            (dave.pk, rules.ONLINE, t1),
            (alice.pk, rules.OFFLINE, t2),
        ]
    )
    # carol and bob have a block between them; dave hides his presence: no one to tell.
    assert rung == [("alice", "offline", [bob.pk])]
    stored = await db(lambda: dict(User.objects.values_list("username", "last_seen")))()
    assert (stored["alice"], stored["carol"], stored["dave"]) == (t2, t1, t1)
    assert stored["bob"] is None


async def test_changes_that_come_during_a_batch_wait_for_company_a_lone_change_does_not(
    monkeypatch,
):
    """A connect storm's changes are announced in big batches (presence._Announcer): those
    that came while a batch ran wait for STORM_BATCH of them or STORM_SECONDS; a change
    in a quiet moment waits ANNOUNCE_SECONDS only."""
    batches = []

    def record(changes):
        batches.append([user_id for user_id, _status, _at in changes])
        time.sleep(0.05)  # the batch's statements

    monkeypatch.setattr(presence.services, "presences_changed", record)
    monkeypatch.setattr(presence, "STORM_BATCH", 5)
    monkeypatch.setattr(presence, "STORM_SECONDS", 2.0)
    announcer = presence._Announcer()
    at = datetime.now(UTC)
    await asyncio.wait_for(announcer.note(1, rules.ONLINE, at), 1.0)  # alone: no wait
    assert batches == [[1]]
    first = announcer.note(2, rules.ONLINE, at)
    await asyncio.sleep(0.04)  # user 2's batch is running
    during = [announcer.note(user_id, rules.ONLINE, at) for user_id in (3, 4)]
    await first
    await asyncio.sleep(0.2)
    assert batches == [[1], [2]]  # 3 and 4 wait for company
    full = [announcer.note(user_id, rules.ONLINE, at) for user_id in (5, 6, 7)]
    await asyncio.wait_for(asyncio.gather(*during, *full), 1.0)  # five waiting: it goes
    assert batches == [[1], [2], [3, 4, 5, 6, 7]]
    # The storm's last few wait STORM_SECONDS at most.
    monkeypatch.setattr(presence, "STORM_SECONDS", 0.3)
    first = announcer.note(8, rules.ONLINE, at)
    await asyncio.sleep(0.04)
    last = announcer.note(9, rules.ONLINE, at)
    await asyncio.wait_for(asyncio.gather(first, last), 1.5)
    assert batches[-2:] == [[8], [9]]


async def test_users_for_presence_are_the_subjects_in_id_order(alice, bob, user_factory):
    dave = await db(user_factory)(username="dave", hide_presence=True)
    subjects = await db(selectors.users_for_presence)(user_ids=[dave.pk, alice.pk, bob.pk, 0])
    assert subjects == [
        selectors.PresenceSubject(alice.pk, "alice", False),
        selectors.PresenceSubject(bob.pk, "bob", False),
        selectors.PresenceSubject(dave.pk, "dave", True),
    ]
    assert await db(selectors.users_for_presence)(user_ids=[]) == []


async def test_a_batch_stores_last_seen_in_the_same_statements_whatever_its_size(
    alice, bob, carol, user_factory, monkeypatch
):
    """A connect storm's batch of hundreds costs the statements of a batch of one
    (LAST_SEEN_CHUNK users per UPDATE); a deleted account keeps its erased last_seen."""
    gone = await db(user_factory)(username="gone")
    await db(User.objects.filter(pk=gone.pk).update)(deleted_at=datetime.now(UTC))
    monkeypatch.setattr(services, "LAST_SEEN_CHUNK", 2)
    monkeypatch.setattr(services.events, "presence", lambda **kw: None)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def statements(users):
        with CaptureQueriesContext(connection) as queries:
            services.presences_changed([(u.pk, rules.ONLINE, at) for u in users])
        return [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]

    assert len(await db(statements)([alice])) == 1
    assert len(await db(statements)([alice, bob, carol, gone])) == 2  # chunks of 2
    stored = await db(lambda: dict(User.objects.values_list("username", "last_seen")))()
    assert (stored["alice"], stored["bob"], stored["carol"]) == (at, at, at)
    assert stored["gone"] is None


async def test_hello_async_agrees_with_hello(socket, alice, bob, carol, user_factory):
    """The event-loop hello (PostgreSQL: its own connection and the loop's Redis client)
    says what the worker's says: chats in order, unread, last messages, presence with
    hiding and blocks, receipts."""
    dave = await db(user_factory)(username="dave", hide_presence=True)
    erin = await db(user_factory)(username="erin", send_read_receipts=False)

    def prepare():
        for peer in (bob, carol, dave, erin):
            make_messages(make_chat(alice, peer), sender=peer, count=2)
        services.block_user(blocker=carol, blocked=alice)
        Message.objects.filter(chat__memberships__user=erin, seq=2).update(
            removed_at=datetime.now(UTC)
        )

    await db(prepare)()
    online = await socket(bob)  # bob is online, the others offline or hidden
    got = await socket_work.hello_async(alice)
    want = await db(socket_work.hello)(alice)
    assert got == want
    by_peer = {chat["peer"]: chat for chat in got["chats"]}
    assert by_peer["bob"]["peer_status"] == "online"
    assert by_peer["carol"]["peer_status"] == by_peer["dave"]["peer_status"] == "hidden"
    assert [chat["unread"] for chat in got["chats"]] == [2, 2, 2, 2]
    await online.close()


async def test_an_open_socket_keeps_renewing_its_lease(socket, alice, settings):
    """Leases lapse unless renewed (a crashed process's sockets go offline on their own);
    a live socket renews in time, however long it stays."""
    settings.PRESENCE_LEASE_SECONDS = 0.6  # renewed every 0.15-0.2 s
    sock = await socket(alice)
    for _ in range(6):
        await asyncio.sleep(0.25)
        assert await presence_store.store().online_async([alice.pk]) == {alice.pk}
        assert await presence.current(alice.pk) == rules.ONLINE
    # Without renewals the lease runs out: stop them and wait past it.
    renewing = [task for task in asyncio.all_tasks() if "renew_forever" in repr(task.get_coro())]
    assert len(renewing) == 1
    renewing[0].cancel()
    await asyncio.sleep(0.8)
    assert await presence_store.store().online_async([alice.pk]) == set()
    await sock.close()


async def test_renewals_stop_when_a_renewal_swallows_the_sockets_cancel(monkeypatch):
    # As the doorbell (tests/chats/test_events.py): redis-py can lose a cancel mid-command.
    renewing = asyncio.Event()

    async def renewal_that_swallows_a_cancel(user_id, socket_id):
        renewing.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return

    monkeypatch.setattr(presence, "lease_seconds", lambda: 0.003)
    monkeypatch.setattr(presence.store(), "renew_async", renewal_that_swallows_a_cancel)
    task = asyncio.ensure_future(presence.Connection(1, "socket").renew_forever())
    await asyncio.wait_for(renewing.wait(), timeout=1)
    task.cancel()
    await asyncio.wait([task], timeout=1)
    assert task.cancelled()
