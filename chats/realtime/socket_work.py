"""The work behind the socket consumer: functions that run in a worker thread, and some on
the event loop (`hello_async`, `send_batch`); they call services (writes) and selectors
(reads), returning ready-to-send frames. Who is on the socket: socket_auth.py."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from chats import limits, message_changes, presence, rules, selectors, services
from chats.models import Chat
from chats.realtime import pg_async, protocol, send_path, worker_pool
from chats.validation import Refused

TOO_MANY_SOCKETS = (
    "Too many open connections for this account; close another tab or window and reload."
)


def hello(user: User) -> dict[str, Any]:
    """The first frame; `user` was read from the database by `authenticate` just before."""
    summaries = selectors.chat_summaries(user_id=user.pk)
    peers = [s.peer for s in summaries]
    blocked = rules.blocked_peers(user_id=user.pk, peer_ids=[p.pk for p in peers])
    statuses = presence.statuses(viewer=user, subjects=peers, blocked_ids=blocked)
    return _hello_of(user, summaries, statuses)


async def hello_async(user: User) -> dict[str, Any]:
    """`hello` from the event loop: on PostgreSQL its two statements run on an event-loop
    connection and presence on the loop's Redis client, with no worker hop (in a connect
    storm the event loop waited on the GIL while workers built hellos); SQLite hops to a
    worker."""
    if not pg_async.enabled():
        return await worker_pool.db(hello)(user)
    async with pg_async.connection() as conn, conn.cursor() as cursor:
        summaries = await selectors.chat_summaries_async(cursor, user_id=user.pk)
        peer_ids = [s.peer.pk for s in summaries]
        blocked = await selectors.blocked_peers_async(cursor, user_id=user.pk, peer_ids=peer_ids)
    peers = [s.peer for s in summaries]
    statuses = await presence.statuses_async(viewer=user, subjects=peers, blocked_ids=blocked)
    return _hello_of(user, summaries, statuses)


def _hello_of(
    user: User,
    summaries: list[selectors.ChatSummary],
    statuses: dict[int, tuple[str, Any]],
) -> dict[str, Any]:
    peers = [s.peer for s in summaries]
    receipts = {p.pk: selectors.read_receipts_shared(viewer=user, subject=p) for p in peers}
    return protocol.hello(user.username, summaries, statuses, receipts)


async def send_batch(user: User, frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store queued send frames (validated by protocol.parse); an ack or an error frame for
    each. The rate limit counts them first: the sends past it are refused, the first ones
    stored (chats/realtime/send_path.py, on the event loop)."""
    allowed = max(0, await limits.send_allowance_async(user_id=user.pk, count=len(frames)))
    sends = [
        services.Send(i, f["chat"], f["client_id"], f["body"], f.get("reply_to"))
        for i, f in enumerate(frames)
    ]
    results: dict[int, services.Sent | Refused] = {
        send.index: Refused("rate_limited", limits.RATE_LIMITED) for send in sends[allowed:]
    }
    if sends[:allowed]:
        results.update(await send_path.store(user, sends[:allowed]))
    replies = []
    for index, frame in enumerate(frames):
        result = results[index]
        if isinstance(result, Refused):
            replies.append(
                protocol.error(result.code, result.detail, frame["client_id"], frame["chat"])
            )
        else:
            replies.append(protocol.ack(selectors.message_payload(result[0])))
    return replies


def sync(
    user: User, chat_id: int, *, after: int | None = None, since: int | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The reply to a `sync`: new messages by seq (`after`), or every change by version
    (`since`), then `synced`."""
    try:
        # The chat row first: whatever committed up to its version is in the read below.
        chat = selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such chat.") from None
    version = None
    if since is not None:
        messages, more = selectors.message_changes(chat_id=chat.pk, since=since)
        version = max([chat.version, *(m.version for m in messages)])
    else:
        messages, more = selectors.messages_after(chat_id=chat.pk, after=after or 0)
    payloads = selectors.message_payloads(messages)
    # Messages committed after the chat row was read may be in the reply: report the later.
    last_seq = max([chat.last_seq, *(m.seq for m in messages)])
    return payloads, protocol.synced(chat.pk, last_seq, more, version)


def between(chat_id: int, after: int, before: int) -> list[dict[str, Any]]:
    """The changes with versions strictly between two (a gap in live delivery), in version
    order, if the gap is small."""
    gap = before - after - 1
    if gap > selectors.SYNC_LIMIT:
        return []  # the client's gap detection will sync
    messages, _more = selectors.message_changes(
        chat_id=chat_id, since=after, before=before, limit=gap
    )
    return selectors.message_payloads(messages)


def edit(user: User, frame: dict[str, Any]) -> None:
    message_changes.message_edit(
        user=user, chat_id=frame["chat"], seq=frame["seq"], body=frame["body"]
    )


def delete(user: User, frame: dict[str, Any]) -> None:
    message_changes.message_delete(user=user, chat_id=frame["chat"], seq=frame["seq"])


def react(user: User, frame: dict[str, Any]) -> None:
    message_changes.message_react(
        user=user, chat_id=frame["chat"], seq=frame["seq"], emoji=frame["emoji"], on=frame["on"]
    )


def read(user: User, chat_id: int, seq: int) -> None:
    services.chat_mark_read(user=user, chat_id=chat_id, seq=seq)


def typing(user: User, chat_id: int) -> None:
    services.chat_typing(user=user, chat_id=chat_id)
