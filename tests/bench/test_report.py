"""docs/benchmarks.md from results: the first screen's table, from a fake run (no load)."""

from __future__ import annotations

import json

import pytest

from bench import report


def run(p99, *, cpu_ms, p50=1.0, lost=0):
    return {
        "sent": 1000,
        "delivered": 1000 - lost,
        "lost": lost,
        "duplicated": 0,
        "delivered_rate": 990.0,
        "offered": 1000,
        "latency_ms": {"p50": p50, "p90": p99, "p99": p99, "max": p99},
        "server_cpu_percent": 50.0,
        "cpu_ms_per_message": cpu_ms,
        "machine_busy_percent": 90.0,
        "server_rss_mb": 100.0,
        "server_nice": 0,
        "db": {"acked_not_stored": 0, "chats_with_seq_gaps": 0},
    }


def kind(*runs):
    """A kind's repetitions and its median run, as bench.live.repeated stores them."""
    ordered = sorted(runs, key=lambda r: r["latency_ms"]["p99"])
    return {"median": ordered[len(ordered) // 2], "runs": list(runs)}


LIVE = {
    "server": "uvicorn",
    "server_cores": [0],
    "client_cores": [1],
    "client_nice": 10,
    "rows": {
        "B2": {
            "floor": kind(run(2.0, cpu_ms=0.10), run(3.0, cpu_ms=0.12), run(2.5, cpu_ms=0.11)),
            "product": kind(run(20.0, cpu_ms=0.30), run(30.0, cpu_ms=0.36), run(25.0, cpu_ms=0.32)),
            "relay": kind(run(5.0, cpu_ms=0.20), run(6.0, cpu_ms=0.25), run(7.0, cpu_ms=0.22)),
        },
        "B2u": {
            "floor": kind(run(4.0, cpu_ms=0.15)),
            "product": kind(run(400.0, cpu_ms=0.9, p50=150.0)),
            "client": {"cores": [0, 1], "nice": 0},
            "server_command": ["uvicorn", "--host", "127.0.0.1", "chatsite.asgi:application"],
        },
    },
}


@pytest.fixture
def results(tmp_path, monkeypatch):
    """A results directory with the fake live run, and the page written to tmp_path."""
    folder = tmp_path / "results"
    folder.mkdir()
    meta = {"command": "python -m bench run", "machine": ["- CPU: 2 cores, Test CPU; RAM 1 GiB"]}
    (folder / "meta.json").write_text(json.dumps(meta))
    monkeypatch.setattr(report, "RESULTS_DIR", folder)
    monkeypatch.setattr(report, "DOCS", tmp_path / "docs")
    monkeypatch.setattr(report, "PLOT", tmp_path / "docs" / "benchmarks.png")
    monkeypatch.setattr(report, "NOTES", tmp_path / "no-notes.md")
    monkeypatch.setattr(report, "CHANGES", tmp_path / "no-changes.md")

    def write(live):
        (folder / "live.json").write_text(json.dumps(live))
        return report.write().read_text()

    return write


def table_rows(page):
    """The first table's rows by id: {id: [what, product, floor, relay, target, result]}."""
    rows, seen = {}, False
    for line in page.splitlines():
        if line.startswith("| id |"):
            seen = True
        elif seen and line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
        elif seen and rows:
            break
    return rows


def test_the_first_screen_is_the_machine_the_table_then_the_log(results):
    page = results(LIVE)
    lines = page.splitlines()
    assert lines[0] == "# Benchmarks"
    assert lines[2].startswith("**Machine**: 2 cores, Test CPU; RAM 1 GiB; server uvicorn")
    assert lines[4].startswith("| id | what | product | floor (same run) | Channels relay")
    assert page.index("| B2 |") < page.index("## How this was produced")
    assert page.index("## How this was produced") < page.index("## Results, row by row")


def test_b11_is_the_median_cpu_per_message_of_b2s_runs_against_the_floors(results):
    rows = table_rows(results(LIVE))
    _what, product, floor, relay, target, result = rows["B11"]
    # Medians of each kind's runs: floor 0.11, product 0.32, relay 0.22 ms per message.
    assert product == "0.320 ms/msg (2.9x floor)"
    assert floor == "0.110 ms/msg"
    assert relay == "0.220 ms/msg (2.0x floor)"
    assert target == "product <= 3x the floor's CPU per message"
    assert result == "**pass**"
    costly = json.loads(json.dumps(LIVE))
    for i, value in enumerate((0.40, 0.50, 0.45)):
        costly["rows"]["B2"]["product"]["runs"][i]["cpu_ms_per_message"] = value
    assert table_rows(results(costly))["B11"][5] == "**miss**"  # 0.45 > 3 x 0.11


def test_b11_unpinned_reads_b2_unpinneds_runs_with_its_relay_where_it_ran(results):
    rows = table_rows(results(LIVE))
    # LIVE's B2u ran no relay (as before run 11): its column says so.
    _what, product, floor, relay, target, result = rows["B11 unpinned"]
    assert (product, floor, relay) == ("0.900 ms/msg (6.0x floor)", "0.150 ms/msg", "-")
    assert target == "as B11: product <= 3x the (unpinned) floor's CPU per message"
    assert result == "**miss**"  # 0.9 > 3 x 0.15
    live = json.loads(json.dumps(LIVE))
    live["rows"]["B2u"]["relay"] = kind(run(9.0, cpu_ms=0.3))
    live["rows"]["B2u"]["product"] = kind(run(40.0, cpu_ms=0.4))
    rows = table_rows(results(live))
    assert rows["B11 unpinned"][1:4] == [
        "0.400 ms/msg (2.7x floor)",
        "0.150 ms/msg",
        "0.300 ms/msg (2.0x floor)",
    ]
    assert rows["B11 unpinned"][5] == "**pass**"
    assert rows["B2 unpinned"][3] == "p99 9.00 ms (p50 1.00)"
    assert rows["B11"][1] == "0.320 ms/msg (2.9x floor)"  # the pinned row is B2's own


def test_b2_pinned_and_unpinned_sit_side_by_side_each_against_its_own_floor(results):
    rows = table_rows(results(LIVE))
    ids = list(rows)
    assert ids[ids.index("B2") + 1] == "B2 unpinned"
    assert ids[ids.index("B2 unpinned") + 1] == "B11"
    assert ids[ids.index("B11") + 1] == "B11 unpinned"
    assert rows["B2"][1:4] == [
        "p99 25.0 ms (p50 1.00)",
        "p99 2.50 ms (p50 1.00)",
        "p99 6.00 ms (p50 1.00)",
    ]
    assert rows["B2"][5] == "**pass**"  # 25 <= 10 x 2.5
    assert rows["B2 unpinned"][1:4] == ["p99 400.0 ms (p50 150.0)", "p99 4.00 ms (p50 1.00)", "-"]
    assert rows["B2 unpinned"][5] == "**miss**"  # 400 > 10 x 4


def test_b1_unpinned_sits_beside_b1_against_its_own_floor(results):
    live = json.loads(json.dumps(LIVE))
    live["rows"]["B1"] = {
        "floor": kind(run(1.0, cpu_ms=0.1)),
        "product": kind(run(4.0, cpu_ms=0.3)),
    }
    live["rows"]["B1u"] = {
        "floor": kind(run(1.2, cpu_ms=0.1)),
        "product": kind(run(7.0, cpu_ms=0.3)),
        "client": {"cores": [0, 1], "nice": 0},
        "server_command": ["uvicorn", "chatsite.asgi:application"],
    }
    rows = table_rows(results(live))
    ids = list(rows)
    assert ids[ids.index("B1") + 1] == "B1 unpinned"
    assert rows["B1"][5] == "**pass**"  # 4 <= 5 x 1
    assert rows["B1 unpinned"][1:3] == ["p99 7.00 ms (p50 1.00)", "p99 1.20 ms (p50 1.00)"]
    assert rows["B1 unpinned"][5] == "**miss**"  # 7 > 5 x 1.2


def test_rows_not_in_the_results_say_so_instead_of_failing(results):
    only_b1 = {"server": "uvicorn", "rows": {"B1": LIVE["rows"]["B2u"]}}
    rows = table_rows(results(only_b1))
    for rid in (
        "B2",
        "B2 unpinned",
        "B11",
        "B11 unpinned",
        "B3",
        "B4",
        "B5",
        "B5 unpinned",
        "B6",
        "B7",
    ):
        assert rows[rid][5] == "not run", rid
    assert rows["B1 unpinned"][5] == "not run"
    assert rows["B11"][1] == report.NOT_MEASURED
    assert rows["B2 unpinned"][1] == report.NOT_MEASURED
    assert rows["B1"][5] == "**miss**"


PG_PLAN_BACKWARD = """SELECT ... FROM chats_message ...
--
Limit  (cost=0.43..95.1 rows=21 width=80) (actual time=0.05..0.9 rows=21 loops=1)
  ->  Nested Loop  (cost=0.43..9512.2 rows=2100 width=80)
        ->  Index Scan Backward using chats_message_pkey on chats_message  (cost=0.43..5.1 rows=1)
              Filter: (search @@ '''the'':*'::tsquery)
        ->  Index Only Scan using chats_membership_chat_user on chats_membership  (cost=0.29..0.3)
              Index Cond: ((chat_id = chats_message.chat_id) AND (user_id = 1))"""
PG_PLAN_GIN = """SELECT ...
--
Limit
  ->  Sort
        ->  Bitmap Heap Scan on chats_message  (cost=52.4..912.3 rows=300 width=80)
              Recheck Cond: (search @@ '''zanzibar'':*'::tsquery)
              ->  Bitmap Index Scan on chats_message_search  (cost=0.0..52.3 rows=300 width=0)"""
PG_PLAN_SEQ = "Limit\n  ->  Seq Scan on chats_message  (cost=0.00..1.0 rows=1)"
LITE_PLAN = (
    "SELECT ...\n--\nSCAN chats_message_fts VIRTUAL TABLE INDEX 192:M1\n"
    "SEARCH chats_message USING INTEGER PRIMARY KEY (rowid=?)"
)


def b10(vendor, total, p99s, plans):
    names = ["common word", "two words", "rare word", "prefix", "phrase"]
    return {
        "function": "chats.search.message_search",
        "vendor": vendor,
        "messages_total": total,
        "user_messages": 100_000,
        "queries": {
            name: {
                "query": name,
                "results": 20,
                "latency_ms": {"n": 200, "p50": p99 / 2, "p99": p99, "queries_per_call": [1]},
                "plans": [plan],
            }
            for name, p99, plan in zip(names, p99s, plans, strict=True)
        },
    }


def test_b10_judges_each_backend_on_p99_size_and_how_the_message_table_is_read(results, tmp_path):
    folder = tmp_path / "results"
    plans = [PG_PLAN_BACKWARD, *[PG_PLAN_GIN] * 4]
    pg = b10("postgresql", 10_000_000, [6.0, 7.0, 8.0, 6.0, 9.0], plans)
    lite = b10("sqlite", 1_000_000, [3.0, 4.0, 2.0, 3.0, 3.0], [LITE_PLAN] * 5)
    (folder / "queries-pg.json").write_text(json.dumps({"vendor": "postgresql", "B10": pg}))
    (folder / "queries-sqlite.json").write_text(json.dumps({"vendor": "sqlite", "B10": lite}))
    page = results(LIVE)
    rows = table_rows(page)
    assert rows["B10 PostgreSQL"][1] == "at 10,000,000: worst p99 9.00 ms"
    assert rows["B10 PostgreSQL"][5] == "**pass**"
    assert rows["B10 SQLite"][5] == "**pass**"
    assert "common word chats_message_pkey backward" in page
    assert "rare word chats_message_search" in page
    assert "| rare word `rare word` | 20 | 4.00 | 8.00 | 200 | [1] | chats_message_search |" in page

    # Three runs: each run's worst p99 is shown beside the median run's figures.
    (folder / "queries-pg.json").write_text(
        json.dumps({"B10": {**pg, "repetitions": [9.0, 8.0, 12.0]}})
    )
    shown = "worst p99 of the 3 runs 9.00 / 8.00 / 12.0 ms; the median run's p99 ms: common word 6"
    assert shown in results(LIVE)

    # A sequential scan, a p99 over 20 ms, or fewer messages than asked: a miss each.
    for changed in (
        b10("postgresql", 10_000_000, [6, 7, 8, 6, 9], [PG_PLAN_SEQ, *[PG_PLAN_GIN] * 4]),
        b10("postgresql", 10_000_000, [6, 7, 21, 6, 9], [PG_PLAN_GIN] * 5),
        b10("postgresql", 1_000_000, [6, 7, 8, 6, 9], [PG_PLAN_GIN] * 5),
    ):
        (folder / "queries-pg.json").write_text(json.dumps({"B10": changed}))
        assert table_rows(results(LIVE))["B10 PostgreSQL"][5] == "**miss**"


def test_index_used_names_the_index_a_plan_reads_the_message_table_through():
    from bench.plans import index_used

    body = PG_PLAN_BACKWARD.split("--\n", 1)[1]
    assert index_used(body, "chats_message", "postgresql") == "chats_message_pkey backward"
    assert index_used(PG_PLAN_GIN, "chats_message", "postgresql") == "chats_message_search"
    assert index_used(PG_PLAN_SEQ, "chats_message", "postgresql") == "sequential scan"
    assert index_used(LITE_PLAN, "chats_message", "sqlite") == "chats_message_fts (FTS5)"
    assert index_used("SCAN chats_message", "chats_message", "sqlite") == "sequential scan"
    assert index_used("SCAN accounts_user", "chats_message", "sqlite") == ""


def storm(seconds, cpu):
    return {
        "sockets": 5000,
        "connected": 5000,
        "refused": 0,
        "seconds": seconds,
        "server_cpu_seconds": cpu,
    }


def test_b5_shows_the_channels_relays_storm_beside_the_floors_when_it_was_run():
    """The relay's storm (server + Channels + the layer, no auth or database) is the fixed
    part of a connect; runs before it was measured keep a "-" there."""
    b5 = {
        "floor": {"median": storm(2.0, 1.5)},
        "product": {"median": storm(7.0, 6.5)},
        "relay": {"median": storm(4.0, 3.5)},
    }
    rows = {row[0]: row for row in report.live_rows({"rows": {"B5": b5}})}
    _rid, product, floor, ok, why, relay = rows["B5"]
    assert (product, floor, ok) == ("5,000/5,000 in 7.00 s", "5,000/5,000 in 2.00 s", False)
    assert relay == "5,000/5,000 in 4.00 s (2.0x floor)"
    assert why.endswith("Channels relay 2.0x, server CPU 3.50 s")
    del b5["relay"]
    rows = {row[0]: row for row in report.live_rows({"rows": {"B5": b5}})}
    assert len(rows["B5"]) == 6 and rows["B5"][5] == "-"


def test_b5_unpinned_is_judged_against_its_own_unpinned_floor():
    pinned = {"floor": {"median": storm(2.0, 1.5)}, "product": {"median": storm(5.8, 5.5)}}
    unpinned = {"floor": {"median": storm(2.0, 1.6)}, "product": {"median": storm(6.2, 5.9)}}
    rows = {row[0]: row for row in report.live_rows({"rows": {"B5": pinned, "B5u": unpinned}})}
    assert rows["B5"][1:4] == ("5,000/5,000 in 5.80 s", "5,000/5,000 in 2.00 s", True)
    assert rows["B5 unpinned"][1:4] == ("5,000/5,000 in 6.20 s", "5,000/5,000 in 2.00 s", False)
    assert rows["B5 unpinned"][4].startswith("3.1x the floor's time; 0 refused")


def test_the_first_screen_points_to_the_profile_where_there_is_one(results):
    assert "Where the CPU goes" not in results(LIVE)
    live = json.loads(json.dumps(LIVE))
    found = {"samples": 10, "parts": {"Chatsite": 10}, "top": [], "run": {"cpu_ms_per_message": 1}}
    live["rows"]["profile"] = {"B2 product": found}
    page = results(live)
    intro = next(line for line in page.splitlines() if line.startswith("Generated by"))
    assert intro.endswith('"Where the CPU goes" below.')
    assert "\n## Where the CPU goes (row profile)\n" in page
    assert "| Chatsite | 100% (1.000) |" in page
