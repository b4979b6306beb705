"""Whether this process has begun shutting down (docs/operations.md, "Graceful drain")."""

from __future__ import annotations

import time

_began: float | None = None


def begin() -> None:
    """From now on /readyz answers `draining` and new sockets are refused."""
    global _began
    if _began is None:
        _began = time.monotonic()


def draining() -> bool:
    return _began is not None


def reset() -> None:
    """Back to serving (tests)."""
    global _began
    _began = None
