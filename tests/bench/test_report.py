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


def test_b2_pinned_and_unpinned_sit_side_by_side_each_against_its_own_floor(results):
    rows = table_rows(results(LIVE))
    ids = list(rows)
    assert ids[ids.index("B2") + 1] == "B2 unpinned"
    assert ids[ids.index("B2 unpinned") + 1] == "B11"
    assert rows["B2"][1:4] == [
        "p99 25.0 ms (p50 1.00)",
        "p99 2.50 ms (p50 1.00)",
        "p99 6.00 ms (p50 1.00)",
    ]
    assert rows["B2"][5] == "**pass**"  # 25 <= 10 x 2.5
    assert rows["B2 unpinned"][1:4] == ["p99 400.0 ms (p50 150.0)", "p99 4.00 ms (p50 1.00)", "-"]
    assert rows["B2 unpinned"][5] == "**miss**"  # 400 > 10 x 4


def test_rows_not_in_the_results_say_so_instead_of_failing(results):
    only_b1 = {"server": "uvicorn", "rows": {"B1": LIVE["rows"]["B2u"]}}
    rows = table_rows(results(only_b1))
    for rid in ("B2", "B2 unpinned", "B11", "B3", "B4", "B5", "B6", "B7"):
        assert rows[rid][5] == "not run", rid
    assert rows["B11"][1] == report.NOT_MEASURED
    assert rows["B2 unpinned"][1] == report.NOT_MEASURED
    assert rows["B1"][5] == "**miss**"
