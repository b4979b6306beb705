"""`python -m bench run [--quick]`: every row, then docs/benchmarks.md. See docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.config import RESULTS_DIR, ROOT, Config, cpu_split, django_env
from bench.server import CLIENT_NICE

LIVE_ROWS = (
    # The unpinned rows first, before the client pins and renices itself (UNPINNED_ROWS).
    "B1u",
    "B2u",
    "B5u",
    "B1",
    "B2",
    "layers",
    "relay",
    "relay_pooled",
    "B3",
    "B4",
    "B5",
    "B6",
    "B6s",
    "daphne",
    "profile",
)
# Left out of --quick (unless named in --live-rows): B6s is B6's soak at a lower rate, B1u and
# B5u are B1 and B5 unpinned, the profile is read beside rows it does not change, and the
# quick run has to fit in 5 minutes.
QUICK_SKIPS = ("B6s", "B1u", "B5u", "profile")


def write_json(name: str, data: Any) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, default=str))
    return path


def django_setup() -> None:
    import django

    django.setup()


def cmd_live(args: argparse.Namespace) -> None:
    django_setup()
    from bench.live import UNPINNED_ROWS, Live, Plan, seed_accounts
    from bench.server import pin_self_to_client_cores

    config = Config()
    plan = Plan.quick() if args.quick else Plan.full()
    server_cores, client_cores = cpu_split()  # worked out before any pinning
    rows = args.rows.split(",") if args.rows else list(LIVE_ROWS)
    if args.quick and not args.rows:
        rows = [r for r in rows if r not in QUICK_SKIPS]
    # The unpinned rows first, while this process (the load client) still has every core
    # and the priority it was started with; then it pins and renices itself for the rest.
    rows = [r for r in rows if r in UNPINNED_ROWS] + [r for r in rows if r not in UNPINNED_ROWS]
    started = time.perf_counter()
    accounts = seed_accounts(max(plan.idle, plan.storm, 2 * 200 + 2000) + 10)
    live = Live(config, os.environ["DATABASE_URL"], plan, accounts)
    live.flush_redis()
    live.say(f"seeded {len(accounts)} users in {time.perf_counter() - started:.1f}s")
    server = os.environ.get("BENCH_SERVER", "uvicorn")
    out: dict[str, Any] = {
        "plan": plan.__dict__,
        "client_cores": client_cores,
        "server_cores": server_cores,
        "client_nice": max(CLIENT_NICE, os.getpriority(os.PRIO_PROCESS, 0)),
        "server": server,
        "rows": {},
    }
    previous = RESULTS_DIR / f"{args.out}.json"
    if args.merge and previous.exists():
        out = json.loads(previous.read_text())
        out.setdefault("log", [])
        if out.get("server", "daphne") != server:
            raise SystemExit(f"the results to merge into were measured on {out.get('server')}")
        out["client_cores"], out["server_cores"] = client_cores, server_cores
        out["client_nice"] = max(CLIENT_NICE, os.getpriority(os.PRIO_PROCESS, 0))
    pinned = False
    for row in rows:
        if row not in UNPINNED_ROWS and not pinned:
            live.say(f"load client on cores {pin_self_to_client_cores()} from here on")
            pinned = True
        handler = getattr(live, row.lower())
        out["rows"][row] = handler()
        write_json(args.out, out)
    if args.scale_out:
        if not pinned:
            pin_self_to_client_cores()
        out["rows"][f"B3x{args.scale_out}"] = live.b3(workers=args.scale_out, kinds=("product",))
        write_json(args.out, out)
    out["log"] = out.get("log", []) + live.log if args.merge else live.log
    write_json(args.out, out)


# B10's stored messages: the issue's 10,000,000 on PostgreSQL and 1,000,000 on SQLite.
_B10_TOTAL = {"postgresql": 10_000_000, "sqlite": 1_000_000}


def cmd_queries(args: argparse.Namespace) -> None:
    import gc

    django_setup()
    from django.db import connection

    from bench import queries

    gc.freeze()  # as chatsite/asgi.py does once the application is loaded

    sizes = [20_000] if args.quick else [100_000, 1_000_000]
    runs = 100 if args.quick else 1000
    out: dict[str, Any] = {"vendor": connection.vendor}
    if "B7" in args.rows:
        out["B7"] = queries.b7(sizes=sizes, runs=runs)
        print(f"B7 {connection.vendor} done", flush=True)
    if "B8" in args.rows:
        big = 20_000 if args.quick else 500_000
        out.update(queries.b8_b9(big_chat=big, spread_chats=1000, per_chat=big // 1000, runs=runs))
        print(f"B8/B9 {connection.vendor} done", flush=True)
    if "B10" in args.rows:
        from bench import search_queries

        mine, total, repetitions = (100_000, _B10_TOTAL[connection.vendor], 3)
        if args.tiny:  # proves the row runs; its figures mean nothing
            mine, total, runs, repetitions = 2_000, 10_000, 20, 1
        elif args.quick:
            mine, total, repetitions = 2_000, total // 200, 1
        out["B10"] = search_queries.b10(
            user_messages=mine, total=total, runs=runs, repetitions=repetitions
        )
        print(f"B10 {connection.vendor} done", flush=True)
    if "send" in args.rows:
        out["send_path"] = queries.send_path(runs=300)
    write_json(args.out, out)


def sub(command: list[str], env: dict[str, str]) -> None:
    print("$ python -m bench " + " ".join(command), flush=True)
    subprocess.run([sys.executable, "-m", "bench", *command], cwd=ROOT, env=env, check=True)


def cmd_run(args: argparse.Namespace) -> None:
    from bench import db, report

    config = Config()
    os.environ["BENCH_SERVER"] = args.server  # read by bench.server in the subprocesses
    quick = ["--quick"] if args.quick else []
    started = time.time()
    load_before = os.getloadavg()
    db.make_template(config)
    skip = set(args.skip.split(",")) if args.skip else set()
    if "live" not in skip:
        url = db.fresh_pg(config, "live")
        extra = ["--scale-out", str(args.scale_out)] if args.scale_out else []
        if args.live_rows:
            extra += ["--rows", args.live_rows]
        if args.merge:
            extra.append("--merge")
        # --quick: a 3 s presence grace period, so the soaks' wait for it is short too.
        grace = {"PRESENCE_GRACE_SECONDS": "3"} if args.quick else {}
        sub(["live", *quick, *extra, "--out", "live"], django_env(config, url, **grace))
        db.drop_pg(config, "live")
    if "pg" not in skip:
        url = db.fresh_pg(config, "data")
        rows = "B7,B8,B10,send"
        sub(["queries", *quick, "--rows", rows, "--out", "queries-pg"], django_env(config, url))
        db.drop_pg(config, "data")
    if "sqlite" not in skip:
        url = db.fresh_sqlite(config, "data")
        # SQLite is the embedded mode: no Redis (presence and the layer live in the process).
        sub(
            ["queries", *quick, "--rows", "B7,B8,B10", "--out", "queries-sqlite"],
            django_env(config, url, REDIS_URL=""),
        )
    command = "python -m bench " + shlex.join(sys.argv[1:])
    if args.merge and (RESULTS_DIR / "meta.json").exists():
        meta = json.loads((RESULTS_DIR / "meta.json").read_text())
        meta.setdefault("merged", []).append(
            {
                "command": command,
                "machine": report.machine(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
                "minutes": round((time.time() - started) / 60, 1),
                "note": args.note,
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            }
        )
        write_json("meta", meta)
        cmd_report(args)
        return
    meta = {
        "command": command,
        "machine": report.machine(),
        "server": args.server,
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "minutes": round((time.time() - started) / 60, 1),
        "note": args.note,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    write_json("meta", meta)
    cmd_report(args)


def cmd_capacity(args: argparse.Namespace) -> None:
    from bench import db

    config = Config()
    url = db.fresh_empty_pg(config, "cap")
    try:
        db.migrate(django_env(config, url))
        command = ["capacity-run", "--seconds", str(args.seconds), "--connections"]
        command += [args.connections, "--batches", args.batches, "--out", args.out]
        command += ["--chats-per-user", str(args.chats_per_user)]
        sub([*command, *(["--no-redis"] if args.no_redis else [])], django_env(config, url))
    finally:
        db.drop_pg(config, "cap")


def cmd_capacity_run(args: argparse.Namespace) -> None:
    django_setup()
    from bench import capacity

    out = capacity.run(
        seconds=args.seconds,
        connections=[int(n) for n in args.connections.split(",")],
        batches=[int(n) for n in args.batches.split(",")],
        chats=args.chats,
        chats_per_user=args.chats_per_user,
        redis=not args.no_redis,
    )
    print(f"wrote {write_json(args.out, out)}")


def cmd_report(args: argparse.Namespace) -> None:
    from bench import report

    path = report.write()
    print(f"wrote {path}")


def cmd_floor(args: argparse.Namespace) -> None:
    import asyncio

    from bench.floor import main

    asyncio.run(main("127.0.0.1", args.port))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="every row, then docs/benchmarks.md")
    run.add_argument("--quick", action="store_true", help="short runs, small data (minutes)")
    run.add_argument(
        "--scale-out", type=int, default=0, metavar="N", help="also B3 with N server processes"
    )
    run.add_argument(
        "--server",
        choices=("uvicorn", "daphne"),
        default="uvicorn",
        help="the ASGI server for the product and the Channels relay (row 'daphne' measures "
        "daphne beside it); docs/deploy.md",
    )
    run.add_argument("--skip", default="", help="comma list of phases: live,pg,sqlite")
    run.add_argument("--note", default="", help="a line for the report (e.g. machine load)")
    run.add_argument("--live-rows", default="", help="comma list of live rows (default: all)")
    run.add_argument(
        "--merge", action="store_true", help="add to the last results instead of replacing them"
    )
    run.set_defaults(func=cmd_run)
    live = commands.add_parser("live", help="(internal) B1-B6 against a seeded database")
    live.add_argument("--quick", action="store_true")
    live.add_argument("--scale-out", type=int, default=0)
    live.add_argument("--rows", default="")
    live.add_argument("--out", default="live")
    live.add_argument("--merge", action="store_true", help="add the rows to an existing result")
    live.set_defaults(func=cmd_live)
    queries = commands.add_parser("queries", help="(internal) B7-B9 on one database")
    queries.add_argument("--quick", action="store_true")
    queries.add_argument(
        "--tiny", action="store_true", help="B10 at 10,000 messages: proves it runs, no figure"
    )
    queries.add_argument("--rows", default="B7,B8,B10,send")
    queries.add_argument("--out", default="queries")
    queries.set_defaults(func=cmd_queries)
    capacity = commands.add_parser(
        "capacity", help="the send statement's cost on PostgreSQL and Redis PUBLISH throughput"
    )
    capacity.add_argument("--seconds", type=float, default=12, help="per measurement")
    capacity.add_argument("--connections", default="1,2,4,8", help="comma list")
    capacity.add_argument("--batches", default="1,10", help="messages per statement, comma list")
    capacity.add_argument(
        "--chats-per-user", type=int, default=1, help="chats each sender and recipient is in"
    )
    capacity.add_argument("--no-redis", action="store_true", help="PostgreSQL only")
    capacity.add_argument("--out", default="capacity", help="bench/results/<out>.json")
    capacity.set_defaults(func=cmd_capacity)
    capacity_run = commands.add_parser("capacity-run", help="(internal) against a migrated db")
    capacity_run.add_argument("--seconds", type=float, default=12)
    capacity_run.add_argument("--connections", default="1,2,4,8")
    capacity_run.add_argument("--batches", default="1,10")
    capacity_run.add_argument("--chats", type=int, default=2000)
    capacity_run.add_argument("--chats-per-user", type=int, default=1)
    capacity_run.add_argument("--no-redis", action="store_true")
    capacity_run.add_argument("--out", default="capacity")
    capacity_run.set_defaults(func=cmd_capacity_run)
    report = commands.add_parser("report", help="rewrite docs/benchmarks.md from bench/results")
    report.set_defaults(func=cmd_report)
    floor = commands.add_parser("floor", help="run the floor relay alone")
    floor.add_argument("--port", type=int, default=8540)
    floor.set_defaults(func=cmd_floor)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
