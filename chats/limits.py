"""Per-user rate limits shared by the socket, the HTML pages and the API: each budget is
counted by one helper (`check_budget[_async]`), at the edge, before anything is done."""

from __future__ import annotations

from django.conf import settings

from chats.validation import Refused
from chatsite import ratelimit

RATE_LIMITED = "You are sending too fast; wait a moment and try again."
# The budgets of everything a client can ask for: (setting, what the refusal says). Edits,
# deletions and reactions count as sends (issue 16: rate limits apply to them as to sends).
BUDGETS = {
    "send": ("SEND_RATE", RATE_LIMITED),
    "sync": ("SYNC_RATE", "Too many sync requests; wait and sync again."),
    "read": ("READ_RATE", "Too many read marks; wait a moment."),
    "typing": ("TYPING_RATE", "Too many typing notices; wait a moment."),
    "history": ("HISTORY_RATE", "Too many history requests; wait and try again."),
    "search": ("SEARCH_RATE", "You are searching too fast. Wait a minute and try again."),
    "discard": ("DISCARD_RATE", "Too many discards; wait a moment."),
}


def user_keys(user_id: int) -> list[str]:
    """The rate-limit keys counting this user's actions (with those under them, such as
    typing per chat): what `ratelimit.forget` drops when the account is deleted."""
    return [f"{kind}:{user_id}" for kind in (*BUDGETS, "report")]


def send_refusal(taken: ratelimit.Taken) -> Refused:
    """The sends `taken` did not let through: `rate_limited`, with the seconds until the
    limit admits one more."""
    return Refused("rate_limited", BUDGETS["send"][1], max(1, taken.retry_after))


def send_allowance(*, user_id: int, count: int) -> ratelimit.Taken:
    """Count `count` sends: how many of them (the first ones) the limit lets through, and
    when it admits one more if it refused some."""
    limit, window = settings.SEND_RATE
    return ratelimit.take(f"send:{user_id}", count, limit=limit, window=window)


async def send_allowance_async(*, user_id: int, count: int) -> ratelimit.Taken:
    """`send_allowance` on the event loop."""
    limit, window = settings.SEND_RATE
    return await ratelimit.take_async(f"send:{user_id}", count, limit=limit, window=window)


def check_budget(kind: str, *, user_id: int) -> None:
    """Count one `kind` request (a key of BUDGETS) of the user; over the budget, refuse it
    with `rate_limited` and the seconds until the budget admits one more."""
    limit, window = getattr(settings, BUDGETS[kind][0])
    _refuse_unless(kind, ratelimit.take(f"{kind}:{user_id}", 1, limit=limit, window=window))


async def check_budget_async(kind: str, *, user_id: int) -> None:
    """`check_budget` on the event loop (a socket frame over budget costs no worker hop)."""
    limit, window = getattr(settings, BUDGETS[kind][0])
    taken = await ratelimit.take_async(f"{kind}:{user_id}", 1, limit=limit, window=window)
    _refuse_unless(kind, taken)


def _refuse_unless(kind: str, taken: ratelimit.Taken) -> None:
    if taken.allowed < 1:
        raise Refused("rate_limited", BUDGETS[kind][1], taken.retry_after)


def typing_allowed(*, user_id: int, chat_id: int) -> bool:
    """Typing hints beyond two per two seconds per chat are dropped (clients send one per 3 s)."""
    return ratelimit.hit(f"typing:{user_id}:{chat_id}", limit=2, window=2)
