"""Each rule of chats/rules.py on every path that implements it: the portable way
(services.message_send_batch, the ORM and plain SQL, SQLite and PostgreSQL) and, on
PostgreSQL, the one statement the socket's send path runs (rules.send_one_chat_sql). One
suite, parametrized over the paths: a rule that drifts on one of them fails here."""

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from chats import rules, selectors, services
from chats.models import Chat, Membership, Message
from chats.validation import Refused
from tests.factories import make_chat, make_messages

pytestmark = pytest.mark.django_db

POSTGRESQL = connection.vendor == "postgresql"
PATHS = ["portable", "statement"] if POSTGRESQL else ["portable"]


@pytest.fixture(params=PATHS)
def path(request):
    return request.param


def store(path, sender, chat, bodies):
    """Send `bodies` to `chat` in one batch by `path`: [(seq, version)], or the refusal's
    code; the statement path also returns the unread counts it worked out."""
    sends = [(f"{chat.pk}-{sender.pk}-{body}", body) for body in bodies]
    if path == "portable":
        batch = [services.Send(i, chat.pk, cid, body) for i, (cid, body) in enumerate(sends)]
        results = services.message_send_batch(sender=sender, sends=batch)
        if isinstance(results[0], Refused):
            return results[0].code, None
        return [(m.seq, m.version) for m, _new in results.values()], None
    params = rules.send_one_chat_params(
        user_id=sender.pk, chat_id=chat.pk, now=timezone.now(), sends=sends
    )
    with connection.cursor() as cursor:
        cursor.execute(rules.send_one_chat_sql(len(sends)), params)
        rows = cursor.fetchall()
    if not rows:
        return "refused", None
    _, _, last, version, peer, sender_total, peer_unread, peer_total = rows[0]
    n = len(sends)
    counts = {
        (chat.pk, sender.pk): (0, sender_total),
        (chat.pk, peer): (peer_unread, peer_total),
    }
    return [(last - n + k, version - n + k) for k in range(1, n + 1)], counts


def refused(result):
    return isinstance(result, str)


# Who may send: members, with no block between the two.


def test_a_member_may_send(path, alice, bob):
    chat = make_chat(alice, bob)
    stored, _ = store(path, alice, chat, ["hi"])
    assert stored == [(1, 1)]
    assert Message.objects.get().sender_id == alice.pk


def test_a_non_member_may_not_and_nothing_is_taken(path, alice, bob, carol):
    chat = make_chat(alice, bob)
    stored, _ = store(path, carol, chat, ["let me in"])
    assert refused(stored)
    assert Message.objects.count() == 0
    assert Chat.objects.filter(pk=chat.pk, last_seq=0, version=0).exists()


def test_membership_is_the_membership_rows(path, alice, bob):
    """A user named in the chat's pair but without a Membership row may not send."""
    chat = make_chat(alice, bob)
    Membership.objects.filter(chat=chat, user=alice).delete()
    stored, _ = store(path, alice, chat, ["hi"])
    assert refused(stored)


@pytest.mark.parametrize("direction", ["sender blocked the peer", "peer blocked the sender"])
def test_a_block_either_way_refuses_and_nothing_is_taken(path, alice, bob, direction):
    chat = make_chat(alice, bob)
    blocker, blocked = (alice, bob) if direction.startswith("sender") else (bob, alice)
    services.block_user(blocker=blocker, blocked=blocked)
    stored, _ = store(path, alice, chat, ["hi"])
    assert refused(stored)
    assert Message.objects.count() == 0
    assert Chat.objects.get(pk=chat.pk).version == 0


def test_a_peer_whose_account_was_deleted_takes_no_message_and_nothing_is_taken(path, alice, bob):
    chat = make_chat(alice, bob)
    User.objects.filter(pk=bob.pk).update(deleted_at=timezone.now())
    stored, _ = store(path, alice, chat, ["still there?"])
    assert refused(stored)
    assert Message.objects.count() == 0
    assert Chat.objects.get(pk=chat.pk).version == 0


# Seqs and versions.


def test_seqs_and_versions_are_gapless_and_per_chat(path, alice, bob, carol):
    ab, ac = make_chat(alice, bob), make_chat(alice, carol)
    assert store(path, alice, ab, ["1", "2"])[0] == [(1, 1), (2, 2)]
    assert store(path, bob, ab, ["3"])[0] == [(3, 3)]
    assert store(path, alice, ac, ["a"])[0] == [(1, 1)]
    chat = Chat.objects.get(pk=ab.pk)
    assert (chat.last_seq, chat.version) == (3, 3)
    assert sorted(Message.objects.filter(chat=ab).values_list("seq", "version")) == [
        (1, 1),
        (2, 2),
        (3, 3),
    ]


def test_a_change_takes_the_next_version_and_new_messages_go_on_from_it(path, alice, bob):
    chat = make_chat(alice, bob)
    store(path, alice, chat, ["1", "2"])
    first = Message.objects.get(chat=chat, seq=1)
    with transaction.atomic():
        assert rules.message_version_take(message=first) == 3
    assert store(path, bob, chat, ["3"])[0] == [(3, 4)]
    assert dict(Message.objects.values_list("seq", "version")) == {1: 3, 2: 2, 3: 4}


# Replying marks read.


def test_replying_marks_everything_before_it_read_and_received(path, alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 3)
    store(path, alice, chat, ["reply"])
    mine = Membership.objects.get(chat=chat, user=alice)
    assert (mine.read_seq, mine.delivered_seq) == (4, 4)
    theirs = Membership.objects.get(chat=chat, user=bob)
    assert (theirs.read_seq, theirs.delivered_seq) == (3, 3)


# Unread counts: what the statement works out is what the selector reads afterwards.


def test_unread_counts_are_the_selectors(path, alice, bob, carol):
    ab, cb = make_chat(alice, bob), make_chat(carol, bob)
    make_messages(cb, carol, 2)  # bob: 2 unread elsewhere
    make_messages(ab, bob, 1)  # alice: 1 unread here, read by her reply
    _stored, counts = store(path, alice, ab, ["x", "y"])
    after = selectors.unread_of_members(chat_ids=[ab.pk])
    assert after == {(ab.pk, alice.pk): (0, 0), (ab.pk, bob.pk): (2, 4)}
    if counts is not None:
        assert counts == after


# A change to a message: the ORM form and its SQL twin.


def change_message(path, message, assignments="", params=None):
    with transaction.atomic():
        if path == "portable":
            return rules.message_version_take(message=message)
        with connection.cursor() as cursor:
            cursor.execute(
                rules.message_change_sql(assignments),
                {"message": message.pk, "chat": message.chat_id, **(params or {})},
            )
            row = cursor.fetchone()
        return None if row is None else row[0]


def test_a_change_to_a_message_is_recorded_on_its_row(path, alice, bob, carol):
    ab, ac = make_chat(alice, bob), make_chat(alice, carol)
    first, second = make_messages(ab, alice, 2)
    make_messages(ac, alice, 3)
    assert change_message(path, first) == 3
    assert change_message(path, second) == 4
    assert change_message(path, first) == 5
    assert dict(Message.objects.filter(chat=ab).values_list("seq", "version")) == {1: 5, 2: 4}
    assert Chat.objects.get(pk=ac.pk).version == 3


@pytest.mark.skipif(not POSTGRESQL, reason="the SQL twin is PostgreSQL's")
def test_the_sql_twin_applies_the_change_and_refuses_a_foreign_chat(alice, bob, carol):
    ab, ac = make_chat(alice, bob), make_chat(alice, carol)
    [message] = make_messages(ab, alice, 1)
    assert change_message("statement", message, "removed_reason = %(why)s", {"why": "x"}) == 2
    message.refresh_from_db()
    assert (message.version, message.removed_reason) == (2, "x")
    assert change_message("statement", Message(pk=message.pk, chat_id=ac.pk)) is None
    assert Chat.objects.get(pk=ac.pk).version == 0


# Membership: the Membership rows, by the ORM filter and by the SQL of the send statement.


def members_by(path, user, chat):
    """Whether `user` is a member of `chat` by `path`, and the members the rule lists."""
    if path == "portable":
        member = Chat.objects.filter(rules.member_of(user.pk), pk=chat.pk).exists()
    else:
        member = chat.pk in rules.send_targets(user_id=user.pk, chat_ids=[chat.pk])
    return member, rules.members_of(chat_ids=[chat.pk]).get(chat.pk, [])


@pytest.mark.parametrize("way", ["portable", "sql"])
def test_membership_is_a_membership_row_not_the_pair(way, alice, bob, carol):
    chat = make_chat(alice, bob)
    assert members_by(way, alice, chat) == (True, sorted([alice.pk, bob.pk]))
    assert members_by(way, carol, chat)[0] is False
    Membership.objects.filter(chat=chat, user=alice).delete()
    assert members_by(way, alice, chat) == (False, [bob.pk])
    with pytest.raises(Chat.DoesNotExist):
        selectors.chat_get_for_member(user_id=alice.pk, chat_id=chat.pk)


def test_members_of_no_chats_asks_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert rules.members_of(chat_ids=[]) == {}


# Blocks: either way between two users; the ORM form (alone, and in the chat list that
# hello reads) and its SQL twin.

BLOCK_PATHS = ["portable", "chat list", "sql"]


def blocked_by(path, user, peers):
    ids = [p.pk for p in peers]
    if path == "portable":
        return rules.blocked_peers(user_id=user.pk, peer_ids=ids)
    if path == "chat list":
        summaries = selectors.chat_summaries(user_id=user.pk)
        return {s.peer.pk for s in summaries if s.blocked and s.peer.pk in ids}
    with connection.cursor() as cursor:
        marks = ", ".join(["%s"] * len(ids))
        cursor.execute(
            f"SELECT u.id FROM accounts_user u WHERE u.id IN ({marks}) "
            f"AND {rules.block_between_sql('%s', 'u.id')}",
            [*ids, user.pk, user.pk],
        )
        return {peer for (peer,) in cursor.fetchall()}


@pytest.mark.parametrize("path", BLOCK_PATHS)
def test_a_block_stands_between_two_users_either_way(path, alice, bob, carol, user_factory):
    dave, erin = user_factory(username="dave"), user_factory(username="erin")
    pairs = [(alice, bob), (alice, carol), (alice, dave), (alice, erin), (bob, carol), (erin, bob)]
    for a, b in pairs:  # the chat list path reads blocks with the chats
        make_chat(a, b)
    services.block_user(blocker=alice, blocked=bob)  # alice blocked bob
    services.block_user(blocker=carol, blocked=alice)  # carol blocked alice
    services.block_user(blocker=dave, blocked=erin)  # not alice's
    assert blocked_by(path, alice, [bob, carol, dave, erin]) == {bob.pk, carol.pk}
    assert blocked_by(path, bob, [alice, carol]) == {alice.pk}
    assert blocked_by(path, erin, [alice, bob]) == set()
    services.unblock_user(blocker=alice, blocked=bob)
    assert blocked_by(path, alice, [bob, carol]) == {carol.pk}


# Delete for everyone: one message (message_delete) or every message of a leaving account
# (messages_erase_of, whose versions rules.versions_write writes in one statement).
@pytest.mark.parametrize("way", ["one", "all of an account"])
def test_delete_for_everyone_leaves_the_same_row_by_either_writer(way, alice, bob):
    from chats import message_changes
    from chats.models import MessageEdit, Reaction

    chat = make_chat(alice, bob)
    [message] = make_messages(chat, alice, 1)
    MessageEdit.objects.create(message=message, body="an earlier text")
    Reaction.objects.create(message=message, user=bob, emoji="👍")
    before = Chat.objects.get(pk=chat.pk).version
    if way == "one":
        message_changes.message_delete(user=alice, chat_id=chat.pk, seq=message.seq)
    else:
        assert message_changes.messages_erase_of(user=alice) == 1
    message.refresh_from_db()
    assert (message.body, message.deleted_at is not None) == ("", True)
    assert message.version == Chat.objects.get(pk=chat.pk).version == before + 1
    assert not MessageEdit.objects.exists() and not Reaction.objects.exists()
