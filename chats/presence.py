"""What a viewer may see of another user's presence: the rule, and the statuses it gives.

Whether a user is online is a fact of the lease store (chatsite/presence_store.py), which
the sockets keep (chats/realtime/presence.py); this module only reads it. The socket's
hello, the user search and the announcements after a block or a privacy change use it.
"""

from __future__ import annotations

from datetime import datetime

from accounts.models import User
from chatsite.presence_store import store

ONLINE = "online"
OFFLINE = "offline"
HIDDEN = "hidden"


def visible(*, viewer: User, subject: User, blocked: bool) -> bool:
    """Whether `viewer` may see `subject`'s presence: hiding is reciprocal, and a block
    in either direction hides it too."""
    return not (viewer.hide_presence or subject.hide_presence or blocked)


def statuses(
    *, viewer: User, subjects: list[User], blocked_ids: set[int]
) -> dict[int, tuple[str, datetime | None]]:
    """What `viewer` may know of each subject: (status, last_seen), one store round trip."""
    shown = _visible(viewer, subjects, blocked_ids)
    online = store().online([s.pk for s in shown]) if shown else set()
    return _statuses_of(subjects, shown, online)


async def statuses_async(
    *, viewer: User, subjects: list[User], blocked_ids: set[int]
) -> dict[int, tuple[str, datetime | None]]:
    """`statuses` from the event loop."""
    shown = _visible(viewer, subjects, blocked_ids)
    online = await store().online_async([s.pk for s in shown]) if shown else set()
    return _statuses_of(subjects, shown, online)


def _visible(viewer: User, subjects: list[User], blocked_ids: set[int]) -> list[User]:
    return [s for s in subjects if visible(viewer=viewer, subject=s, blocked=s.pk in blocked_ids)]


def _statuses_of(
    subjects: list[User], shown: list[User], online: set[int]
) -> dict[int, tuple[str, datetime | None]]:
    known = {s.pk: (ONLINE if s.pk in online else OFFLINE, s.last_seen) for s in shown}
    return {s.pk: known.get(s.pk, (HIDDEN, None)) for s in subjects}
