"""Live rows B1-B6 and the channel-layer comparison: the product (on uvicorn or
daphne) beside the floor.

Runs in its own process with Django configured for the live benchmark database (the load
client uses the ORM only to seed before and to reconcile after, never during a run).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psutil
import psycopg
import redis
from django.conf import settings

from bench import seed
from bench.client import Account, Tally, Target, close_all, drive, open_many
from bench.config import Config
from bench.profile import sampling
from bench.server import Server, deployed_command, niceness, start_floor, start_product
from chatsite.redis_clients import IDLE_CLOSE_SECONDS as _IDLE_CLOSE


@dataclass(frozen=True)
class Plan:
    """The full run's sizes and durations (the defaults); `quick` shortens them."""

    reps: int = 3
    warmup: float = 2.0
    duration: float = 15.0
    sweep: tuple[int, ...] = (25, 50, 100, 250, 500, 1000, 1500, 2000, 3000, 4000, 6000)
    sweep_duration: float = 8.0
    idle: int = 10000
    storm: int = 5000
    soak: float = 600.0
    soak_sample: float = 10.0
    churn_per_s: float = 20.0
    drain: float = 10.0  # the longest wait for deliveries after the last send
    soak_warmup: float = 20.0
    idle_wait: float = 5.0  # B4: each wait before reading the memory and the open sockets
    soak_margin: float = 10.0  # the soak's wait past the grace period and the idle close
    pairs: int = 200  # B2's load (and B3's, the relay's): 2 sockets per pair, one chat each
    pause: float = 1.0  # after opening the sockets, and between sweep steps

    @classmethod
    def quick(cls) -> Plan:
        """Proves the rows run (in <= 5 minutes on 2 cores); its figures mean little."""
        return cls(
            reps=1,
            warmup=0.3,
            duration=1.0,
            sweep=(250, 2000),
            sweep_duration=1.0,
            idle=300,
            storm=300,
            soak=5.0,
            soak_sample=1.0,
            churn_per_s=10.0,  # B6's churn, halved for the shorter soak
            drain=2.0,
            soak_warmup=2.0,
            idle_wait=0.5,
            soak_margin=1.0,
            pairs=50,
            pause=0.3,
        )

    @classmethod
    def full(cls) -> Plan:
        return cls()


PAIRS_LOAD = 200
# Rows run as people run the product (nothing pinned or reniced): `python -m bench live`
# runs them before it pins and renices the load client for the other rows.
UNPINNED_ROWS = ("B1u", "B2u", "B5u")
RELAY_APP = "bench.relay_asgi:application"
RELAY_POOLED_APP = "bench.relay_pooled_asgi:application"
LAYERS = {
    "RedisPubSubChannelLayer": "chatsite.settings",
    "RedisChannelLayer": "bench.layer_settings",
}


def seed_accounts(count: int) -> list[Account]:
    """`count` users (an even number) in pairs, one chat per pair, each with a session."""
    names = [f"bench{i:05d}" for i in range(count)]
    ids = seed.seed_users(names)
    chats = seed.seed_chats([(ids[i], ids[i + 1]) for i in range(0, count, 2)])
    keys = seed.seed_sessions(ids)
    seed.settle()
    return [
        Account(uid, name, keys[uid], chats[i // 2])
        for i, (uid, name) in enumerate(zip(ids, names, strict=True))
    ]


def reconcile(tally: Tally) -> dict[str, Any]:
    """Compare what the client sent and saw acked with what the database stored."""
    from django.db.models import Count, Max

    from chats.models import Chat, Message

    stored = set(
        Message.objects.filter(client_id__startswith=f"{tally.token}-").values_list(
            "client_id", flat=True
        )
    )
    sent, acked = set(tally.sent), set(tally.acked)
    chat_ids = set(
        Message.objects.filter(client_id__startswith=f"{tally.token}-").values_list(
            "chat_id", flat=True
        )
    )
    gaps = 0
    last = dict(Chat.objects.filter(pk__in=chat_ids).values_list("pk", "last_seq"))
    for row in (
        Message.objects.filter(chat_id__in=chat_ids)
        .values("chat_id")
        .annotate(n=Count("id"), hi=Max("seq"))
    ):
        if not row["n"] == row["hi"] == last[row["chat_id"]]:
            gaps += 1
    return {
        "stored": len(stored),
        "sent_not_stored": len(sent - stored),
        "acked_not_stored": len(acked - stored),
        "stored_not_acked": len(stored - acked),
        "chats_with_seq_gaps": gaps,
    }


def machine_busy(before: Any) -> float:
    """Percent of all cores' time not idle since `before` (psutil.cpu_times())."""
    after = psutil.cpu_times()
    total = sum(after) - sum(before)
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    return round(100 * (1 - idle / total), 1) if total > 0 else 0.0


def run_async(factory: Callable[[], Awaitable[Any]]) -> Any:
    """The load client's event loop: uvloop (as the server's), so that on the client's core
    the client's own overhead per frame is small beside the server's."""
    import uvloop

    return uvloop.run(factory())


class Live:
    def __init__(self, config: Config, db_url: str, plan: Plan, accounts: list[Account]) -> None:
        self.config = config
        self.db_url = db_url
        self.plan = plan
        self.accounts = accounts
        self.log: list[str] = []
        # False for the rows run as people run it (UNPINNED_ROWS): every server on the
        # command of docs/deploy.md, nothing pinned; the caller leaves the client unpinned.
        self.pinned = True

    def say(self, text: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {text}"
        self.log.append(line)
        print(line, flush=True)

    def server(self, kind: str, **kwargs: Any) -> Server:
        if kind == "floor":
            return start_floor(self.config, pinned=self.pinned)
        kwargs.setdefault("pinned", self.pinned)
        if kind == "relay":
            kwargs.setdefault("app", RELAY_APP)
            server = start_product(self.config, self.db_url, **kwargs)
            server.kind = "relay"
            return server
        return start_product(self.config, self.db_url, **kwargs)

    def target(self, server: Server) -> Target:
        return Target(server.kind, server.ports)

    # One load step on open sockets.

    async def load(
        self,
        server: Server,
        accounts: list[Account],
        *,
        rate: float,
        duration: float,
        one_way: bool,
        conns: list | None = None,
    ) -> tuple[dict[str, Any], Tally]:
        opened = None
        if conns is None:
            opened = await open_many(self.target(server), accounts)
            conns = opened.conns
            if opened.refused:
                self.say(f"  refused: {dict(opened.refused)}")
            await asyncio.sleep(self.plan.pause)
        writers = conns[::2] if one_way else conns
        token = uuid.uuid4().hex[:10]
        # The CPU window is the drive alone: sockets already open, from the first send to the
        # last delivery (or the drain's end), so every message delivered in it is counted.
        cpu0, t0 = server.cpu_seconds(), time.perf_counter()
        machine0 = psutil.cpu_times()
        tally = await drive(
            conns,
            writers=writers,
            rate=rate,
            duration=duration,
            warmup=self.plan.warmup,
            token=token,
            drain=self.plan.drain,
        )
        wall = time.perf_counter() - t0
        cpu = server.cpu_seconds() - cpu0
        result = tally.summary()
        result.update(
            offered=rate,
            connections=len(conns),
            server_cpu_percent=round(100 * cpu / wall, 1),
            server_cpu_seconds=round(cpu, 3),
            cpu_window_seconds=round(wall, 3),
            cpu_ms_per_message=cpu_per_message(cpu, result["delivered"]),
            # Every core, everything (server, client, PostgreSQL, Redis): 100 = all busy.
            machine_busy_percent=machine_busy(machine0),
            server_rss_mb=round(server.rss() / 2**20, 1),
            server_nice=max(niceness(server)),
        )
        if opened is not None:
            result["refused"] = sum(opened.refused.values())
            result["extensions"] = opened.extensions
            await close_all(conns)
        return result, tally

    def step(
        self, kind: str, accounts: list[Account], rate: float, one_way: bool, **server_kwargs: Any
    ) -> dict[str, Any]:
        server = self.server(kind, **server_kwargs)
        try:
            result, tally = run_async(
                lambda: self.load(
                    server, accounts, rate=rate, duration=self.plan.duration, one_way=one_way
                )
            )
        finally:
            server.stop()
        if kind == "product":
            result["db"] = reconcile(tally)
        self.say(f"  {kind}: {brief(result)}")
        return result

    def repeated(
        self,
        name: str,
        accounts: list[Account],
        rate: float,
        one_way: bool,
        kinds: tuple[str, ...] = ("floor", "product"),
        **server_kwargs: Any,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind in kinds:
            runs = []
            for rep in range(self.plan.reps):
                self.say(
                    f"{name} {kind} rep {rep + 1}/{self.plan.reps}: {rate} msg/s, "
                    f"{len(accounts)} sockets"
                )
                runs.append(self.step(kind, accounts, rate, one_way, **server_kwargs))
            out[kind] = {"median": median_run(runs), "runs": runs}
        return out

    # Rows.

    def b1(self) -> dict[str, Any]:
        return self.repeated("B1", self.accounts[:2], 200, one_way=True)

    def b2(self) -> dict[str, Any]:
        """B2's load on the floor, the product and the Channels relay (pub/sub layer, no
        database): row B11 (CPU per message) is read from these same runs."""
        return self.repeated(
            "B2",
            self.accounts[: 2 * self.plan.pairs],
            1000,
            one_way=False,
            kinds=("floor", "product", "relay"),
        )

    def b2u(self) -> dict[str, Any]:
        """B2 as people run it (`unpinned`), the Channels relay beside it as in B2: whether
        the fixed part of the stack alone carries the load as people run it."""
        accounts = self.accounts[: 2 * self.plan.pairs]
        return self.unpinned(
            lambda: self.repeated(
                "B2u", accounts, 1000, one_way=False, kinds=("floor", "product", "relay")
            )
        )

    def b1u(self) -> dict[str, Any]:
        """B1 as people run it (`unpinned`)."""
        return self.unpinned(lambda: self.repeated("B1u", self.accounts[:2], 200, one_way=True))

    def unpinned(self, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """A row as people run the product (UNPINNED_ROWS): the floor and the product on the
        command of docs/deploy.md, nothing pinned, the client at its own priority
        (`python -m bench live` runs these rows before it pins and renices itself)."""
        before, self.pinned = self.pinned, False
        try:
            out = measure()
        finally:
            self.pinned = before
        out["client"] = {
            "cores": sorted(os.sched_getaffinity(0)),
            "nice": os.getpriority(os.PRIO_PROCESS, 0),
        }
        app = "chatsite.asgi:application"
        out["server_command"] = ["uvicorn", *deployed_command(app, self.config.port(0))[1:]]
        return out

    def layers(self) -> dict[str, Any]:
        """B2's load on the list-based RedisChannelLayer (pub/sub is B2's product run)."""
        runs = []
        for rep in range(self.plan.reps):
            self.say(f"layers RedisChannelLayer rep {rep + 1}/{self.plan.reps}")
            runs.append(
                self.step(
                    "product",
                    self.accounts[: 2 * self.plan.pairs],
                    1000,
                    False,
                    settings_module="bench.layer_settings",
                )
            )
            self.say(f"  Redis after the list-based layer: {self.redis_state()}")
            self.flush_redis()
        return {"RedisChannelLayer": {"median": median_run(runs), "runs": runs}}

    def b3(
        self,
        workers: int = 1,
        app: str | None = None,
        kinds: tuple[str, ...] = ("floor", "product"),
        **extra: Any,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if app:
            extra["app"] = app
        for kind in kinds:
            server = (
                self.server(kind)
                if kind == "floor"
                else self.server(kind, workers=workers, **extra)
            )
            steps = []
            try:
                steps = run_async(lambda s=server: self.sweep(s))
            finally:
                server.stop()
            passing = [s["offered"] for s in steps if passes_b3(s)]
            out[kind] = {"steps": steps, "saturation": max(passing, default=0)}
            self.say(
                f"B3 {kind} x{workers} {app or ''}: saturation {out[kind]['saturation']} msg/s"
            )
        return out

    def relay(self) -> dict[str, Any]:
        """Both channel layers under the Channels relay (no database): B2's load and a sweep."""
        out: dict[str, Any] = {}
        for name, settings_module in LAYERS.items():
            b2 = self.repeated(
                f"relay {name}",
                self.accounts[: 2 * self.plan.pairs],
                1000,
                one_way=False,
                kinds=("relay",),
                settings_module=settings_module,
            )
            sweep = self.b3(kinds=("relay",), settings_module=settings_module)
            out[name] = {"B2": b2["relay"], "B3": sweep["relay"]}
            self.flush_redis()
        return out

    def relay_pooled(self) -> dict[str, Any]:
        """The relay (pub/sub layer) without the per-event hop to the single sync thread."""
        b2 = self.repeated(
            "relay pooled",
            self.accounts[: 2 * self.plan.pairs],
            1000,
            one_way=False,
            kinds=("relay",),
            app=RELAY_POOLED_APP,
        )
        sweep = self.b3(kinds=("relay",), app=RELAY_POOLED_APP)
        return {"B2": b2["relay"], "B3": sweep["relay"]}

    def daphne(self) -> dict[str, Any]:
        """B1, B2 and B5 on daphne (the default server) for the product, beside the rows'
        server (uvicorn, as docs/deploy.md offers it)."""
        before = os.environ.get("BENCH_SERVER")
        os.environ["BENCH_SERVER"] = "daphne"
        try:
            out: dict[str, Any] = {}
            for key, accounts, rate, one_way in (
                ("B1", self.accounts[:2], 200, True),
                ("B2", self.accounts[: 2 * self.plan.pairs], 1000, False),
            ):
                out[key] = self.repeated(
                    f"{key} on daphne", accounts, rate, one_way, kinds=("product",)
                )["product"]
            runs = []
            for rep in range(self.plan.reps):
                self.flush_redis()  # a cold storm, as in b5
                server = self.server("product")
                try:
                    runs.append(
                        run_async(lambda s=server: self.storm(s, self.accounts[: self.plan.storm]))
                    )
                finally:
                    server.stop()
                self.say(f"B5 on daphne rep {rep + 1}: {runs[-1]}")
            out["B5"] = {"median": median_run(runs), "runs": runs}
            return out
        finally:
            if before is None:
                os.environ.pop("BENCH_SERVER", None)
            else:
                os.environ["BENCH_SERVER"] = before

    async def sweep(self, server: Server) -> list[dict[str, Any]]:
        accounts = self.accounts[: 2 * self.plan.pairs]
        opened = await open_many(self.target(server), accounts)
        steps: list[dict[str, Any]] = []
        failures = 0
        try:
            for rate in self.plan.sweep:
                result, _tally = await self.load(
                    server,
                    accounts,
                    rate=rate,
                    duration=self.plan.sweep_duration,
                    one_way=False,
                    conns=opened.conns,
                )
                steps.append(result)
                self.say(f"  B3 {server.kind} {rate}: {brief(result)}")
                # Stop after two saturated steps in a row: a latency spike on this shared
                # machine is not saturation, falling behind the offered rate is.
                saturated = not passes_b3(result) and (
                    result["lost"] > 0 or result["delivered_rate"] < 0.9 * rate
                )
                failures = failures + 1 if saturated else 0
                if failures >= 2:
                    break
                await asyncio.sleep(self.plan.pause)
        finally:
            await close_all(opened.conns)
        return steps

    def b4(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        accounts = self.accounts[: self.plan.idle]
        for kind in ("floor", "product"):
            server = self.server(kind)
            try:
                out[kind] = run_async(lambda s=server: self.idle(s, accounts))
            finally:
                server.stop()
            self.say(f"B4 {kind}: {out[kind]}")
        return out

    async def idle(self, server: Server, accounts: list[Account]) -> dict[str, Any]:
        warm = await open_many(self.target(server), self.accounts[-10:])
        await close_all(warm.conns)
        await asyncio.sleep(1.0)
        rss0 = server.rss()
        # Holding, not storming (that is B5): a few handshakes in flight at a time.
        opened = await open_many(self.target(server), accounts, concurrency=50, cap_seconds=240.0)
        await asyncio.sleep(self.plan.idle_wait)
        rss1 = server.rss()
        await asyncio.sleep(self.plan.idle_wait)
        open_after = sum(1 for c in opened.conns if c.ws.close_code is None)
        await close_all(opened.conns)
        held = len(opened.conns)
        return {
            "wanted": len(accounts),
            "held": held,
            "still_open_after_10s": open_after,
            "refused": sum(opened.refused.values()),
            "rss_before_mb": round(rss0 / 2**20, 1),
            "rss_after_mb": round(rss1 / 2**20, 1),
            "kb_per_connection": round((rss1 - rss0) / 1024 / max(held, 1), 1),
            "connect_seconds": round(opened.seconds, 2),
            "extensions": opened.extensions,
        }

    def b5(self) -> dict[str, Any]:
        """The connect storm on the floor, the product and the Channels relay (the server,
        Channels and the layer's subscribe, no auth or database: the fixed part of a
        connect, issue 22)."""
        return self.storms("B5", ("floor", "product", "relay"))

    def b5u(self) -> dict[str, Any]:
        """B5 as people run it (`unpinned`), the Channels relay's storm beside it as in B5."""
        return self.unpinned(lambda: self.storms("B5u", ("floor", "product", "relay")))

    def storms(self, name: str, kinds: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        accounts = self.accounts[: self.plan.storm]
        for kind in kinds:
            runs = []
            for rep in range(self.plan.reps):
                # A cold storm: nobody online or in their grace period from an earlier row,
                # so every socket's user comes online and is announced to their peers.
                self.flush_redis()
                server = self.server(kind)
                try:
                    runs.append(run_async(lambda s=server: self.storm(s, accounts)))
                finally:
                    server.stop()
                self.say(f"{name} {kind} rep {rep + 1}: {runs[-1]}")
            out[kind] = {"median": median_run(runs), "runs": runs}
        return out

    async def storm(self, server: Server, accounts: list[Account]) -> dict[str, Any]:
        warm = await open_many(self.target(server), self.accounts[-10:])
        await close_all(warm.conns)
        cpu0 = server.cpu_seconds()
        opened = await open_many(self.target(server), accounts, concurrency=1000)
        cpu = server.cpu_seconds() - cpu0
        await close_all(opened.conns)
        return {
            "sockets": len(accounts),
            "connected": len(opened.conns),
            "refused": sum(opened.refused.values()),
            "refusals": dict(opened.refused),
            "seconds": round(opened.seconds, 3),
            "handshake_ms": opened.connect_ms,
            "server_cpu_seconds": round(cpu, 2),
        }

    def profile(self) -> dict[str, Any]:
        """Row `profile`: where each server's CPU goes by part of the stack (bench/profile.py),
        one run each under py-spy: B2's load and B5's storm on the floor, the Channels relay
        and the product. Read beside B2 and B5, not as their figures: the sampler costs the
        server a little."""
        out: dict[str, Any] = {}
        pairs = self.accounts[: 2 * self.plan.pairs]
        for kind in ("floor", "relay", "product"):
            server = self.server(kind)
            try:
                out[f"B2 {kind}"] = run_async(lambda s=server: self.profiled_load(s, pairs))
            finally:
                server.stop()
            self.say(f"profile B2 {kind}: {out[f'B2 {kind}']['parts']}")
        for kind in ("floor", "relay", "product"):
            self.flush_redis()  # a cold storm, as B5's
            server = self.server(kind)
            try:
                with sampling(server.procs[0].pid, self.config.tmp / "profile.txt") as found:
                    storm = run_async(
                        lambda s=server: self.storm(s, self.accounts[: self.plan.storm])
                    )
            finally:
                server.stop()
            out[f"B5 {kind}"] = {**found, "run": storm}
            self.say(f"profile B5 {kind}: {found['parts']}")
        return out

    async def profiled_load(self, server: Server, accounts: list[Account]) -> dict[str, Any]:
        opened = await open_many(self.target(server), accounts)
        await asyncio.sleep(self.plan.pause)
        # Sampled from the first send on: the sockets' opening is B5's, not B2's.
        with sampling(server.procs[0].pid, self.config.tmp / "profile.txt") as found:
            result, _tally = await self.load(
                server,
                accounts,
                rate=1000,
                duration=self.plan.duration,
                one_way=False,
                conns=opened.conns,
            )
        await close_all(opened.conns)
        return {**found, "run": result}

    def b6(self) -> dict[str, Any]:
        """The issue's soak: 200 msg/s plus churn for the plan's duration."""
        return self.soaked(
            "B6", rate=200, churn_per_s=self.plan.churn_per_s, duration=self.plan.soak
        )

    def b6s(self) -> dict[str, Any]:
        """A soak within this machine's capacity, to tell leaks from backlog."""
        return self.soaked("B6s", rate=10, churn_per_s=2, duration=min(self.plan.soak, 180.0))

    def soaked(self, name: str, **load: float) -> dict[str, Any]:
        self.flush_redis()  # no presence keys left by an earlier row in the baseline
        server = self.server("product")
        try:
            result, tally = run_async(lambda: self.soak(server, **load))
        finally:
            server.stop()
        result["db"] = reconcile(tally)
        result["after_stop"] = self.redis_state()
        self.say(f"{name}: {brief(result)} rss growth {result['rss_growth_percent']}%")
        return result

    def flush_redis(self) -> None:
        """Empty this run's own Redis database (the list-based layer leaves day-long keys)."""
        client = redis.Redis.from_url(self.config.redis_url)
        client.flushdb()
        client.close()

    def redis_state(self) -> dict[str, int]:
        client = redis.Redis.from_url(self.config.redis_url)
        db = client.connection_pool.connection_kwargs.get("db", 0)
        clients = [c for c in client.client_list() if int(c.get("db", -1)) == db]
        channels = client.pubsub_channels(f"{self.config.prefix}*")
        state = {
            "clients_on_db": len(clients) - 1,  # minus this one
            "keys": client.dbsize(),
            "pubsub_channels": len(channels),
        }
        client.close()
        return state

    def db_connections(self) -> int:
        name = self.db_url.rsplit("/", 1)[1]
        with psycopg.connect(f"{self.config.pg_url}/postgres") as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]
            ).fetchone()
        return int(row[0]) if row else 0

    async def soak(
        self, server: Server, *, rate: float, churn_per_s: float, duration: float
    ) -> tuple[dict[str, Any], Tally]:
        steady = self.accounts[: 2 * 100]
        pool = self.accounts[2 * PAIRS_LOAD : 2 * PAIRS_LOAD + 2000]
        churned = {"opened": 0, "refused": 0}

        async def churn(stop: asyncio.Event, first: int) -> None:
            rng = random.Random(first)
            tasks: set[asyncio.Task[None]] = set()

            async def visit(account: Account, index: int) -> None:
                result = await open_many(self.target(server), [account], first_index=index)
                churned["opened"] += len(result.conns)
                churned["refused"] += sum(result.refused.values())
                await asyncio.sleep(rng.uniform(0.5, 3.0))
                await close_all(result.conns)

            i = 0
            while not stop.is_set():
                task = asyncio.ensure_future(visit(pool[i % len(pool)], first + i))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
                await asyncio.sleep(1 / churn_per_s)
            await asyncio.gather(*tasks, return_exceptions=True)

        # The baseline is a server that has served this kind of traffic (its connection
        # pools at working size), with no socket open: the soak's load first (20 s), churn
        # included (connects and disconnects use Redis scripts that messages do not, and
        # each script in flight holds a pooled connection).
        warm = await open_many(self.target(server), steady)
        warm_stop = asyncio.Event()
        warm_churn = asyncio.ensure_future(churn(warm_stop, 1_000_000))
        await drive(
            warm.conns,
            writers=warm.conns,
            rate=rate,
            duration=self.plan.soak_warmup,
            warmup=0.0,
            token=uuid.uuid4().hex[:10],
        )
        warm_stop.set()
        await warm_churn
        await close_all(warm.conns)
        # Past the grace period and the Redis clients' idle close: the warm-up's users have
        # gone offline, their grace keys expired and the pools let their idle connections
        # go, so a key or a connection left behind by the soak shows against this baseline.
        await asyncio.sleep(
            float(settings.PRESENCE_GRACE_SECONDS) + _IDLE_CLOSE + self.plan.soak_margin
        )
        baseline = self.redis_state()  # server up and warm, no sockets open
        churned.update(opened=0, refused=0)
        opened = await open_many(self.target(server), steady)
        await asyncio.sleep(2.0)
        with_steady = self.redis_state()
        samples: list[dict[str, Any]] = []
        stop = asyncio.Event()
        t_start = time.perf_counter()

        async def sampler() -> None:
            cpu_prev, t_prev = server.cpu_seconds(), time.perf_counter()
            while not stop.is_set():
                await asyncio.sleep(self.plan.soak_sample)
                cpu, now = server.cpu_seconds(), time.perf_counter()
                sample = {
                    "t": round(now - t_start, 1),
                    "rss_mb": round(server.rss() / 2**20, 1),
                    "cpu_percent": round(100 * (cpu - cpu_prev) / (now - t_prev), 1),
                    "db_connections": await asyncio.to_thread(self.db_connections),
                    **(await asyncio.to_thread(self.redis_state)),
                }
                cpu_prev, t_prev = cpu, now
                samples.append(sample)

        sampling = asyncio.ensure_future(sampler())
        churning = asyncio.ensure_future(churn(stop, 10_000))
        tally = await drive(
            opened.conns,
            writers=opened.conns,
            rate=rate,
            duration=duration,
            warmup=0.0,
            token=uuid.uuid4().hex[:10],
        )
        stop.set()
        await churning
        await sampling
        await asyncio.sleep(5.0)  # rate-limit keys live window + 1 s
        end = self.redis_state()
        await close_all(opened.conns)
        # Wait (up to two minutes) for the server to process the disconnects and let go:
        # the last users' grace period, then the pools' idle close.
        closed, settle = self.redis_state(), 0
        while settle < 120 and any(closed[k] > baseline[k] for k in closed):
            await asyncio.sleep(1.0)
            settle += 1
            closed = self.redis_state()
        warm = [s for s in samples if s["t"] >= 0.2 * duration] or samples
        rss_warm, rss_end = warm[0]["rss_mb"], samples[-1]["rss_mb"]
        result = tally.summary()
        result.update(
            duration=duration,
            rate=rate,
            churn_per_s=churn_per_s,
            churned=churned,
            rss_after_warmup_mb=rss_warm,
            rss_end_mb=rss_end,
            rss_growth_percent=round(100 * (rss_end - rss_warm) / rss_warm, 2),
            redis_baseline=baseline,
            redis_with_steady=with_steady,
            redis_end=end,
            redis_after_close=closed,
            redis_settle_seconds=settle,
            redis_clients_max=max(s["clients_on_db"] for s in samples),
            db_connections_max=max(s["db_connections"] for s in samples),
            samples=samples,
        )
        return result, tally


def cpu_per_message(cpu_seconds: float, delivered: int) -> float | None:
    """Server CPU (ms) per delivered message: B11's measure."""
    return round(1000 * cpu_seconds / delivered, 4) if delivered else None


def passes_b3(step: dict[str, Any]) -> bool:
    latency = step.get("latency_ms", {})
    return (
        step["lost"] == 0 and step["duplicated"] == 0 and bool(latency) and latency["p99"] <= 50.0
    )


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run whose p99 latency (or connect time) is the median of the repetitions."""

    def key(run: dict[str, Any]) -> float:
        if "latency_ms" in run:
            return run["latency_ms"].get("p99", float("inf"))
        return run.get("seconds", 0.0)

    ordered = sorted(runs, key=key)
    chosen = ordered[len(ordered) // 2]
    if "latency_ms" in chosen:
        chosen = dict(chosen)
        chosen["p99_over_runs"] = [r["latency_ms"].get("p99") for r in runs]
    return chosen


def brief(result: dict[str, Any]) -> str:
    lat = result.get("latency_ms", {})
    return (
        f"sent {result.get('sent')} lost {result.get('lost')} dup {result.get('duplicated')} "
        f"p50 {lat.get('p50')} p99 {lat.get('p99')} ms, rate {result.get('delivered_rate')}, "
        f"cpu {result.get('server_cpu_percent')}% rss {result.get('server_rss_mb')} MB "
        f"errors {result.get('errors')}" + (f" db {result['db']}" if "db" in result else "")
    )
