"""docs/benchmarks.md and docs/benchmarks.png from the JSON in bench/results/.

The hand-written analysis lives in bench/notes.md (and what changed since a run in
bench/changes.md) and is included as it is.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import profile
from bench.config import RESULTS_DIR, ROOT
from bench.plans import full_scan, index_used

DOCS = ROOT / "docs"
NOTES = ROOT / "bench" / "notes.md"
# What changed since rows were measured, shown above the Results table (hand-written).
CHANGES = ROOT / "bench" / "changes.md"
PLOT = DOCS / "benchmarks.png"

TARGETS = {
    "B1": "p99 <= 5x the floor's p99",
    "B1 unpinned": "as B1: p99 <= 5x the (unpinned) floor's p99",
    "B2": "100% delivered exactly once; p99 <= 10x the floor's p99 (same run)",
    "B2 unpinned": "as B2: 100% delivered exactly once; p99 <= 10x the (unpinned) floor",
    "B3": ">= 1,500 msg/s with p99 <= 50 ms and 100% delivered",
    "B4": ">= 10,000 idle sockets, <= 4x the floor's memory per connection",
    "B5": "<= 3x the floor's time; none refused",
    "B5 unpinned": "as B5: <= 3x the (unpinned) floor's time; none refused",
    "B6": "RSS growth <= 5% after warm-up; Redis clients/keys back to baseline; "
    "DB connections bounded",
    "B6s": "as B6 (a load this machine sustains, to tell leaks from backlog)",
    "B7": "PostgreSQL p99 <= 5 ms, SQLite <= 2 ms at 1M; no sequential scan",
    "B8": "constant query count; deep page <= 2x first page; p99 <= 10 ms",
    "B9": "constant query count; p99 <= 50 ms",
    "B10": "p99 <= 20 ms for each query; 10,000,000 messages (PostgreSQL), 1,000,000 "
    "(SQLite); the message table read through an index, never scanned",
    "B11": "product <= 3x the floor's CPU per message",
    "B11 unpinned": "as B11: product <= 3x the (unpinned) floor's CPU per message",
}
WHAT = {
    "B1": "sender -> recipient latency, 1 pair at 200 msg/s, persisted",
    "B1 unpinned": "B1's load with the server as docs/deploy.md runs it; nothing pinned or reniced",
    "B2": "400 sockets (200 pairs), 1,000 msg/s offered, persisted; server pinned to its own "
    "core, client on the other at nice 10",
    "B2 unpinned": "B2's load with the server as docs/deploy.md runs it; nothing pinned or reniced",
    "B3": "saturation: highest offered rate with p99 <= 50 ms and 100% delivered",
    "B4": "idle sockets held by one server process",
    "B5": "connect storm of authenticated sockets",
    "B5 unpinned": "B5's storm with the server as docs/deploy.md runs it; nothing pinned or "
    "reniced",
    "B6": "soak: connect/disconnect churn plus 200 msg/s",
    "B6s": "soak: connect/disconnect churn plus a sustainable message rate",
    "B7": "user search p99, 1/2/3/5-character prefixes",
    "B8": "history page of 50 (first and deep page) in a big chat",
    "B9": "chat list for a user with 1,000 chats",
    "B10": "message search p99 for a user with 100,000 messages: a common word, two words, "
    "a rare word, a prefix, a phrase",
    "B11": "server CPU (user+sys) per delivered message at B2's load (B2's pinned runs)",
    "B11 unpinned": "B11 read from B2 unpinned's runs; nothing pinned or reniced",
}
# B10's stored messages per backend (issue 18).
B10_TOTAL = {"PostgreSQL": 10_000_000, "SQLite": 1_000_000}
B10_LIMIT_MS = 20.0
NOT_MEASURED = "not measured in this run"
B11_FACTOR = 3


def load(name: str) -> dict[str, Any]:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def cmd(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "?"


def machine() -> list[str]:
    model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in cmd(["lscpu"]).splitlines()
            if ln.startswith("Model name")
        ),
        "?",
    )
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = ", ".join(
        f"{pkg} {metadata.version(pkg)}"
        for pkg in (
            "Django",
            "channels",
            "channels-redis",
            "daphne",
            "uvicorn",
            "uvloop",
            "websockets",
            "psycopg",
            "redis",
        )
    )
    pg = cmd(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "show server_version"])
    redis_v = cmd(["redis-server", "--version"]).split(" ")[2:3]
    return [
        f"- CPU: {os.cpu_count()} cores, {model}; RAM {mem:.0f} GiB; "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {versions}",
        f"- PostgreSQL {pg}; Redis {' '.join(redis_v).replace('v=', '')}",
    ]


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


KINDS = ("floor", "product", "relay")


def p99(run: dict[str, Any] | None) -> float | None:
    if not run:
        return None
    return run.get("latency_ms", {}).get("p99")


def verdict(ok: bool | None) -> str:
    return {True: "**pass**", False: "**miss**", None: "not run"}[ok]


def delivery_ok(run: dict[str, Any]) -> bool:
    db = run.get("db", {})
    return (
        run.get("lost") == 0
        and run.get("duplicated") == 0
        and db.get("acked_not_stored", 0) == 0
        and db.get("chats_with_seq_gaps", 0) == 0
    )


def delivery_text(run: dict[str, Any]) -> str:
    db = run.get("db", {})
    return (
        f"{run.get('delivered', 0):,}/{run.get('sent', 0):,} delivered, "
        f"{run.get('lost', 0):,} undelivered, {run.get('duplicated', 0)} duplicated, "
        f"{db.get('acked_not_stored', 0)} acked-but-not-stored"
    )


def storm_row(label: str, row: dict[str, Any]) -> tuple[str, str, str, bool | None, str, str]:
    """B5's connect storm (pinned, or unpinned as B5u) against its floor, with the Channels
    relay's storm where it was run."""
    prod, floor = row["product"]["median"], row["floor"]["median"]
    ratio = prod["seconds"] / max(floor["seconds"], 1e-3)
    ok = ratio <= 3 and prod["refused"] == 0 and prod["connected"] == prod["sockets"]
    relay = row.get("relay", {}).get("median")
    relay_cell, relay_why = "-", ""
    if relay:  # measured from run 8 on (earlier runs had no relay storm, nor B5u before run 11)
        relay_ratio = relay["seconds"] / max(floor["seconds"], 1e-3)
        relay_cell = (
            f"{fmt(relay['connected'])}/{fmt(relay['sockets'])} in "
            f"{fmt(relay['seconds'])} s ({relay_ratio:.1f}x floor)"
        )
        cpu = fmt(relay["server_cpu_seconds"])
        relay_why = f"; Channels relay {relay_ratio:.1f}x, server CPU {cpu} s"
    return (
        label,
        f"{fmt(prod['connected'])}/{fmt(prod['sockets'])} in {fmt(prod['seconds'])} s",
        f"{fmt(floor['connected'])}/{fmt(floor['sockets'])} in {fmt(floor['seconds'])} s",
        ok,
        f"{ratio:.1f}x the floor's time; {prod['refused']} refused; server CPU "
        f"{fmt(prod['server_cpu_seconds'])} s{relay_why}",
        relay_cell,
    )


def live_rows(live: dict[str, Any]) -> list[tuple[str, str, str, bool | None, str]]:
    rows = live.get("rows", {})
    out: list[tuple[str, str, str, bool | None, str]] = []
    for key, label, factor in (
        ("B1", "B1", 5),
        ("B1u", "B1 unpinned", 5),
        ("B2", "B2", 10),
        ("B2u", "B2 unpinned", 10),
    ):
        row = rows.get(key)
        if not row:
            out.append((label, NOT_MEASURED, "-", None, ""))
            continue
        prod, floor = row["product"]["median"], row["floor"]["median"]
        pp, fp = p99(prod), p99(floor)
        ok = pp is not None and fp is not None and pp <= factor * fp and delivery_ok(prod)
        why = (
            (f"p99 = {pp / fp:.0f}x floor; " if pp and fp else "")
            + f"{delivery_text(prod)}; delivered {fmt(prod.get('delivered_rate'))} msg/s of "
            f"{fmt(prod.get('offered'))} offered; server CPU "
            f"{fmt(prod.get('server_cpu_percent'))}%"
            + (f"; p99 over the runs {prod['p99_over_runs']} ms" if "p99_over_runs" in prod else "")
            + (
                f"; CPU per message {prod['cpu_ms_per_message']:.3f} ms against the floor's "
                f"{floor['cpu_ms_per_message']:.3f}"
                if prod.get("cpu_ms_per_message") and floor.get("cpu_ms_per_message")
                else ""
            )
        )
        if "client" in row:  # an unpinned row (bench.live.UNPINNED_ROWS)
            client = row["client"]
            why += (
                f"; client on cores {client.get('cores')} at nice {client.get('nice')}, server "
                f"nice {prod.get('server_nice')}, `{' '.join(row.get('server_command', []))}`"
            )
        product_text = (
            f"p99 {fmt(pp)} ms (p50 {fmt(prod.get('latency_ms', {}).get('p50'))})"
            if pp is not None
            else "none of the measured messages arrived within the drain"
        )
        relay = row.get("relay", {}).get("median")
        relay_text = (
            f"p99 {fmt(p99(relay))} ms (p50 {fmt(relay.get('latency_ms', {}).get('p50'))})"
            if relay
            else "-"
        )
        out.append(
            (
                label,
                product_text,
                f"p99 {fmt(fp)} ms (p50 {fmt(floor.get('latency_ms', {}).get('p50'))})",
                ok,
                why,
                relay_text,
            )
        )
    floor_sat = rows.get("B3", {}).get("floor", {}).get("saturation", 0)
    relay_sat = rows.get("relay", {}).get("RedisPubSubChannelLayer", {}).get("B3", {})
    for key in ["B3", *sorted(k for k in rows if k.startswith("B3x"))]:
        row = rows.get(key)
        if not row:
            out.append((key, NOT_MEASURED, "-", None, ""))
            continue
        ps, fs = row["product"]["saturation"], floor_sat
        best = max((s["delivered_rate"] for s in row["product"]["steps"]), default=0)
        floor_steps = rows.get("B3", {}).get("floor", {}).get("steps", [])
        top = max((s["offered"] for s in floor_steps), default=0)
        at_least = ">= " if fs and fs == top else ""
        label = f"B3 ({key[3:]} processes)" if key != "B3" else key
        out.append(
            (
                label,
                f"{fmt(ps)} msg/s",
                f"{at_least}{fmt(fs)} msg/s" + (" (the sweep's top)" if at_least else ""),
                ps >= 1500,
                (f"{ps / fs:.2f}x the floor; " if fs else "")
                + f"best delivered rate in the sweep {fmt(best)} msg/s",
                f"{fmt(relay_sat['saturation'])} msg/s (relay row)"
                if key == "B3" and "saturation" in relay_sat
                else "-",
            )
        )
    row = rows.get("B4")
    if row:
        prod, floor = row["product"], row["floor"]
        ratio = prod["kb_per_connection"] / max(floor["kb_per_connection"], 0.1)
        ok = prod["held"] >= 10_000 and prod["still_open_after_10s"] == prod["held"] and ratio <= 4
        out.append(
            (
                "B4",
                f"{fmt(prod['held'])} held, {fmt(prod['kb_per_connection'])} KB/socket",
                f"{fmt(floor['held'])} held, {fmt(floor['kb_per_connection'])} KB/socket",
                ok,
                f"{ratio:.1f}x the floor's memory per socket; RSS {fmt(prod['rss_before_mb'])} -> "
                f"{fmt(prod['rss_after_mb'])} MB; extensions: {prod['extensions']}",
            )
        )
    else:
        out.append(("B4", NOT_MEASURED, "-", None, ""))
    for key, label in (("B5", "B5"), ("B5u", "B5 unpinned")):
        row = rows.get(key)
        out.append(storm_row(label, row) if row else (label, NOT_MEASURED, "-", None, ""))
    for key in ("B6", "B6s"):
        row = rows.get(key)
        if row:
            out.append(soak_row(key, row))
        elif key == "B6":
            out.append(("B6", NOT_MEASURED, "-", None, ""))
    return out


def cpu_per_message(runs: list[dict[str, Any]]) -> list[float]:
    return [r["cpu_ms_per_message"] for r in runs if r.get("cpu_ms_per_message") is not None]


def middle(values: list[float]) -> float | None:
    """The median (the upper one of an even count, as median_run picks)."""
    return sorted(values)[len(values) // 2] if values else None


def b11_row(
    live: dict[str, Any], key: str = "B2", label: str = "B11"
) -> tuple[str, str, str, bool | None, str, str]:
    """Server CPU per delivered message in B2's runs (`key`: B2u's for the unpinned row):
    the product, the floor and the Channels relay of the same run (the median of each
    one's repetitions)."""
    b2 = live.get("rows", {}).get(key, {})
    runs = {kind: cpu_per_message(b2.get(kind, {}).get("runs", [])) for kind in KINDS}
    med = {kind: middle(values) for kind, values in runs.items()}
    floor, product, relay = med["floor"], med["product"], med["relay"]
    if product is None or floor is None:
        return (label, NOT_MEASURED, "-", None, "", "-")

    def text(value: float | None) -> str:
        if value is None:
            return "-"
        return f"{value:.3f} ms/msg ({value / floor:.1f}x floor)" if floor else f"{value:.3f}"

    why = (
        f"product {product / floor:.1f}x the floor's CPU per message"
        + (f", Channels relay {relay / floor:.1f}x" if relay is not None else "")
        + "; runs (ms/msg): "
        + "; ".join(f"{kind} {values}" for kind, values in runs.items() if values)
        + "; server CPU over each drive (first send to last delivery) / messages delivered"
    )
    return (
        label,
        text(product),
        f"{floor:.3f} ms/msg",
        product <= B11_FACTOR * floor,
        why,
        text(relay),
    )


def soak_row(key: str, row: dict[str, Any]) -> tuple[str, str, str, bool | None, str]:
    base, end = row["redis_baseline"], row["redis_after_close"]
    redis_ok = (
        end["clients_on_db"] <= base["clients_on_db"]
        and end["pubsub_channels"] <= base["pubsub_channels"]
        and end["keys"] <= base["keys"]
    )
    ok = row["rss_growth_percent"] <= 5 and redis_ok and row["db_connections_max"] <= 20
    label = "B6" if key == "B6" else f"B6s ({row.get('rate', 0):.0f} msg/s)"
    return (
        label,
        f"RSS {fmt(row['rss_after_warmup_mb'])} -> {fmt(row['rss_end_mb'])} MB "
        f"({row['rss_growth_percent']:+.1f}%)",
        "-",
        ok,
        f"{row['duration']:.0f} s at {row.get('rate', 200):.0f} msg/s, {row['churn_per_s']:.0f} "
        f"connects/s ({row['churned']['opened']} opened, {row['churned']['refused']} refused); "
        f"Redis clients/channels/keys {base['clients_on_db']}/{base['pubsub_channels']}/"
        f"{base['keys']} with no socket open, max clients {row.get('redis_clients_max')} during, "
        f"{end['clients_on_db']}/{end['pubsub_channels']}/{end['keys']} after all closed "
        f"({row.get('redis_settle_seconds')} s later); DB connections max "
        f"{row['db_connections_max']}; {delivery_text(row)}; p99 {fmt(p99(row))} ms",
    )


def rescan(b7: dict[str, Any]) -> None:
    """Judge the stored plans again (the rule lives in bench/plans.py)."""
    vendor = b7.get("vendor", "postgresql")
    for at in b7["sizes"].values():
        at["full_scan"] = {
            length: any(full_scan(p.split("\n--\n", 1)[-1], "accounts_user", vendor) for p in ps)
            for length, ps in at["plans"].items()
        }


def search_row(pg: dict[str, Any], lite: dict[str, Any]) -> tuple[str, str, str, bool | None, str]:
    if "B7" not in pg and "B7" not in lite:
        return ("B7", NOT_MEASURED, "-", None, "")
    parts, ok, notes = [], True, []
    for name, data, limit in (("PostgreSQL", pg, 5.0), ("SQLite", lite, 2.0)):
        b7 = data.get("B7")
        if not b7:
            continue
        size = max(b7["sizes"], key=int)
        at = b7["sizes"][size]
        worst = max(v["p99"] for v in at["latency_ms"].values())
        scans = [k for k, v in at["full_scan"].items() if v]
        ok = ok and worst <= limit and not scans and int(size) >= 1_000_000
        parts.append(f"{name} at {int(size):,}: worst p99 {fmt(worst)} ms")
        if scans:
            notes.append(f"{name} full scan for {','.join(scans)}-char prefixes")
        notes.append(f"measured {b7['function']}")
    return ("B7", "; ".join(parts), "n/a (no floor)", ok, "; ".join(dict.fromkeys(notes)))


def b10_scan(vendor: str, query: dict[str, Any]) -> str:
    """How the page's statement (the query's last) reads the message table
    (bench.plans.index_used)."""
    plans = query.get("plans") or [""]
    return index_used(plans[-1].split("\n--\n", 1)[-1], "chats_message", vendor)


def b10_rows(pg: dict[str, Any], lite: dict[str, Any]) -> list[tuple]:
    if "B10" not in pg and "B10" not in lite:
        return [("B10", NOT_MEASURED, "-", None, "")]
    out: list[tuple] = []
    for name, data in (("PostgreSQL", pg), ("SQLite", lite)):
        b10 = data.get("B10")
        if not b10:
            out.append((f"B10 {name}", NOT_MEASURED, "-", None, ""))
            continue
        queries = b10["queries"]
        worst = max(q["latency_ms"]["p99"] for q in queries.values())
        scans = {k: b10_scan(b10["vendor"], q) for k, q in queries.items()}
        scanned = [k for k, how in scans.items() if how in ("sequential scan", "")]
        big = b10["messages_total"] >= B10_TOTAL[name]
        ok = worst <= B10_LIMIT_MS and not scanned and big
        p99s = ", ".join(f"{k} {fmt(q['latency_ms']['p99'])}" for k, q in queries.items())
        p99s = f"p99 ms: {p99s}"
        runs = b10.get("repetitions") or []
        if len(runs) > 1:
            worsts = " / ".join(fmt(r) for r in runs)
            p99s = f"worst p99 of the {len(runs)} runs {worsts} ms; the median run's {p99s}"
        out.append(
            (
                f"B10 {name}",
                f"at {b10['messages_total']:,}: worst p99 {fmt(worst)} ms",
                "n/a",
                ok,
                f"{p99s}; {b10['user_messages']:,} of the searcher's; read through: "
                + "; ".join(f"{k} {how or '?'}" for k, how in scans.items())
                + ("" if big else f"; fewer messages than the {B10_TOTAL[name]:,} asked"),
            )
        )
    return out


def history_rows(pg: dict[str, Any], lite: dict[str, Any]) -> list[tuple]:
    out: list[tuple] = [
        (key, NOT_MEASURED, "-", None, "") for key in ("B8", "B9") if key not in pg | lite
    ]
    for name, data in (("PostgreSQL", pg), ("SQLite", lite)):
        b8 = data.get("B8")
        if not b8:
            continue
        first, deep = b8["first_page_ms"], b8["deep_page_ms"]
        constant = first["queries_per_call"] == deep["queries_per_call"]
        ok = (
            constant
            and deep["p99"] <= 2 * max(first["p99"], 0.5)
            and max(first["p99"], deep["p99"]) <= 10
            and b8["messages_total"] >= 1_000_000
        )
        out.append(
            (
                f"B8 {name}",
                f"first p99 {fmt(first['p99'])} ms (p50 {fmt(first['p50'])}), "
                f"deep p99 {fmt(deep['p99'])} ms (p50 {fmt(deep['p50'])})",
                "n/a",
                ok,
                f"{first['queries_per_call']} vs {deep['queries_per_call']} queries per page; "
                f"{b8['chat_messages']:,} messages in the chat, {b8['messages_total']:,} in all",
            )
        )
    for name, data in (("PostgreSQL", pg), ("SQLite", lite)):
        b9 = data.get("B9")
        if not b9:
            continue
        lat = b9["latency_ms"]
        constant = lat["queries_per_call"] == b9["one_chat_queries_per_call"]
        ok = constant and lat["p99"] <= 50 and b9["chats"] >= 1000
        out.append(
            (
                f"B9 {name}",
                f"p99 {fmt(lat['p99'])} ms (p50 {fmt(lat['p50'])})",
                "n/a",
                ok,
                f"{b9['chats']:,} chats; {lat['queries_per_call']} queries (1 chat: "
                f"{b9['one_chat_queries_per_call']})",
            )
        )
    return out


def sweep_series(live: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    rows = live.get("rows", {})
    series = []
    if "B3" in rows:
        series.append(("floor", "tab:green", rows["B3"]["floor"]["steps"]))
        series.append(("product", "tab:red", rows["B3"]["product"]["steps"]))
    for key in sorted(k for k in rows if k.startswith("B3x")):
        series.append(
            (f"product, {key[3:]} processes", "tab:purple", rows[key]["product"]["steps"])
        )
    if "relay" in rows:
        steps = rows["relay"].get("RedisPubSubChannelLayer", {}).get("B3", {}).get("steps", [])
        series.append(("Channels relay, no DB (pub/sub)", "tab:blue", steps))
        steps = rows["relay"].get("RedisChannelLayer", {}).get("B3", {}).get("steps", [])
        series.append(("Channels relay, no DB (list layer)", "tab:cyan", steps))
    if "relay_pooled" in rows:
        steps = rows["relay_pooled"]["B3"]["steps"]
        series.append(("Channels relay, no DB, no per-event hop", "tab:olive", steps))
    if "pooled" in rows:
        series.append(("variant: DB on a pool", "tab:orange", rows["pooled"]["B3"]["steps"]))
    return [s for s in series if s[2]]


def plot(live: dict[str, Any]) -> bool:
    series = sweep_series(live)
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat_ax, rate_ax) = plt.subplots(1, 2, figsize=(15, 6.5))
    for label, color, steps in series:
        measured = [s for s in steps if s.get("latency_ms")]
        xs = [s["offered"] for s in measured]
        for pct, style in (("p50", ":"), ("p99", "-")):
            ys = [s["latency_ms"][pct] for s in measured]
            lat_ax.plot(xs, ys, style, marker="o", color=color, label=f"{label} {pct}")
        rate_ax.plot(
            [s["offered"] for s in steps],
            [s["delivered_rate"] for s in steps],
            "-",
            marker="o",
            color=color,
            label=label,
        )
    lat_ax.axhline(50, color="grey", linewidth=0.8, linestyle="--")
    lat_ax.set_yscale("log")
    lat_ax.set_xlabel("offered load (msg/s, 400 sockets)")
    lat_ax.set_ylabel("sender -> recipient latency (ms, from scheduled send)")
    lat_ax.set_title("Latency percentiles vs offered load")
    lat_ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    top = max(s["offered"] for _label, _color, steps in series for s in steps)
    low = min(s["offered"] for _label, _color, steps in series for s in steps)
    rate_ax.plot([low, top], [low, top], color="grey", linewidth=0.8, linestyle="--")
    for axis in (lat_ax, rate_ax):
        axis.set_xscale("log")
    rate_ax.set_yscale("log")
    rate_ax.set_xlabel("offered load (msg/s)")
    rate_ax.set_ylabel("delivered (msg/s)")
    rate_ax.set_title("Delivered vs offered")
    rate_ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    fig.tight_layout()
    DOCS.mkdir(exist_ok=True)
    fig.savefig(PLOT, dpi=100)
    plt.close(fig)
    return True


def table(rows: list[tuple]) -> list[str]:
    """The first screen's table: one line per row, no explanations (see `reasons`)."""
    lines = [
        "| id | what | product | floor (same run) | Channels relay (same run) | target | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for rid, prod, floor, ok, _why, *rest in rows:
        base = rid if rid in WHAT else rid.split(" ")[0]
        relay = rest[0] if rest else "-"
        lines.append(
            f"| {rid} | {WHAT.get(base, '')} | {prod} | {floor} | {relay} | "
            f"{TARGETS.get(base, '')} | {verdict(ok)} |"
        )
    return lines


def reasons(rows: list[tuple]) -> list[str]:
    """Why each verdict: the figures behind the table's line, one bullet per row."""
    return [f"- **{rid}**: {why}" for rid, _p, _f, _ok, why, *_rest in rows if why]


PROFILED = (
    ("B2 floor", "B2 floor"),
    ("B2 relay", "B2 Channels relay"),
    ("B2 product", "B2 product"),
    ("B5 floor", "B5 floor"),
    ("B5 relay", "B5 Channels relay"),
    ("B5 product", "B5 product"),
)


def profile_cost(key: str, found: dict[str, Any]) -> float | None:
    """Server CPU (ms) per delivered message (B2) or per connected socket (B5) of the
    profiled run."""
    run = found.get("run", {})
    if key.startswith("B2"):
        return run.get("cpu_ms_per_message")
    if run.get("connected"):
        return 1000 * run["server_cpu_seconds"] / run["connected"]
    return None


def times(value: float, floor: float | None) -> str:
    return f" ({value / floor:.1f}x the floor)" if floor else ""


def profile_section(live: dict[str, Any]) -> list[str]:
    """Row `profile`: each server's CPU by part of the stack (bench/profile.py), and what the
    fixed parts alone cost against the floor."""
    found = live.get("rows", {}).get("profile")
    if not found:
        return []
    columns = [(key, label) for key, label in PROFILED if key in found]
    costs = {key: profile_cost(key, found[key]) for key, _label in columns}
    parts = [name for name, _packages in profile.PARTS] + [profile.OTHER]
    lines = [
        "## Where the CPU goes (row profile)",
        "",
        "py-spy on the server under test, one run each, pinned as B2 and B5 are (samples "
        "holding the GIL, each given to the part of the stack its innermost frame belongs "
        "to: bench/profile.py); the unpinned wholes are rows B11 unpinned and B5 unpinned. "
        "Each "
        "cell: the part's share of the samples, and that share of the run's server CPU per "
        "delivered message (B2) or per connected socket (B5), in ms.",
        "",
        "| part | " + " | ".join(label for _key, label in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for part in parts:
        cells = []
        for key, _label in columns:
            share = profile.shares(found[key]).get(part, 0.0)
            cost = costs[key]
            cells.append(
                f"{100 * share:.0f}%" + (f" ({share * cost:.3f})" if cost is not None else "")
            )
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    lines.append(
        "| samples; whole run's CPU | "
        + " | ".join(
            f"{fmt(found[key]['samples'])}; {costs[key]:.3f} ms"
            if costs[key] is not None
            else fmt(found[key]["samples"])
            for key, _label in columns
        )
        + " |"
    )
    lines.append("")
    lines.append(
        f"The fixed parts ({', '.join(profile.FIXED)}) are what every server on this stack "
        "runs whatever it does with a message; the rest is each server's own work."
    )
    lines.append("")
    for load, unit in (("B2", "a message"), ("B5", "a connect")):
        floor_cost = costs.get(f"{load} floor")
        parts_text = []
        for kind, name in (("relay", "Channels relay"), ("product", "product")):
            cost = costs.get(f"{load} {kind}")
            if cost is None:
                continue
            fixed = cost * profile.fixed_share(found[f"{load} {kind}"])
            parts_text.append(
                f"the {name}'s fixed parts {fixed:.3f} ms{times(fixed, floor_cost)} and its own "
                f"work {cost - fixed:.3f} ms{times(cost - fixed, floor_cost)}"
            )
        if parts_text:
            floor_text = f" (the floor's whole: {floor_cost:.3f} ms)" if floor_cost else ""
            lines.append(
                f"- **{load}**, server CPU {unit}{floor_text}: " + "; ".join(parts_text) + "."
            )
    lines += ["", "Busiest innermost frames (samples):", ""]
    for key, label in columns:
        top = ", ".join(f"`{frame}` {count}" for frame, count in found[key].get("top", [])[:5])
        lines.append(f"- {label}: {top}")
    lines.append("")
    return lines


def details(live: dict[str, Any], pg: dict[str, Any], lite: dict[str, Any]) -> list[str]:
    lines: list[str] = ["## Details", ""]
    rows = live.get("rows", {})
    layer = rows.get("layers", {}).get("RedisChannelLayer", {}).get("median")
    b2 = rows.get("B2", {}).get("product", {}).get("median")
    if layer and b2:
        lines += [
            "### Channel layer: RedisPubSubChannelLayer vs RedisChannelLayer (B2's load)",
            "",
            "| layer | delivered msg/s | p50 ms | p99 ms | undelivered | server CPU % |",
            "|---|---|---|---|---|---|",
        ]
        for name, run in (("RedisPubSubChannelLayer (settings)", b2), ("RedisChannelLayer", layer)):
            lat = run.get("latency_ms", {})
            lines.append(
                f"| {name} | {fmt(run.get('delivered_rate'))} | {fmt(lat.get('p50'))} | "
                f"{fmt(lat.get('p99'))} | {run.get('lost')} | "
                f"{fmt(run.get('server_cpu_percent'))} |"
            )
        lines.append("")
    relay = rows.get("relay")
    if relay:
        lines += [
            "### Channel layers under a Channels relay without database (bench/relay_asgi.py)",
            "",
            f"The same load client against {live.get('server', 'daphne')} + Channels + the "
            "layer alone: B2's load "
            "(400 sockets, 1,000 msg/s; median of the runs) and the saturation sweep.",
            "",
            "| layer | delivered msg/s | p50 ms | p99 ms | undelivered | server CPU % | "
            "saturation (p99 <= 50 ms, all delivered) |",
            "|---|---|---|---|---|---|---|",
        ]
        extra = {}
        if rows.get("relay_pooled"):
            extra["RedisPubSubChannelLayer, no per-event clean-up hop"] = rows["relay_pooled"]
        for name, data in {**relay, **extra}.items():
            run = data["B2"]["median"]
            lat = run.get("latency_ms", {})
            lines.append(
                f"| {name} | {fmt(run.get('delivered_rate'))} | {fmt(lat.get('p50'))} | "
                f"{fmt(lat.get('p99'))} | {run.get('lost')} | "
                f"{fmt(run.get('server_cpu_percent'))} | {fmt(data['B3']['saturation'])} msg/s |"
            )
        lines.append("")
        for name, data in {**relay, **extra}.items():
            lines += [
                f"Sweep, {name}:",
                "",
                "| offered | delivered msg/s | p50 | p99 | undelivered | server CPU % |",
                "|---|---|---|---|---|---|",
            ]
            for run in data["B3"]["steps"]:
                lat = run.get("latency_ms", {})
                lines.append(
                    f"| {run['offered']:,} | {fmt(run['delivered_rate'])} | {fmt(lat.get('p50'))} "
                    f"| {fmt(lat.get('p99'))} | {run['lost']:,} | "
                    f"{fmt(run['server_cpu_percent'])} |"
                )
            lines.append("")
    on_daphne = rows.get("daphne")
    if on_daphne:
        server = live.get("server", "daphne")
        lines += [
            f"### The product on daphne beside {server}",
            "",
            "The same code, load and machine; daphne is the default server (README, "
            f"scripts/run.sh) and docs/deploy.md offers {server}. Medians of the runs.",
            "",
            "| row | daphne | " + server + " |",
            "|---|---|---|",
        ]
        for key in ("B1", "B2"):
            if key in on_daphne and key in rows:
                pair = [on_daphne[key]["median"], rows[key]["product"]["median"]]
                cells = [
                    f"p99 {fmt(p99(r))} ms, p50 {fmt(r.get('latency_ms', {}).get('p50'))} ms, "
                    f"{fmt(r.get('delivered_rate'))} msg/s delivered, CPU "
                    f"{fmt(r.get('server_cpu_percent'))}%"
                    for r in pair
                ]
                lines.append(f"| {key} | {cells[0]} | {cells[1]} |")
        if "B5" in on_daphne and "B5" in rows:
            pair = [on_daphne["B5"]["median"], rows["B5"]["product"]["median"]]
            cells = [
                f"{fmt(r['connected'])}/{fmt(r['sockets'])} in {fmt(r['seconds'])} s, "
                f"{fmt(r['server_cpu_seconds'])} s CPU"
                for r in pair
            ]
            lines.append(f"| B5 | {cells[0]} | {cells[1]} |")
        lines.append("")
    for key, title in (
        ("B1", "B1"),
        ("B1u", "B1 unpinned"),
        ("B2", "B2 (and B11)"),
        ("B2u", "B2 unpinned"),
    ):
        row = rows.get(key)
        if not row:
            continue
        lines += [
            f"### {title} runs",
            "",
            "| server | rep | sent | delivered msg/s | p50 | p90 | "
            "p99 | max | undelivered | dup | server CPU % | CPU ms/msg | machine busy % | "
            "RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for kind in KINDS:
            for i, run in enumerate(row.get(kind, {}).get("runs", []), 1):
                lat = run.get("latency_ms", {})
                per = run.get("cpu_ms_per_message")
                lines.append(
                    f"| {kind} | {i} | {run['sent']:,} | {fmt(run['delivered_rate'])} | "
                    f"{fmt(lat.get('p50'))} | {fmt(lat.get('p90'))} | {fmt(lat.get('p99'))} | "
                    f"{fmt(lat.get('max'))} | {run['lost']} | {run['duplicated']} | "
                    f"{fmt(run['server_cpu_percent'])} | "
                    f"{'-' if per is None else f'{per:.3f}'} | "
                    f"{fmt(run.get('machine_busy_percent'))} | {fmt(run['server_rss_mb'])} |"
                )
        lines.append("")
    for key in ["B3", *sorted(k for k in rows if k.startswith("B3x"))]:
        row = rows.get(key)
        if not row:
            continue
        lines += [
            f"### {key} sweep",
            "",
            "| server | offered | delivered msg/s | p50 | p99 | undelivered | server CPU % | "
            "machine busy % |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for kind in ("floor", "product"):
            for run in row.get(kind, {}).get("steps", []):
                lat = run.get("latency_ms", {})
                lines.append(
                    f"| {kind} | {run['offered']:,} | {fmt(run['delivered_rate'])} | "
                    f"{fmt(lat.get('p50'))} | {fmt(lat.get('p99'))} | {run['lost']:,} | "
                    f"{fmt(run['server_cpu_percent'])} | "
                    f"{fmt(run.get('machine_busy_percent'))} |"
                )
        lines.append("")
    for key in ("B6", "B6s"):
        if not rows.get(key):
            continue
        lines += [
            f"### {key} samples",
            "",
            "| t (s) | RSS MB | CPU % | DB conns | Redis clients | channels | keys |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in rows[key]["samples"]:
            lines.append(
                f"| {s['t']} | {s['rss_mb']} | {s['cpu_percent']} | {s['db_connections']} | "
                f"{s['clients_on_db']} | {s['pubsub_channels']} | {s['keys']} |"
            )
        lines.append("")
    for name, data in (("PostgreSQL", pg), ("SQLite", lite)):
        if data.get("B7"):
            lines += search_details(name, data["B7"])
    for name, data in (("PostgreSQL", pg), ("SQLite", lite)):
        if data.get("B10"):
            lines += b10_details(name, data["B10"])
    for name, data in (("PostgreSQL", pg), ("SQLite", lite)):
        b8 = data.get("B8")
        if b8:
            lines += [f"### B8/B9 plans on {name}", "", "```"]
            lines += b8["plans"]["deep"][:1]
            lines += data.get("B9", {}).get("plans", [])[:1]
            lines += ["```", ""]
    send = pg.get("send_path")
    if send:
        lat = send["send_ms"]
        lines += [
            "### The send path, statement by statement",
            "",
            f"One socket `send` (`chats.realtime.socket_work.send_batch` with one frame, "
            "in-process on "
            f"PostgreSQL): "
            f"{len(send['send_statements'])} statements, p50 {fmt(lat['p50'])} ms, "
            f"p99 {fmt(lat['p99'])} ms. The recipient's delivered pointer then costs "
            f"{len(send['delivered_statements'])} more.",
            "",
            "```",
            *[s[:160] for s in send["send_statements"]],
            "-- delivered:",
            *[s[:160] for s in send["delivered_statements"]],
            "```",
            "",
        ]
    return lines


def search_details(name: str, b7: dict[str, Any]) -> list[str]:
    lines = [
        f"### B7 on {name} ({b7['function']})",
        "",
        "| users | query length | p50 ms | p99 ms | calls | statements per call | full scan |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, at in b7["sizes"].items():
        for length, lat in at["latency_ms"].items():
            lines.append(
                f"| {int(size):,} | {length} | {fmt(lat['p50'])} | {fmt(lat['p99'])} | "
                f"{lat['n']:,} | {lat['queries_per_call']} | {at['full_scan'][length]} |"
            )
    size = max(b7["sizes"], key=int)
    at = b7["sizes"][size]
    lines += [
        "",
        f"{at.get('blocks', 0):,} blocks in the database. Plans at {int(size):,} users: every "
        "statement the selector issues for a query of each length (of 50 measured queries, "
        "one that issues the most statements"
        + ("; `EXPLAIN ANALYZE`" if b7.get("vendor") == "postgresql" else "")
        + "):",
        "",
    ]
    for length, plans in at["plans"].items():
        query = at.get("plan_queries", {}).get(length)
        title = f"{length} character{'s' if length != '1' else ''}"
        if not plans:
            lines += [f"- {title}: no statement (shorter than the 2-character minimum).", ""]
            continue
        lines += [f"- {title}" + (f", `{query}`:" if query else ":"), "", "```"]
        for plan in plans:
            lines += [short_columns(plan), ""]
        lines[-1] = "```"
        lines.append("")
    return lines


def b10_details(name: str, b10: dict[str, Any]) -> list[str]:
    lines = [
        f"### B10 on {name} ({b10['function']})",
        "",
        f"{b10['messages_total']:,} messages, {b10['user_messages']:,} of them the searcher's "
        f"(seeded in {b10.get('seed_seconds', '?')} s).",
        "",
        "| query | results | p50 ms | p99 ms | calls | statements per call "
        "| message table read through |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, q in b10["queries"].items():
        lat = q["latency_ms"]
        lines.append(
            f"| {key} `{q['query']}` | {q['results']} | {fmt(lat['p50'])} | {fmt(lat['p99'])} | "
            f"{lat['n']:,} | {lat['queries_per_call']} | {b10_scan(b10['vendor'], q)} |"
        )
    lines += ["", "Plans (the page's statement of each query):", ""]
    for key, q in b10["queries"].items():
        plan = (q.get("plans") or [""])[-1]
        lines += [f"- {key}:", "", "```", plan.strip(), "```", ""]
    return lines


def short_columns(plan: str) -> str:
    """A statement selecting every user column, with the list shortened for reading."""
    return re.sub(
        r'SELECT (accounts_user\."\w+", )+', "SELECT accounts_user.<every column>, ", plan
    )


def run_machine(meta: dict[str, Any]) -> list[str]:
    """The machine the run recorded (`python -m bench run` stores it in meta.json), else
    this host's, said to be so."""
    if meta.get("machine"):
        return list(meta["machine"])
    return [*machine(), "- (the host that wrote this page: the run did not record its own)"]


def _live_run(command: str) -> bool:
    """Whether a logged command measured live rows (`bench run` without `--skip live`)."""
    if not command.startswith("python -m bench run"):
        return False
    skip = re.search(r"--skip[= ](\S+)", command)
    return not skip or "live" not in skip.group(1).split(",")


def machine_line(live: dict[str, Any], meta: dict[str, Any]) -> str:
    """The first screen's one line: the machine, the run and how it was pinned."""
    first = run_machine(meta)
    cpu = first[0].removeprefix("- CPU: ")
    # Rows re-measured by later runs (--merge) on other machines: say which is which, for
    # the newest run of live rows and the newest of data rows (`bench queries`).
    merged = [m for m in meta.get("merged", []) if m.get("machine")]
    newest_live = next((m for m in reversed(merged) if _live_run(m["command"])), None)
    newest_data = next((m for m in reversed(merged) if not _live_run(m["command"])), None)
    parts = []
    shown = {m["machine"][0] for m in (newest_live, newest_data) if m} | {first[0]}
    for kind, run in (("live", newest_live), ("data", newest_data)):
        if run and len(shown) > 1:
            parts.append(
                f"{run['machine'][0].removeprefix('- CPU: ')} for the {kind} rows of the "
                f"newest such run ({run['started']})"
            )
    if parts:
        cpu = "; ".join(parts) + f"; older rows on {cpu} (see the log below)"
    return (
        f"**Machine**: {cpu}; server {live.get('server', 'daphne')} with PostgreSQL + Redis, "
        f"`DEBUG=0`. Pinned rows: server on cores {cores(live, 'server')}, load client on "
        f"{live.get('client_cores')} at nice {live.get('client_nice', '?')}; "
        '"unpinned": nothing pinned or reniced. '
        f"Run started {meta.get('started', '?')}"
        + (f", rows added until {meta['merged'][-1]['started']}" if meta.get("merged") else "")
        + (" (**--quick**: figures prove the harness only)" if meta.get("quick") else "")
        + '; the full log is under "How this was produced".'
    )


def write() -> Path:
    live, pg, lite, meta = load("live"), load("queries-pg"), load("queries-sqlite"), load("meta")
    for data in (pg, lite):
        if "B7" in data:
            rescan(data["B7"])
    rows = [*live_rows(live), search_row(pg, lite), *history_rows(pg, lite), *b10_rows(pg, lite)]
    after_b2 = 1 + max(i for i, row in enumerate(rows) if row[0].startswith("B2"))
    # Beside the B2 runs they are read from.
    rows[after_b2:after_b2] = [b11_row(live), b11_row(live, "B2u", "B11 unpinned")]
    has_plot = plot(live)
    quick = meta.get("quick")
    lines = [
        "# Benchmarks",
        "",
        machine_line(live, meta),
        "",
        *table(rows),
        "",
    ]
    if has_plot:
        lines += ["![latency percentiles vs offered load](benchmarks.png)", ""]
    lines += [
        "Generated by `python -m bench report` from `bench/results/*.json`; the analysis in "
        "the Notes section is `bench/notes.md`. Issues 8 and 22 define the rows and targets."
        + (
            " Which part of the stack each server's CPU goes to, and so what stands between a "
            'missed row and its target: "Where the CPU goes" below.'
            if live.get("rows", {}).get("profile")
            else ""
        ),
        "",
        "## How this was produced",
        "",
        "```",
        meta.get("command", "python -m bench run"),
        *[f"{m['command']}  # added {m['started']}" for m in meta.get("merged", [])],
        "```",
        "",
        f"Started {meta.get('started', '?')}, took {meta.get('minutes', '?')} minutes"
        + (
            " (**--quick**: short runs and small data, so rows that need full size say so)"
            if quick
            else ""
        )
        + ".",
        "",
        *run_machine(meta),
        f"- Server under test: {live.get('server', 'daphne')} (`--server`; the product "
        "and the Channels relay; row 'daphne' below measures the default server beside it).",
        f"- Pinning: server on cores {cores(live, 'server')}, load client on "
        f"{live.get('client_cores')} (`taskset`); PostgreSQL and Redis are not pinned. "
        "Rows B1 unpinned, B2 unpinned and B5 unpinned pin nothing.",
    ]
    if meta.get("note"):
        lines.append(f"- Conditions: {meta['note']}")
    if meta.get("loadavg_before"):
        lines.append(
            f"- Load average (1/5/15 min) at start {meta['loadavg_before']}, at the end "
            f"{meta.get('loadavg_after') or 'not recorded'} (the benchmark's own server, "
            "client, PostgreSQL and Redis count in it)."
        )
    for added in meta.get("merged", []):
        if added.get("loadavg_before") or added.get("note"):
            lines.append(
                f"- `{added['command']}` ({added['started']}, {added['minutes']} min): load "
                f"average at start {added.get('loadavg_before', 'not recorded')}, at the end "
                f"{added.get('loadavg_after', 'not recorded')}"
                + (f"; {added['note']}" if added.get("note") else "")
                + (
                    f"; on another machine: {added['machine'][0].removeprefix('- CPU: ')}"
                    if added.get("machine") and added["machine"] != run_machine(meta)
                    else ""
                )
            )
    if CHANGES.exists():
        lines += ["", CHANGES.read_text().strip()]
    lines += ["", "## Results, row by row", "", *reasons(rows), ""]
    lines += profile_section(live)
    if NOTES.exists():
        lines += [NOTES.read_text().strip(), ""]
    lines += details(live, pg, lite)
    DOCS.mkdir(exist_ok=True)
    path = DOCS / "benchmarks.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


def cores(live: dict[str, Any], _who: str) -> str:
    if live.get("server_cores"):
        return str(live["server_cores"])
    client = live.get("client_cores")
    if not client:
        return "(not pinned)"
    every = set(range(os.cpu_count() or 1))
    return str(sorted(every - set(client)))
