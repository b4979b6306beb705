"""chats.search.message_search on the database's own index (PostgreSQL's tsvector, SQLite's
FTS5), which follows every write of a body: sends on every path, edits, deletions and
moderators' removals."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chats import message_changes, moderation, services
from chats.models import Message
from chats.search import MAX_EXPANSION, BadCursor, message_search
from tests.chats.test_rules import PATHS, store
from tests.factories import UserFactory, make_chat, message_at

pytestmark = pytest.mark.django_db


def send(sender, chat, body):
    message, _new = services.message_send(
        sender=sender, chat_id=chat.pk, client_id=str(uuid.uuid4()), body=body
    )
    return message


def found(user, query, **kwargs):
    page = message_search(user=user, query=query, **kwargs)
    return [(hit.chat_id, hit.seq) for hit in page.results]


@pytest.fixture
def chat(alice, bob):
    return make_chat(alice, bob)


@pytest.mark.parametrize("path", PATHS)
def test_a_message_stored_by_any_send_path_is_found_by_both_members(path, alice, bob, chat):
    store(path, alice, chat, ["lunch at the harbour?"])
    assert found(alice, "harbour") == [(chat.pk, 1)]
    assert found(bob, "harbour") == [(chat.pk, 1)]


def test_another_users_chat_never_appears_even_with_the_exact_words(alice, bob, carol, chat):
    other = make_chat(bob, carol)
    send(bob, other, "the secret password is swordfish")
    send(alice, chat, "nothing to see here")
    assert found(alice, "swordfish") == []
    assert found(alice, '"the secret password is swordfish"') == []
    assert found(carol, "swordfish") == [(other.pk, 1)]


def test_deleted_text_is_never_found(alice, chat):
    send(alice, chat, "my address is 12 Elm Street")
    message_changes.message_delete(user=alice, chat_id=chat.pk, seq=1)
    assert found(alice, "Elm") == []
    assert found(alice, "from:" + alice.username) == []


def test_removed_text_is_never_found_though_moderators_keep_it(alice, bob, carol, chat):
    send(bob, chat, "buy cheap watches here")
    moderation.message_remove(message=message_at(chat, 1), moderator=carol, reason="spam")
    assert found(alice, "watches") == []
    assert message_at(chat, 1).body == "buy cheap watches here"


def test_an_edit_replaces_the_indexed_text_at_once(alice, chat):
    send(alice, chat, "see you at the station")
    message_changes.message_edit(user=alice, chat_id=chat.pk, seq=1, body="see you at the airport")
    assert found(alice, "airport") == [(chat.pk, 1)]
    assert found(alice, "station") == []


@pytest.mark.parametrize(
    ("body", "query"),
    [
        ("Café au lait?", "cafe"),
        ("cafe au lait?", "CAFÉ"),
        ("Ærøskøbing and Zürich", "zurich"),
        ("Привет, как дела?", "привет"),
        ("ÉCOLE normale", "école"),
    ],
)
def test_case_and_accents_fold(alice, chat, body, query):
    send(alice, chat, body)
    assert found(alice, query) == [(chat.pk, 1)]


# Each query is run on whichever database the suite runs on: both legs expect these hits.
SAME_WORDS = [
    ("mail alice@example.com today", "alice", True),
    ("mail alice@example.com today", "example", True),
    ("mail alice@example.com today", "alice@example.com", True),
    ("mail alice@example.com today", '"alice@example.com today"', True),
    ("mail alice@example.com today", "alice@other.com", False),
    ("see example.com/path/to?page=2", "example.com", True),
    ("see example.com/path/to?page=2", "path", True),
    ("see example.com/path/to?page=2", "page=2", True),
    ("see https://docs.example.org/guide", "docs.example", True),
    ("see https://docs.example.org/guide", "guide", True),
    ("pi is 3.14 or so", "3.14", True),
    ("pi is 3.14 or so", "14", True),
    ("pi is 3.14 or so", '"3 14"', True),
    ("version v1.2.3-beta", "beta", True),
    ("<b>bold</b> move", "bold", True),
    ("call user_name now", "name", True),
    ("it\u2019s «quoted» here", "quoted", True),
    ("Привет, как дела?", "привет", True),
    ("привет всем", "ПРИВЕТ", True),
    ("привет всем", "прив", True),
    ("ёлка", "елка", False),
    ("Καλημέρα κόσμε", "ΚΑΛΗΜΈΡΑ", True),
    ("Καλημέρα κόσμε", "καλημέρα", True),
    ("Καλημέρα κόσμε", "καλημερα", False),  # Greek keeps its accents on both engines
    ("ΟΔΟΣ", "οδος", True),
    ("Café au lait", "cafe", True),
    ("cafe au lait", "Café", True),
    ("Tiếng Việt", "tieng viet", True),
    ("the meeting moved", "meet", True),
]


@pytest.mark.parametrize(("body", "query", "hit"), SAME_WORDS)
def test_both_engines_cut_and_fold_words_alike(alice, chat, body, query, hit):
    send(alice, chat, body)
    assert found(alice, query) == ([(chat.pk, 1)] if hit else [])


def test_words_match_by_prefix_and_all_must_match(alice, chat):
    send(alice, chat, "the meeting moved to Tuesday")
    send(alice, chat, "meet me at noon")
    assert found(alice, "meet") == [(chat.pk, 2), (chat.pk, 1)]
    assert found(alice, "meet tues") == [(chat.pk, 1)]
    assert found(alice, "meetings") == []


def test_a_quoted_phrase_matches_words_in_order(alice, chat):
    send(alice, chat, "the red house on the hill")
    send(alice, chat, "the house is red")
    assert found(alice, '"red house"') == [(chat.pk, 1)]
    assert found(alice, "red house") == [(chat.pk, 2), (chat.pk, 1)]


def test_from_and_in_filter(alice, bob, carol, chat):
    other = make_chat(alice, carol)
    send(alice, chat, "pizza tonight?")
    send(bob, chat, "pizza sounds great")
    send(carol, other, "pizza again")
    assert found(alice, f"pizza from:{bob.username}") == [(chat.pk, 2)]
    assert found(alice, f"pizza from:{alice.username.upper()}") == [(chat.pk, 1)]
    assert found(alice, f"pizza in:{carol.username}") == [(other.pk, 1)]
    assert found(alice, f"in:{bob.username}") == [(chat.pk, 2), (chat.pk, 1)]
    assert found(alice, f"pizza in:{alice.username}") == []
    assert found(alice, "pizza from:no/such/name") == []


@pytest.mark.parametrize("query", ["", " ", "a", '"', "  x  "])
def test_an_empty_or_one_character_query_finds_nothing_without_a_statement(
    alice, chat, query, django_assert_num_queries
):
    with django_assert_num_queries(0):
        page = message_search(user=alice, query=query)
    assert page.results == [] and page.next is None


def test_one_statement_per_page(alice, bob, chat, django_assert_num_queries):
    """On PostgreSQL the searcher's chat ids are read first, so the page's statement
    carries them as a list (its planner then knows the searcher's share of the table)."""
    for i in range(3):
        send(bob, chat, f"report number {i}")
    with django_assert_num_queries(1 if connection.vendor == "sqlite" else 2):
        page = message_search(user=alice, query="report")
    hit = page.results[0]
    assert (hit.sender, hit.peer, hit.seq) == (bob.username, bob.username, 3)


def test_the_snippet_is_escaped_text_with_marks_around_the_matches(alice, chat):
    send(alice, chat, "<script>alert(1)</script> and <mark>fake</mark> alert & more")
    (hit,) = message_search(user=alice, query="alert").results
    assert str(hit.snippet) == (
        "&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt; and &lt;mark&gt;fake&lt;/mark&gt; "
        "<mark>alert</mark> &amp; more"
    )


def test_a_long_snippet_starts_near_the_first_match(alice, chat):
    send(alice, chat, "word " * 40 + "Zürich airport " + "tail " * 60)
    (hit,) = message_search(user=alice, query="zurich").results
    text = str(hit.snippet)
    assert text.startswith("…") and text.endswith("…")
    assert "<mark>Zürich</mark> airport" in text
    assert len(text) < 200


def test_newest_first_pages_by_keyset_cursor(alice, bob, chat):
    for i in range(5):
        send(alice, chat, f"note {i}")
    first = message_search(user=alice, query="note", limit=2)
    assert [h.seq for h in first.results] == [5, 4]
    second = message_search(user=alice, query="note", limit=2, before=first.next)
    assert [h.seq for h in second.results] == [3, 2]
    third = message_search(user=alice, query="note", limit=2, before=second.next)
    assert [h.seq for h in third.results] == [1] and third.next is None


def test_a_common_word_pages_newest_first_across_chats_and_the_cursor_continues(
    alice, bob, carol, chat
):
    dave = UserFactory(username="dave")
    peers = [bob, carol, dave]
    chats = [chat, make_chat(alice, carol), make_chat(dave, alice)]
    foreign = make_chat(bob, carol)
    mine, deleted = [], None
    for i in range(66):
        sender = alice if i % 2 else peers[i % 3]
        message = send(sender, chats[i % 3], f"the note {i}" if i % 5 else f"other {i}")
        send(bob, foreign, f"the foreign note {i}")
        if i % 5:
            mine.append((message.chat_id, message.seq))
        if i == 61:
            deleted = mine.pop()
            message_changes.message_delete(user=alice, chat_id=deleted[0], seq=deleted[1])
    expected = list(reversed(mine))
    pages = [message_search(user=alice, query="the")]
    while pages[-1].next:
        pages.append(message_search(user=alice, query="the", before=pages[-1].next))
    assert [len(page.results) for page in pages] == [20, 20, 11]
    assert [(h.chat_id, h.seq) for page in pages for h in page.results] == expected


def test_newest_first_is_the_order_messages_were_stored(alice, chat):
    send(alice, chat, "late note")
    early = send(alice, chat, "early note")
    Message.objects.filter(pk=early.pk).update(created_at=early.created_at - timedelta(days=1))
    assert found(alice, "note") == [(chat.pk, 2), (chat.pk, 1)]


@pytest.mark.parametrize("count", [3, MAX_EXPANSION + 1])
def test_a_word_finds_every_word_it_starts_however_many_there_are(alice, chat, count):
    for i in range(count):
        send(alice, chat, f"code{i:03d}x here")
    send(alice, chat, "cod liver")
    send(alice, chat, "encode")
    assert found(alice, "code", limit=100) == [(chat.pk, n) for n in range(count, 0, -1)]
    assert found(alice, "cod", limit=100) == [(chat.pk, n) for n in range(count + 1, 0, -1)]
    assert found(alice, "code here", limit=2) == [(chat.pk, count), (chat.pk, count - 1)]


def test_relevance_ranks_more_matches_first(alice, chat):
    send(alice, chat, "budget")
    send(alice, chat, "unrelated words and then budget")
    send(alice, chat, "budget budget budget")
    results = message_search(user=alice, query="budget", sort="relevance").results
    assert results[0].seq == 3 and len(results) == 3


@pytest.mark.parametrize("cursor", ["x", "1.", ".1", "1.2.3", "o1000", "-5.1", "12²", "1" * 21])
def test_a_foreign_cursor_is_refused(alice, chat, cursor):
    send(alice, chat, "note")
    sort = "relevance" if cursor.startswith("o") else "newest"
    with pytest.raises(BadCursor):
        message_search(user=alice, query="note", before=cursor, sort=sort)


def test_query_syntax_never_reaches_the_engine_unquoted(alice, chat):
    send(alice, chat, "a & b | c ! d")
    for query in ["& | !", "NEAR(x y)", "'quote' \"unclosed", "col:x* OR ^y", "AND OR NOT"]:
        message_search(user=alice, query=query)  # no error from tsquery or FTS5 syntax
    assert found(alice, "a:* & b") == [(chat.pk, 1)]


def test_the_index_is_in_place_after_all_migrations():
    """A migration that makes Django rebuild the message table on SQLite drops triggers."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'chats_message'"
            )
            names = {row[0] for row in cursor.fetchall()}
            assert {"chats_message_fts_insert", "chats_message_fts_delete"} <= names
            assert "chats_message_fts_update" in names
        else:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'chats_message_search'"
            )
            assert "gin (search)" in cursor.fetchone()[0]


def test_the_statement_is_served_by_the_full_text_index(alice, bob, chat):
    send(alice, chat, "harbour lights")
    with CaptureQueriesContext(connection) as ctx:
        message_search(user=alice, query='harbour "harbour lights"')
    sql = ctx.captured_queries[-1]["sql"]  # the page's (on PostgreSQL after the chat ids)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = [str(row[-1]) for row in cursor.fetchall()]
            # FTS5 drives the walk in its rowid (message id) order, newest first, and the
            # statement stops at the page: no sort of every match.
            assert plan[0].startswith("SCAN chats_message_fts VIRTUAL TABLE INDEX")
            assert not any("TEMP B-TREE" in step for step in plan)
            assert any("chats_message_terms VIRTUAL TABLE" in step for step in plan)
        else:
            # A rare word in a chat of thousands, with statistics, as a search at scale meets
            # it (in a tiny table with whatever statistics the suite left, the planner may
            # rightly prefer the chat's own index and filter).
            filler = [
                Message(chat=chat, sender=bob, seq=100 + i, client_id=f"f{i}", body=f"filler {i}")
                for i in range(3000)
            ]
            Message.objects.bulk_create(filler)
            cursor.execute("ANALYZE chats_message")
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "chats_message_search" in plan
