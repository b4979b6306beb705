"""Where the benchmarks run: databases, Redis, ports and CPU pinning, from the environment."""

from __future__ import annotations

import functools
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
RESULTS_DIR = ROOT / "bench" / "results"
# A fixed secret for the benchmark server only (DEBUG is off, so one must be set).
BENCH_SECRET_KEY = "bench-only-secret-" + "x" * 40
# And a fixed Web Push key (DEBUG off needs one; the benchmarks subscribe no browser).
BENCH_VAPID_PRIVATE_KEY = "CnPEyOMxKPX2d6h3QjY2XNzxE2dV1zbr3aX8ijeF0m0"


@dataclass(frozen=True)
class Config:
    pg_url: str = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
    db_prefix: str = os.environ.get("BENCH_DB_PREFIX", "bench_h5")
    redis_url: str = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
    prefix: str = os.environ.get("BENCH_PREFIX", "h5")
    port_low: int = int(os.environ.get("BENCH_PORTS", "8501-8549").split("-")[0])
    port_high: int = int(os.environ.get("BENCH_PORTS", "8501-8549").split("-")[1])
    tmp: Path = field(
        default_factory=lambda: Path(os.environ.get("BENCH_TMP", "/tmp/bench_h5"))  # noqa: S108
    )

    def db_url(self, suffix: str) -> str:
        return f"{self.pg_url}/{self.db_prefix}_{suffix}"

    def db_name(self, suffix: str) -> str:
        return f"{self.db_prefix}_{suffix}"

    def port(self, offset: int) -> int:
        port = self.port_low + offset
        if port > self.port_high:
            raise ValueError(f"port offset {offset} is outside {self.port_low}-{self.port_high}")
        return port


@functools.cache
def cpu_split() -> tuple[list[int] | None, list[int] | None]:
    """(server cores, client cores): separate halves when taskset and 2+ cores exist.

    Worked out once, from the cores this process had before `pin_self_to_client_cores`
    narrowed them: asked again after, it would see only the client's half and start the
    servers unpinned on the client's core (as every live row before 2026-11-28 did)."""
    cores = sorted(os.sched_getaffinity(0))
    if os.environ.get("BENCH_PIN", "1") == "0" or len(cores) < 2 or shutil.which("taskset") is None:
        return None, None
    half = len(cores) // 2
    return cores[:half], cores[half:]


def django_env(config: Config, db_url: str, **extra: str) -> dict[str, str]:
    """Production-like settings for a server or a Django-using bench subprocess."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        DEBUG="0",
        SECRET_KEY=BENCH_SECRET_KEY,
        VAPID_PRIVATE_KEY=BENCH_VAPID_PRIVATE_KEY,
        VAPID_SUBJECT="mailto:bench@localhost",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        DATABASE_URL=db_url,
        REDIS_URL=config.redis_url,
        CHANNEL_PREFIX=config.prefix,
        CACHE_PREFIX=config.prefix,
        # The load client sends far above one person's typing speed from each account; the
        # send limit is a per-user abuse guard, not a capacity limit, so it is lifted here.
        SEND_RATE_BURST="1000000000",
        MAX_SOCKETS_PER_USER="1000",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env
