"""Data rows B7 (user search), B8 (history pages), B9 (chat list) and the send path's cost.

Runs in its own process with Django configured for one benchmark database (PostgreSQL or
SQLite), seeds it in bulk and times the real selectors in-process.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from bench import seed
from bench.client import percentiles
from bench.plans import full_scan


def capture() -> CaptureQueriesContext:
    """The statements run inside the block. Django keeps the last 9,000 of a connection and
    the context counts from the log's length, so once the log is full every block would
    look empty: it starts from an empty log instead."""
    connection.queries_log.clear()
    return CaptureQueriesContext(connection)


def timed(
    fn: Callable[[], Any], *, runs: int, budget: float = 15.0
) -> tuple[dict[str, float], list[int]]:
    """Latency percentiles (ms) of `fn` over `runs` calls, and the query count of each call.

    A slow path stops after `budget` seconds (and at least 20 calls), so a sequential scan
    at a million rows does not take an hour; the count of calls is in the result.
    """
    fn()  # warm the connection and caches once
    times: list[float] = []
    counts: list[int] = []
    deadline = time.perf_counter() + budget
    for i in range(runs):
        if i >= 20 and time.perf_counter() > deadline:
            break
        with capture() as captured:
            started = time.perf_counter()
            fn()
            times.append((time.perf_counter() - started) * 1000)
        counts.append(len(captured.captured_queries))
    return percentiles(times), sorted(set(counts))


def explain(sql: str, params: Any = None) -> str:
    """The plan: PostgreSQL's with actual rows and times (the statement runs once more)."""
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ANALYZE "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        rows = cursor.fetchall()
    if connection.vendor == "sqlite":
        return "\n".join(str(row[-1]) for row in rows)
    return "\n".join(row[0] for row in rows)


def statements_of(fn: Callable[[], Any]) -> list[str]:
    """The reads (SELECT, WITH ... SELECT) one call of `fn` issues."""
    with capture() as captured:
        fn()
    sqls = [query["sql"] for query in captured.captured_queries]
    return [sql for sql in sqls if sql.lstrip().upper().startswith(("SELECT", "WITH"))]


def plans_of(fn: Callable[[], Any]) -> list[str]:
    return [f"{sql}\n--\n{explain(sql)}" for sql in statements_of(fn)]


# B7: user search.

SEARCH_LENGTHS = (1, 2, 3, 5)


def b7(*, sizes: list[int], runs: int) -> dict[str, Any]:
    """accounts.selectors.user_search for random prefixes of existing names, at each size.

    Some blocks are seeded (the search reads them with the rows), a few of them involving
    the searcher. The plans kept per prefix length are those of a query that issues the
    most statements (a 3-character prefix with fewer than 20 matches also runs the
    substring query).
    """
    from accounts.selectors import user_search
    from chats.models import Block

    out: dict[str, Any] = {
        "function": "accounts.selectors.user_search",
        "vendor": connection.vendor,
        "sizes": {},
    }
    names = seed.random_usernames(max(sizes))
    have = 0
    rng = random.Random(7)
    for size in sizes:
        started = time.perf_counter()
        ids = seed.seed_users(names[have:size])
        seed.seed_blocks(_some_blocks(ids, rng, searcher=have == 0))
        seed.analyze()
        have = size
        seeded = round(time.perf_counter() - started, 1)
        searcher = User.objects.order_by("pk").first()
        assert searcher is not None

        def search(query: str, viewer: User = searcher) -> Any:
            return user_search(viewer=viewer, query=query)

        per_length: dict[str, Any] = {}
        plans: dict[str, list[str]] = {}
        plan_queries: dict[str, str] = {}
        for length in SEARCH_LENGTHS:
            queries = [rng.choice(names[:size])[:length].lower() for _ in range(runs)]
            cycle = iter(queries * 2)
            stats, counts = timed(lambda c=cycle: search(next(c)), runs=runs)
            per_length[str(length)] = {**stats, "queries_per_call": counts}
            widest = max(queries[:50], key=lambda q: len(statements_of(lambda q=q: search(q))))
            plans[str(length)] = plans_of(lambda q=widest: search(q))
            plan_queries[str(length)] = widest
        scans = {
            length: any(
                full_scan(p.split("\n--\n", 1)[-1], User._meta.db_table, connection.vendor)
                for p in ps
            )
            for length, ps in plans.items()
        }
        out["sizes"][str(size)] = {
            "seed_seconds": seeded,
            "blocks": Block.objects.count(),
            "latency_ms": per_length,
            "full_scan": scans,
            "plans": plans,
            "plan_queries": plan_queries,
        }
    return out


def _some_blocks(ids: list[int], rng: random.Random, *, searcher: bool) -> list[tuple[int, int]]:
    """One block per 100 new users; with `searcher`, also 20 blocks made by the first of
    them (the searcher) and 20 against it."""
    pairs = {(a, b) for a, b in (rng.sample(ids, 2) for _ in range(len(ids) // 100))}
    if searcher:
        others = rng.sample(ids[1:], 40)
        pairs |= {(ids[0], o) for o in others[:20]} | {(o, ids[0]) for o in others[20:]}
    return sorted(pairs)


# B8 and B9: history and chat list.


def b8_b9(*, big_chat: int, spread_chats: int, per_chat: int, runs: int) -> dict[str, Any]:
    from chats import selectors
    from chats.models import Chat, Message

    started = time.perf_counter()
    users = seed.seed_users([f"hist{i:05d}" for i in range(spread_chats + 2)])
    owner = users[0]
    chats = seed.seed_chats([(owner, users[1])] + [(owner, u) for u in users[2:]])
    big = chats[0]
    seed.seed_messages(big, (owner, users[1]), big_chat, tag="big")
    specs = [(chat, (owner, users[2 + i]), per_chat) for i, chat in enumerate(chats[1:])]
    seed.seed_many_chats(specs, tag="spread")
    seed.analyze()
    seeded = round(time.perf_counter() - started, 1)
    total = Message.objects.count()

    first_stats, first_counts = timed(lambda: selectors.messages_before(chat_id=big), runs=runs)
    rng = random.Random(8)
    deep_stats, deep_counts = timed(
        lambda: selectors.messages_before(chat_id=big, before=rng.randint(2, 1000)),
        runs=runs,
    )
    first_page, _ = selectors.messages_before(chat_id=big)
    deep_page, _ = selectors.messages_before(chat_id=big, before=1001)
    assert len(first_page) == 50 and deep_page[-1].seq == 1000
    b8 = {
        "messages_total": total,
        "chat_messages": Chat.objects.get(pk=big).last_seq,
        "seed_seconds": seeded,
        "first_page_ms": {**first_stats, "queries_per_call": first_counts},
        "deep_page_ms": {**deep_stats, "queries_per_call": deep_counts},
        "plans": {
            "first": plans_of(lambda: selectors.messages_before(chat_id=big)),
            "deep": plans_of(lambda: selectors.messages_before(chat_id=big, before=1001)),
        },
    }
    list_stats, list_counts = timed(
        lambda: selectors.chat_summaries(user_id=owner), runs=max(20, runs // 5)
    )
    b9 = {
        "chats": len(selectors.chat_summaries(user_id=owner)),
        "latency_ms": {**list_stats, "queries_per_call": list_counts},
        "plans": plans_of(lambda: selectors.chat_summaries(user_id=owner)),
    }
    small_owner = users[2]
    small_stats, small_counts = timed(
        lambda: selectors.chat_summaries(user_id=small_owner), runs=max(20, runs // 5)
    )
    b9["one_chat_queries_per_call"] = small_counts
    b9["one_chat_latency_ms"] = small_stats
    return {"B8": b8, "B9": b9}


# The hot path: what one send costs in SQL statements and time on the database thread.


def send_path(*, runs: int) -> dict[str, Any]:
    import asyncio

    import psycopg

    from chats import services
    from chats.realtime import socket_work

    users = seed.seed_users(["sendpath_a", "sendpath_b"])
    (chat,) = seed.seed_chats([(users[0], users[1])])
    sender = User.objects.get(pk=users[0])
    recipient = User.objects.get(pk=users[1])
    counter = iter(range(10**9))
    loop = asyncio.new_event_loop()  # one loop, as in a server process: its connections stay

    def send() -> None:
        n = next(counter)
        frame = {"chat": chat, "client_id": f"sp-{n}", "body": f"hello {n}"}
        loop.run_until_complete(socket_work.send_batch(sender, [frame], {}))

    # The event-loop statements (psycopg's async driver, chats/realtime/pg_async.py) are not
    # Django's
    # queries: note them by wrapping the cursor for one call.
    traced: list[str] = []
    execute = psycopg.AsyncCursor.execute

    async def tracing(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        traced.append(str(query))
        return await execute(self, query, *args, **kwargs)

    psycopg.AsyncCursor.execute = tracing  # type: ignore[method-assign]
    try:
        with capture() as captured:
            send()
    finally:
        psycopg.AsyncCursor.execute = execute  # type: ignore[method-assign]
    statements = traced + [q["sql"] for q in captured.captured_queries]
    stats, _counts = timed(send, runs=runs)
    last = next(counter)

    def delivered() -> None:
        services.chats_mark_delivered([services.Delivery(recipient, chat, last)])

    with capture() as captured_d:
        delivered()
    loop.close()
    return {
        "send_statements": statements,
        "send_ms": {**stats, "queries_per_call": [len(statements)]},
        "delivered_statements": [q["sql"] for q in captured_d.captured_queries],
        "note": "socket_work.send_batch of one frame, in-process on one event loop: rate "
        "limit, the batch's statements, unread counts, 2 rings, ack payload",
    }
