"""Benchmark databases: a migrated template cloned per phase (PostgreSQL) or copied (SQLite)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import psycopg
from psycopg import sql

from bench.config import ROOT, Config, django_env


def _admin(config: Config) -> psycopg.Connection:
    return psycopg.connect(f"{config.pg_url}/postgres", autocommit=True)


def drop_pg(config: Config, suffix: str) -> None:
    with _admin(config) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(config.db_name(suffix))
            )
        )


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )


def make_template(config: Config) -> None:
    """Create and migrate the template database (and SQLite template file) from scratch."""
    migrate(django_env(config, fresh_empty_pg(config, "template")))
    config.tmp.mkdir(parents=True, exist_ok=True)
    sqlite_template = config.tmp / "template.sqlite3"
    sqlite_template.unlink(missing_ok=True)
    migrate(django_env(config, f"sqlite:///{sqlite_template}"))


def fresh_empty_pg(config: Config, suffix: str) -> str:
    """A new empty database (to migrate); returns its URL."""
    drop_pg(config, suffix)
    with _admin(config) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config.db_name(suffix))))
    return config.db_url(suffix)


def fresh_pg(config: Config, suffix: str) -> str:
    """A new database cloned from the template; returns its URL."""
    drop_pg(config, suffix)
    with _admin(config) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(config.db_name(suffix)), sql.Identifier(config.db_name("template"))
            )
        )
    return config.db_url(suffix)


def fresh_sqlite(config: Config, name: str) -> str:
    path = config.tmp / f"{name}.sqlite3"
    for extra in ("", "-wal", "-shm"):
        path.with_name(path.name + extra).unlink(missing_ok=True)
    shutil.copyfile(config.tmp / "template.sqlite3", path)
    return f"sqlite:///{path}"
