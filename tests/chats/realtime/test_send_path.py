"""The socket's send path (chats/realtime/send_path.py).

On PostgreSQL it stores each chat's sends as one statement through psycopg's async driver
and hands anything unusual to the portable way; on SQLite every batch goes the portable way
on a socket worker. Either way the results must be those of services.message_send_batch.
The tests are transactional: the event-loop connections cannot see a test's open
transaction.
"""

import asyncio

import pytest
from django.db import connection

from chats import events, selectors, services
from chats.models import Chat, Membership, Message
from chats.realtime import send_path
from chats.validation import Refused
from tests.factories import UserFactory, make_chat

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loop():
    """One event loop for the whole test, as in a server process."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def people():
    return UserFactory(username="alice"), UserFactory(username="bob"), UserFactory(username="carol")


def send(loop, user, items):
    sends = [services.Send(i, *item) for i, item in enumerate(items)]
    results = loop.run_until_complete(send_path.store(user, sends))
    assert sorted(results) == list(range(len(items)))
    return [r if isinstance(r, Refused) else r[0] for _, r in sorted(results.items())], None


def test_a_batch_is_stored_in_order_as_the_orm_way_stores_it(loop, people):
    alice, bob, carol = people
    ab, ac, foreign = make_chat(alice, bob), make_chat(alice, carol), make_chat(bob, carol)
    results, _ = send(
        loop, alice, [(ab.pk, "c1", "one"), (ac.pk, "c2", "to carol"), (ab.pk, "c3", "two")]
    )
    assert [(m.chat_id, m.seq, m.body, m.sender.username) for m in results] == [
        (ab.pk, 1, "one", "alice"),
        (ac.pk, 1, "to carol", "alice"),
        (ab.pk, 2, "two", "alice"),
    ]
    stored = {m.client_id: m for m in Message.objects.all()}
    assert {m.client_id: m.pk for m in results} == {k: m.pk for k, m in stored.items()}
    assert stored["c3"].removed_reason == "" and stored["c3"].removed_at is None
    assert Chat.objects.get(pk=ab.pk).last_seq == 2
    mine = Membership.objects.get(chat=ab, user=alice)
    assert (mine.read_seq, mine.delivered_seq) == (2, 2)
    assert Membership.objects.get(chat=ab, user=bob).read_seq == 0
    assert Message.objects.filter(chat=foreign).count() == 0


def test_foreign_chats_are_refused_one_by_one(loop, people):
    alice, bob, carol = people
    ab, foreign = make_chat(alice, bob), make_chat(bob, carol)
    items = [(ab.pk, "a", "kept"), (foreign.pk, "c", "not mine"), (ab.pk, "d", "also kept")]
    results, _ = send(loop, alice, items)
    codes = [r.code if isinstance(r, Refused) else None for r in results]
    assert codes == [None, "not_found", None]
    assert sorted(Message.objects.values_list("client_id", "seq")) == [("a", 1), ("d", 2)]


def test_resends_and_repeats_are_acked_with_the_stored_message_and_no_gap(loop, people):
    alice, bob, _carol = people
    chat = make_chat(alice, bob)
    (first,), _ = send(loop, alice, [(chat.pk, "raced", "other tab")])
    # A resend (the constraint catches it on the event-loop connection) and a repeat in
    # the same batch: both are the stored message, and the new ones follow without a gap.
    results, _ = send(
        loop,
        alice,
        [(chat.pk, "b1", "one"), (chat.pk, "raced", "other tab"), (chat.pk, "b1", "one")],
    )
    before, raced, repeat = results
    assert raced.pk == first.pk and raced.seq == 1
    assert repeat.pk == before.pk and before.seq == 2
    assert sorted(Message.objects.values_list("seq", flat=True)) == [1, 2]
    assert Chat.objects.get(pk=chat.pk).last_seq == 2


def test_a_blocked_chat_refuses_new_sends(loop, people):
    alice, bob, _carol = people
    chat = make_chat(alice, bob)
    services.block_user(blocker=bob, blocked=alice)
    (refused,), _ = send(loop, alice, [(chat.pk, "x", "hello?")])
    assert isinstance(refused, Refused) and refused.code == "blocked"
    assert Message.objects.count() == 0


def test_both_members_are_rung_with_their_unread_counts(loop, people, monkeypatch):
    alice, bob, carol = people
    ab, cb, ac = make_chat(alice, bob), make_chat(carol, bob), make_chat(alice, carol)
    send(loop, carol, [(cb.pk, "from-carol", "hi bob")])
    send(loop, carol, [(ac.pk, "to-alice", "hi alice")])  # alice: 1 unread elsewhere
    send(loop, bob, [(ab.pk, "from-bob", "hey")])  # read by alice's reply below
    rung = []
    monkeypatch.setattr(events, "_send", lambda user_id, event: rung.append((user_id, event)))
    send(loop, alice, [(ab.pk, "m1", "one"), (ab.pk, "m2", "two")])
    frames = [(uid, e["message"]["seq"], e["unread"], e["unread_total"]) for uid, e in rung]
    # Per message: the sender (nothing unread here, carol's message elsewhere), then bob,
    # whose counts leave out the later message of the same batch (its own event brings them).
    assert frames == [
        (alice.pk, 2, 0, 1),
        (bob.pk, 2, 1, 2),
        (alice.pk, 3, 0, 1),
        (bob.pk, 3, 2, 3),
    ]
    # The counts rung are the ones the database holds afterwards.
    counts = selectors.unread_of_members(chat_ids=[ab.pk])
    assert counts == {(ab.pk, alice.pk): (0, 1), (ab.pk, bob.pk): (2, 3)}


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="only PostgreSQL has event-loop connections"
)
def test_a_connection_the_server_dropped_is_replaced_and_the_send_stored_once(loop, people, caplog):
    alice, bob, _carol = people
    chat = make_chat(alice, bob)
    send(loop, alice, [(chat.pk, "first", "one")])
    # The pooled connection dies on the server's side (a restart, a cut link): the pool
    # does not know until the next statement fails on it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'chatsite-send' AND datname = current_database()"
        )
        assert cursor.fetchall() == [(True,)]
    (second,), _ = send(loop, alice, [(chat.pk, "second", "two")])
    assert second.seq == 2
    assert "retrying once" in caplog.text
    assert sorted(Message.objects.values_list("client_id", flat=True)) == ["first", "second"]


def test_a_chat_with_a_reply_goes_the_portable_way_in_order(loop, people):
    alice, bob, carol = people
    ab, ac = make_chat(alice, bob), make_chat(alice, carol)
    send(loop, alice, [(ab.pk, "q", "question")])
    sends = [
        services.Send(0, ab.pk, "p1", "plain"),
        services.Send(1, ac.pk, "c1", "to carol"),
        services.Send(2, ab.pk, "r1", "reply", reply_to=1),
        services.Send(3, ab.pk, "bad", "reply to nothing", reply_to=7),
    ]
    results = loop.run_until_complete(send_path.store(alice, sends))
    assert isinstance(results[3], Refused) and results[3].code == "invalid"
    assert [(results[i][0].chat_id, results[i][0].seq) for i in range(3)] == [
        (ab.pk, 2),
        (ac.pk, 1),
        (ab.pk, 3),
    ]
    reply = Message.objects.get(client_id="r1")
    assert reply.reply_to_id == Message.objects.get(client_id="q").pk
    assert selectors.message_payload(results[2][0])["reply_to"]["body"] == "question"
    assert Chat.objects.get(pk=ab.pk).last_seq == 3
