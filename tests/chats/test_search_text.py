"""chats/search_text.py: the query language, the folding and the engines' query texts."""

import pytest

from chats.search_text import FOLD_FROM, FOLD_TO, Query, fold, fts5_query, parse, tsquery


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


def test_folding_keeps_the_length_and_matches_the_migration_table():
    assert fold("Café ÆØ İstanbul Ğ ß") == "cafe æø istanbul g ß"
    assert len(FOLD_FROM) == len(FOLD_TO) > 100
    assert "'" not in FOLD_FROM + FOLD_TO  # safe inside the migration's SQL literal


@pytest.mark.django_db
def test_the_database_folds_as_the_queries_do():
    """What the migrated database holds, not the migration's text: a fold table changed
    here without a migration that rebuilds the column fails."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
                "ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
                "WHERE d.adrelid = 'chats_message'::regclass AND a.attname = 'search'"
            )
            (expression,) = cursor.fetchone()
            assert FOLD_FROM in expression and FOLD_TO in expression
        else:
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'chats_message_fts'")
            (table,) = cursor.fetchone()
            assert "remove_diacritics 2" in table
