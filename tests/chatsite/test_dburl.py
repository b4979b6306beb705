"""DATABASE_URL with several hosts (chatsite/dburl.py): libpq's host and port lists."""

import os
import socket

import psycopg
import pytest
from django.db import connection, connections

from chatsite.dburl import database_from_url


def test_one_host_is_dj_database_urls():
    parsed = database_from_url("postgres://u:p@db1:6432/chat?sslmode=require")
    assert (parsed["HOST"], parsed["PORT"], parsed["NAME"]) == ("db1", 6432, "chat")
    assert parsed["OPTIONS"] == {"sslmode": "require"}


def test_several_hosts_become_libpqs_lists_with_the_query_options():
    parsed = database_from_url(
        "postgres://chat:s3cret@db1:5433,db2,[::1]:5434/chatsite?target_session_attrs=read-write"
    )
    assert parsed["ENGINE"] == "django.db.backends.postgresql"
    assert (parsed["USER"], parsed["PASSWORD"], parsed["NAME"]) == ("chat", "s3cret", "chatsite")
    assert parsed["HOST"] == "db1,db2,::1"
    assert parsed["PORT"] == "5433,5432,5434"
    assert parsed["OPTIONS"] == {"target_session_attrs": "read-write"}


def test_several_hosts_without_credentials():
    parsed = database_from_url("postgres://db1,db2/chatsite")
    assert (parsed["HOST"], parsed["PORT"], parsed["USER"]) == ("db1,db2", "5432,5432", "")


@pytest.mark.django_db
def test_a_dead_first_host_is_skipped_for_the_writable_one():
    if connection.vendor != "postgresql":
        pytest.skip("a multi-host URL is PostgreSQL's (libpq's)")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    real = database_from_url(os.environ["DATABASE_URL"])
    url = (
        f"postgres://{real['USER']}@127.0.0.1:{dead},127.0.0.1:{real['PORT'] or 5432}"
        f"/{connection.settings_dict['NAME']}?target_session_attrs=read-write"
    )
    settings_dict = {**connection.settings_dict, **database_from_url(url)}
    settings_dict["OPTIONS"] = {k: v for k, v in settings_dict["OPTIONS"].items() if k != "pool"}
    params = type(connections["default"])(settings_dict).get_connection_params()
    with psycopg.connect(**params) as conn:
        assert conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,)
        assert conn.info.port == int(real["PORT"] or 5432)
