"""chats/search_text.py: the query language, the folding and the engines' query texts."""

import pytest

from chats.search_text import (
    CASEFOLD_FROM,
    CASEFOLD_TO,
    LATIN_MARKS,
    SEPARATORS,
    Query,
    fold,
    fts5_query,
    parse,
    tsquery,
    words,
)


def test_words_phrases_and_filters():
    query = parse('Meet "the Red  house" from:Bob in:carol_1 café-bar "unclosed phrase')
    assert query.prefixes == ["meet", "cafe", "bar"]
    assert query.phrases == [["the", "red", "house"], ["unclosed", "phrase"]]
    assert (query.sender, query.peer) == ("Bob", "carol_1")


@pytest.mark.parametrize("raw", ["", " ", "x", " y ", '"'])
def test_short_queries_are_empty(raw):
    assert parse(raw).empty


def test_punctuation_only_is_empty_but_a_filter_alone_is_not():
    assert parse("&& !! ::").empty
    assert not parse("from:bob").empty and not parse("from:bob").has_text


def test_engine_texts_hold_only_letters_digits_and_their_own_operators():
    query = parse("""it's "a 'b' c" x:* <-> NEAR(""")
    assert tsquery(query) == "it:* & s:* & x:* & near:* & a <-> b <-> c"
    assert fts5_query(query) == '"it"* AND "s"* AND "x"* AND "near"* AND "a b c"'
    assert tsquery(Query()) == "" and fts5_query(Query()) == ""


def test_folding_keeps_the_length_and_folds_as_fts5():
    text = "Café ÆØ İstanbul Ğ ß ΟΔΟΣ ὁδός Tiếng Việt Привет ёлка \u017f µ"
    assert fold(text) == "cafe æø istanbul g ß οδοσ ὁδόσ tieng viet привет ёлка s μ"
    assert len(fold(text)) == len(text) and len(CASEFOLD_FROM) == len(CASEFOLD_TO)
    # Each is written into the migration's SQL literals.
    assert "'" not in CASEFOLD_FROM + CASEFOLD_TO + SEPARATORS + LATIN_MARKS


def test_words_are_runs_of_letters_and_digits():
    assert words("alice@example.com, example.com/path?x=1; 3.14 <b>it\u2019s</b> user_name") == [
        "alice", "example", "com", "example", "com", "path", "x", "1", "3", "14", "b", "it",
        "s", "b", "user", "name",
    ]  # fmt: skip


@pytest.mark.django_db
def test_the_database_indexes_what_the_queries_fold():
    """What the migrated database holds, not the migration's text: a rule changed here
    without a migration that rebuilds the column fails."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
                "ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
                "WHERE d.adrelid = 'chats_message'::regclass AND a.attname = 'search'"
            )
            (expression,) = cursor.fetchone()
            for piece in (LATIN_MARKS, SEPARATORS, CASEFOLD_FROM, CASEFOLD_TO):
                assert f"'{piece}'::text" in expression
        else:
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'chats_message_fts'")
            (table,) = cursor.fetchone()
            assert "remove_diacritics 2" in table
