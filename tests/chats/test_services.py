import threading
import uuid

import pytest
from django.db import close_old_connections, connection

from accounts.models import User
from chats import selectors, services
from chats.models import Chat, Membership, Message
from chats.validation import MAX_BODY, Refused, clean_body, clean_client_id
from tests.factories import UserFactory, make_chat, make_messages


def send(user, chat, body="hello", client_id=None):
    return services.message_send(
        sender=user, chat_id=chat.pk, client_id=client_id or str(uuid.uuid4()), body=body
    )


def run_threads(count, target):
    """Run `target(i)` in `count` threads released together; re-raise the first failure."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def worker(i):
        try:
            barrier.wait(timeout=30)
            results[i] = target(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    close_old_connections()
    if errors:
        raise errors[0]
    return results


# Validation: the edges run chats/validation.py (the socket's protocol.parse, the API, the
# send form); the service trusts clean input. The rules themselves:


class TestMessageValidation:
    def test_body_is_stripped_of_surrounding_whitespace(self):
        assert clean_body("  \n hi there \t ") == "hi there"

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ("", "empty"),
            ("   \n\t ", "empty"),
            ("x" * (MAX_BODY + 1), "too_long"),
            (None, "invalid"),
            (42, "invalid"),
            (["hi"], "invalid"),
            ("nul \x00 byte", "invalid"),
            ("lone \ud800 surrogate", "invalid"),
        ],
    )
    def test_bad_bodies_are_refused(self, body, code):
        with pytest.raises(Refused) as refused:
            clean_body(body)
        assert refused.value.code == code
        assert refused.value.detail

    def test_body_of_exactly_the_maximum_length_is_accepted(self):
        assert len(clean_body("é" * MAX_BODY)) == MAX_BODY

    @pytest.mark.parametrize("client_id", ["", "x" * 65, None, 7, {"a": 1}, "a\x00b"])
    def test_bad_client_ids_are_invalid(self, client_id):
        with pytest.raises(Refused) as refused:
            clean_client_id(client_id)
        assert refused.value.code == "invalid"

    @pytest.mark.parametrize("client_id", ["x", "y" * 64, str(uuid.uuid4())])
    def test_client_ids_of_1_to_64_characters_are_accepted(self, client_id):
        assert clean_client_id(client_id) == client_id

    @pytest.mark.django_db
    def test_non_member_gets_not_found_and_nothing_is_stored(self, alice, bob, carol):
        chat = make_chat(alice, bob)
        with pytest.raises(Refused) as refused:
            send(carol, chat)
        assert refused.value.code == "not_found"
        with pytest.raises(Refused) as missing:
            services.message_send(sender=alice, chat_id=10**9, client_id="c", body="hi")
        assert missing.value.code == "not_found"
        assert missing.value.detail == refused.value.detail
        assert Message.objects.count() == 0


# Sequence numbers and idempotency.


@pytest.mark.django_db
def test_seq_starts_at_1_and_counts_per_chat(alice, bob, carol):
    ab, ac = make_chat(alice, bob), make_chat(alice, carol)
    assert [send(alice, ab)[0].seq for _ in range(3)] == [1, 2, 3]
    assert [send(carol, ac)[0].seq for _ in range(2)] == [1, 2]
    assert send(bob, ab)[0].seq == 4
    ab.refresh_from_db()
    assert ab.last_seq == 4
    assert ab.last_message_at is not None


@pytest.mark.django_db
def test_message_send_is_idempotent_per_client_id(alice, bob):
    chat = make_chat(alice, bob)
    first, created = send(alice, chat, body="once", client_id="cid-1")
    again, created_again = send(alice, chat, body="once", client_id="cid-1")
    assert created and not created_again
    assert again.pk == first.pk and again.seq == first.seq == 1
    assert Message.objects.count() == 1
    chat.refresh_from_db()
    assert chat.last_seq == 1


@pytest.mark.django_db
def test_client_ids_are_per_sender(alice, bob):
    chat = make_chat(alice, bob)
    a, _ = send(alice, chat, client_id="same")
    b, created = send(bob, chat, client_id="same")
    assert created and a.pk != b.pk
    assert [a.seq, b.seq] == [1, 2]


@pytest.mark.django_db
def test_client_id_reused_in_another_chat_is_invalid(alice, bob, carol):
    ab, ac = make_chat(alice, bob), make_chat(alice, carol)
    send(alice, ab, client_id="reused")
    with pytest.raises(Refused) as refused:
        send(alice, ac, client_id="reused")
    assert refused.value.code == "invalid"
    assert Message.objects.filter(chat=ac).count() == 0


@pytest.mark.django_db(transaction=True)
def test_seq_is_gapless_under_concurrent_sends():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    chat = make_chat(alice, bob)
    threads, per_thread = 8, 5

    def sender(i):
        user = alice if i % 2 else bob
        return [send(user, chat, body=f"t{i} m{n}")[0].seq for n in range(per_thread)]

    results = run_threads(threads, sender)
    total = threads * per_thread
    seqs = sorted(seq for result in results for seq in result)
    assert seqs == list(range(1, total + 1))
    # Each thread saw its own messages in increasing order.
    assert all(result == sorted(result) for result in results)
    assert sorted(Message.objects.filter(chat=chat).values_list("seq", flat=True)) == seqs
    chat.refresh_from_db()
    assert chat.last_seq == total


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_sends_store_one_message():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    chat = make_chat(alice, bob)
    results = run_threads(6, lambda i: send(alice, chat, body="dup", client_id="the-one"))
    assert len({message.pk for message, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert Message.objects.count() == 1
    chat.refresh_from_db()
    assert chat.last_seq == 1
    # The seqs lost by the refused duplicates were rolled back: the next one is 2.
    assert send(alice, chat)[0].seq == 2


# Starting chats.


@pytest.mark.django_db
def test_chat_start_is_one_chat_per_unordered_pair(alice, bob):
    chat, created = services.chat_start(user=alice, username="bob")
    again, created_again = services.chat_start(user=bob, username="ALICE")
    assert created and not created_again
    assert again.pk == chat.pk
    assert Chat.objects.count() == 1
    assert set(Membership.objects.values_list("user_id", flat=True)) == {alice.pk, bob.pk}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "code"), [("alice", "invalid"), ("nobody", "not_found"), ("", "not_found")]
)
def test_chat_start_refuses_self_and_unknown_users(alice, username, code):
    with pytest.raises(Refused) as refused:
        services.chat_start(user=alice, username=username)
    assert refused.value.code == code
    assert Chat.objects.count() == 0


@pytest.mark.django_db
def test_chat_start_refuses_inactive_users(alice):
    UserFactory(username="gone", is_active=False)
    with pytest.raises(Refused) as refused:
        services.chat_start(user=alice, username="gone")
    assert refused.value.code == "not_found"
    assert Chat.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_make_one_chat():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")

    def start(i):
        user, name = (alice, "bob") if i % 2 else (bob, "alice")
        return services.chat_start(user=user, username=name)[0].pk

    results = run_threads(8, start)
    assert len(set(results)) == 1
    assert Chat.objects.count() == 1
    assert Membership.objects.count() == 2


# Read pointers and unread counts.


@pytest.mark.django_db
def test_unread_is_the_peers_messages_past_the_read_pointer(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 3)
    assert selectors.unread_of_members(chat_ids=[chat.pk]) == {
        (chat.pk, alice.pk): (0, 0),
        (chat.pk, bob.pk): (3, 3),
    }
    assert services.chat_mark_read(user=bob, chat_id=chat.pk, seq=2) == 2
    assert selectors.unread_of_members(chat_ids=[chat.pk])[(chat.pk, bob.pk)] == (1, 1)
    # Replying reads everything before the reply.
    send(bob, chat)
    assert selectors.unread_of_members(chat_ids=[chat.pk])[(chat.pk, bob.pk)] == (0, 0)


@pytest.mark.django_db
def test_read_pointer_never_moves_back_nor_past_the_chat(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 3)
    assert services.chat_mark_read(user=bob, chat_id=chat.pk, seq=3) == 3
    assert services.chat_mark_read(user=bob, chat_id=chat.pk, seq=1) == 3
    assert services.chat_mark_read(user=bob, chat_id=chat.pk, seq=99) == 3
    membership = Membership.objects.get(user=bob, chat=chat)
    assert (membership.read_seq, membership.delivered_seq) == (3, 3)


@pytest.mark.django_db
def test_the_unread_total_sums_over_chats(alice, bob, carol):
    ab, cb = make_chat(alice, bob), make_chat(carol, bob)
    make_messages(ab, alice, 2)
    make_messages(cb, carol, 3)
    assert selectors.unread_of_members(chat_ids=[ab.pk])[(ab.pk, bob.pk)] == (2, 5)
    services.chat_mark_read(user=bob, chat_id=cb.pk, seq=3)
    assert selectors.unread_of_members(chat_ids=[ab.pk])[(ab.pk, bob.pk)] == (2, 2)


@pytest.mark.django_db
def test_read_by_non_member_is_not_found(alice, bob, carol):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 1)
    with pytest.raises(Refused) as refused:
        services.chat_mark_read(user=carol, chat_id=chat.pk, seq=1)
    assert refused.value.code == "not_found"


@pytest.mark.django_db
def test_delivered_pointer_only_moves_forward(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 3)
    assert services.chats_mark_delivered([services.Delivery(bob, chat.pk, 2)])
    assert not services.chats_mark_delivered([services.Delivery(bob, chat.pk, 1)])
    assert Membership.objects.get(user=bob, chat=chat).delivered_seq == 2


@pytest.mark.django_db
def test_many_delivered_pointers_move_in_one_statement_and_are_announced(
    alice, bob, carol, monkeypatch, django_capture_on_commit_callbacks
):
    ab, cb = make_chat(alice, bob), make_chat(carol, bob)
    make_messages(ab, alice, 3)
    make_messages(cb, carol, 2)
    services.chats_mark_delivered([services.Delivery(bob, cb.pk, 2)])
    rung = []
    monkeypatch.setattr(
        "chats.events.chat_delivered", lambda **kw: rung.append((kw["peer_id"], kw["seq"]))
    )
    Delivery = services.Delivery
    with django_capture_on_commit_callbacks(execute=True):
        moved = services.chats_mark_delivered(
            [
                Delivery(bob, ab.pk, 1, alice.pk),
                Delivery(bob, ab.pk, 3, None),  # the later one wins; the peer is looked up
                Delivery(bob, cb.pk, 1, carol.pk),  # behind the pointer: no move
                Delivery(alice, ab.pk, 2, bob.pk),  # her own messages: already at 3
            ]
        )
    assert [(d.user.username, d.chat_id, d.seq) for d in moved] == [("bob", ab.pk, 3)]
    assert rung == [(alice.pk, 3)]
    pointers = Membership.objects.values_list("user__username", "chat_id", "delivered_seq")
    assert sorted(pointers) == sorted(
        [("alice", ab.pk, 3), ("bob", ab.pk, 3), ("carol", cb.pk, 2), ("bob", cb.pk, 2)]
    )


# History selectors.


@pytest.mark.django_db
def test_messages_before_pages_by_keyset_oldest_first(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 7)
    page, more = selectors.messages_before(chat_id=chat.pk, limit=3)
    assert [m.seq for m in page] == [5, 6, 7] and more
    page, more = selectors.messages_before(chat_id=chat.pk, before=5, limit=3)
    assert [m.seq for m in page] == [2, 3, 4] and more
    page, more = selectors.messages_before(chat_id=chat.pk, before=2, limit=3)
    assert [m.seq for m in page] == [1] and not more


@pytest.mark.django_db
def test_messages_after_is_bounded_and_says_whether_more_follow(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 5)
    rows, more = selectors.messages_after(chat_id=chat.pk, after=1, limit=3)
    assert [m.seq for m in rows] == [2, 3, 4] and more
    rows, more = selectors.messages_after(chat_id=chat.pk, after=4, limit=3)
    assert [m.seq for m in rows] == [5] and not more


@pytest.mark.django_db
def test_chat_summaries_is_one_query_ordered_by_activity(
    alice, bob, carol, django_assert_num_queries
):
    ab, ac = make_chat(alice, bob), make_chat(alice, carol)
    send(bob, ab, body="older")
    send(carol, ac, body="newer")
    with django_assert_num_queries(1):
        summaries = selectors.chat_summaries(user_id=alice.pk)
        peers = [s.peer.username for s in summaries]
    assert peers == ["carol", "bob"]
    assert summaries[0].last_body == "newer" and summaries[0].unread == 1


@pytest.mark.django_db
def test_message_payload_is_json_ready(alice, bob):
    chat = make_chat(alice, bob)
    message, _ = send(alice, chat, body="<b>hi</b>", client_id="c-1")
    payload = selectors.message_payload(message)
    assert payload == {
        "id": message.pk,
        "chat": chat.pk,
        "seq": 1,
        "sender": "alice",
        "body": "<b>hi</b>",
        "sent_at": payload["sent_at"],
        "client_id": "c-1",
        "removed": False,
        "version": 1,
        "edited_at": None,
        "deleted": False,
        "reply_to": None,
        "reactions": {},
    }
    assert payload["sent_at"].endswith("Z")


@pytest.mark.django_db
def test_inactive_peer_does_not_break_selectors(alice):
    peer = User.objects.create_user(username="dormant", password="x-very-long-1", is_active=False)
    chat = make_chat(alice, peer)
    assert selectors.chat_get_for_member(user_id=alice.pk, chat_id=chat.pk) == chat


@pytest.mark.django_db(transaction=True)
def test_a_failing_announcement_does_not_fail_a_stored_send(monkeypatch, caplog):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    chat = make_chat(alice, bob)

    def broken(**kwargs):
        raise RuntimeError("channel layer exploded")

    monkeypatch.setattr("chats.events.messages_created", broken)
    message, created = send(alice, chat, body="kept")
    assert created and message.seq == 1
    assert Message.objects.get().body == "kept"
    assert "channel layer exploded" in caplog.text


# Batches (the socket's group commit).


def batch(user, items):
    sends = [services.Send(i, *item) for i, item in enumerate(items)]
    results = services.message_send_batch(sender=user, sends=sends)
    return [r if isinstance(r, Refused) else r[0] for _, r in sorted(results.items())]


@pytest.mark.django_db
def test_a_batch_stores_in_order_and_refuses_items_on_their_own(alice, bob, carol):
    ab, ac = make_chat(alice, bob), make_chat(alice, carol)
    foreign = make_chat(bob, carol)
    results = batch(
        alice,
        [
            (ab.pk, "c1", "one"),
            (ac.pk, "c2", "to carol"),
            (foreign.pk, "c4", "not mine"),
            (ab.pk, "c5", "two"),
        ],
    )
    assert [getattr(r, "code", None) for r in results] == [None, None, "not_found", None]
    assert [(m.chat_id, m.seq, m.body) for m in results if isinstance(m, Message)] == [
        (ab.pk, 1, "one"),
        (ac.pk, 1, "to carol"),
        (ab.pk, 2, "two"),
    ]
    assert list(Message.objects.filter(chat=ab).values_list("seq", "body").order_by("seq")) == [
        (1, "one"),
        (2, "two"),
    ]
    ab.refresh_from_db()
    assert ab.last_seq == 2
    assert Message.objects.filter(chat=foreign).count() == 0
    mine = Membership.objects.get(chat=ab, user=alice)
    assert (mine.read_seq, mine.delivered_seq) == (2, 2)
    assert Membership.objects.get(chat=ab, user=bob).read_seq == 0


@pytest.mark.django_db
def test_a_client_id_repeated_in_one_batch_is_stored_once(alice, bob, carol):
    ab, ac = make_chat(alice, bob), make_chat(alice, carol)
    first, again, elsewhere = batch(
        alice, [(ab.pk, "same", "hi"), (ab.pk, "same", "hi"), (ac.pk, "same", "hi")]
    )
    assert isinstance(first, Message) and again.pk == first.pk
    assert isinstance(elsewhere, Refused) and elsewhere.code == "invalid"
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_a_blocked_chat_refuses_new_sends_but_acks_resends(alice, bob):
    chat = make_chat(alice, bob)
    stored, _ = send(alice, chat, body="before", client_id="early")
    services.block_user(blocker=bob, blocked=alice)
    resent, refused = batch(alice, [(chat.pk, "early", "before"), (chat.pk, "late", "after")])
    assert resent.pk == stored.pk
    assert refused.code == "blocked"
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_resend_inside_a_batch_costs_only_itself():
    """Resends are caught by the (sender, client_id) constraint, which undoes the batch's
    transaction: the batch is then stored one send at a time, with no gap in the seqs."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    chat = make_chat(alice, bob)
    stored, _ = send(alice, chat, body="other tab", client_id="raced")
    before, raced, after = batch(
        alice, [(chat.pk, "b1", "one"), (chat.pk, "raced", "other tab"), (chat.pk, "b2", "two")]
    )
    assert raced.pk == stored.pk and raced.seq == 1
    assert (before.seq, after.seq) == (2, 3)
    assert sorted(Message.objects.values_list("seq", flat=True)) == [1, 2, 3]
    chat.refresh_from_db()
    assert chat.last_seq == 3


def test_a_read_that_does_not_move_the_pointer_writes_nothing(alice, bob):
    from django.test.utils import CaptureQueriesContext

    chat = make_chat(alice, bob)
    make_messages(chat, bob, 3)
    assert services.chat_mark_read(user=alice, chat_id=chat.pk, seq=2) == 2
    for seq in (2, 1, 0):
        with CaptureQueriesContext(connection) as queries:
            assert services.chat_mark_read(user=alice, chat_id=chat.pk, seq=seq) == 2
        writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
        assert writes == [], writes


def test_a_read_that_moves_both_pointers_is_three_statements_and_one_write(
    alice, bob, django_capture_on_commit_callbacks
):
    """The chat, the membership and one UPDATE (bench/capacity.py measured the read mark
    as most of the database's CPU per message when it took eight); the event's unread
    counts are read after it, in events.py."""
    from unittest import mock

    from django.test.utils import CaptureQueriesContext

    chat = make_chat(alice, bob)
    make_messages(chat, bob, 3)
    with (
        mock.patch.object(services.events, "chat_read") as announced,
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as queries,
    ):
        assert services.chat_mark_read(user=alice, chat_id=chat.pk, seq=2) == 2
    statements = [q["sql"].lstrip().upper() for q in queries]
    assert len(statements) == 3, statements
    assert [s.split()[0] for s in statements] == ["SELECT", "SELECT", "UPDATE"]
    announced.assert_called_once()
    membership = Membership.objects.get(user=alice, chat=chat)
    assert (membership.read_seq, membership.delivered_seq) == (2, 2)
    # The delivered pointer alone ahead: the read pointer still moves, never the other back.
    Membership.objects.filter(pk=membership.pk).update(delivered_seq=3)
    assert services.chat_mark_read(user=alice, chat_id=chat.pk, seq=3) == 3
    membership.refresh_from_db()
    assert (membership.read_seq, membership.delivered_seq) == (3, 3)


def test_typing_over_the_per_chat_limit_runs_no_query(alice, bob, django_assert_num_queries):
    chat = make_chat(alice, bob)
    services.chat_typing(user=alice, chat_id=chat.pk)
    services.chat_typing(user=alice, chat_id=chat.pk)
    with django_assert_num_queries(0):
        services.chat_typing(user=alice, chat_id=chat.pk)


@pytest.mark.django_db
def test_reading_with_receipts_off_still_tells_the_sender_it_was_delivered(
    alice, bob, monkeypatch, django_capture_on_commit_callbacks
):
    from chats import events

    bob.send_read_receipts = False
    bob.save(update_fields=["send_read_receipts"])
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 2)
    delivered, read = [], []
    monkeypatch.setattr(events, "chat_delivered", lambda **kw: delivered.append(kw))
    monkeypatch.setattr(events, "chat_read", lambda **kw: read.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        services.chat_mark_read(user=bob, chat_id=chat.pk, seq=2)
    assert [(d["peer_id"], d["seq"], d["user"].pk) for d in delivered] == [(alice.pk, 2, bob.pk)]
    assert [r["peer_id"] for r in read] == [None]  # the read itself stays private
