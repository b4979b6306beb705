"""The work behind the socket consumer: functions that run in a worker thread, and some on
the event loop (`hello_async`, `send_batch`); they call services (writes) and selectors
(reads), returning ready-to-send frames. Who is on the socket: socket_auth.py."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from chats import limits, message_changes, presence, selectors, services
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
    statuses = presence.statuses(viewer=user, subjects=peers, blocked_ids=_blocked(summaries))
    return _hello_of(user, summaries, statuses)


async def hello_async(user: User) -> dict[str, Any]:
    """`hello` from the event loop: on PostgreSQL its one statement runs on an event-loop
    connection and presence on the loop's Redis client, with no worker hop (in a connect
    storm the event loop waited on the GIL while workers built hellos); SQLite hops to a
    worker."""
    if not pg_async.enabled():
        return await worker_pool.db(hello)(user)
    async with pg_async.connection() as conn, conn.cursor() as cursor:
        summaries = await selectors.chat_summaries_async(cursor, user_id=user.pk)
    peers = [s.peer for s in summaries]
    blocked = _blocked(summaries)
    statuses = await presence.statuses_async(viewer=user, subjects=peers, blocked_ids=blocked)
    return _hello_of(user, summaries, statuses)


def _blocked(summaries: list[selectors.ChatSummary]) -> set[int]:
    """The peers with a block between them and the user (the chat list reads it with the
    chats: one statement for hello)."""
    return {s.peer.pk for s in summaries if s.blocked}


def _hello_of(
    user: User,
    summaries: list[selectors.ChatSummary],
    statuses: dict[int, tuple[str, Any]],
) -> dict[str, Any]:
    peers = [s.peer for s in summaries]
    receipts = {p.pk: selectors.read_receipts_shared(viewer=user, subject=p) for p in peers}
    return protocol.hello(user.username, summaries, statuses, receipts)


# The most chats one socket holds sends for after a `rate_limited` (see send_batch): the
# browser keeps one send per chat in flight, so only a client that sprays chats reaches it.
MAX_HELD_CHATS = 100


async def send_batch(
    user: User, frames: list[dict[str, Any]], held: dict[int, str]
) -> list[dict[str, Any]]:
    """Store queued send frames (validated by protocol.parse); an ack or an error frame for
    each. The rate limit counts them first: the sends past it are refused, the first ones
    stored (chats/realtime/send_path.py, on the event loop).

    `held` is the socket's chat -> client_id of the first send refused `rate_limited` there:
    until that client_id comes again (then it is judged as usual) or is discarded, every new
    send of the socket to that chat is refused `rate_limited` too, uncounted, so an accepted
    send never overtakes a refused one, whatever the batches or the limit's windows. A resend
    of a stored message still gets its ack."""
    judged, waiting = _judged_and_waiting(frames, held)
    # Counts the judged ones; with none (all wait) it only asks when the limit admits one.
    taken = await limits.send_allowance_async(user_id=user.pk, count=len(judged))
    allowed = taken.allowed
    limited = limits.send_refusal(taken)
    results: dict[int, services.Sent | Refused] = {i: limited for i in judged[allowed:]}
    sends = [_send_of(i, frames[i]) for i in judged[:allowed]]
    if sends:
        results.update(await send_path.store(user, sends))
    if waiting:
        # Refused like the send they wait for, unless they resend a stored message.
        refused = [(_send_of(i, frames[i]), limited) for i in waiting]
        resent = worker_pool.db(services.messages_refused_unless_resent)
        results.update(await resent(sender=user, refused=refused))
    for i in judged[:allowed]:
        held.pop(frames[i]["chat"], None)
    for i in judged[allowed:]:
        _hold(held, frames[i]["chat"], frames[i]["client_id"])
    return await _replies(frames, results)


def _judged_and_waiting(
    frames: list[dict[str, Any]], held: dict[int, str]
) -> tuple[list[int], list[int]]:
    """The positions of the frames the limit judges, and of those waiting behind a send
    refused before them in their chat."""
    pending = dict(held)
    judged, waiting = [], []
    for i, frame in enumerate(frames):
        refused = pending.get(frame["chat"])
        if refused is not None and refused != frame["client_id"]:
            waiting.append(i)
        else:
            pending.pop(frame["chat"], None)  # the refused send came again
            judged.append(i)
    return judged, waiting


def _hold(held: dict[int, str], chat_id: int, client_id: str) -> None:
    if chat_id in held:
        return  # the first refused send of the chat holds it
    if len(held) >= MAX_HELD_CHATS:
        held.pop(next(iter(held)))  # the oldest hold
    held[chat_id] = client_id


def _send_of(index: int, frame: dict[str, Any]) -> services.Send:
    reply_to = frame.get("reply_to")
    return services.Send(index, frame["chat"], frame["client_id"], frame["body"], reply_to)


async def _replies(
    frames: list[dict[str, Any]], results: dict[int, services.Sent | Refused]
) -> list[dict[str, Any]]:
    """An ack or an error for each frame, in order. A resend's ack carries the stored
    message as it is now (edits, deletion, reactions), read on a worker."""
    resent = [r[0].pk for r in results.values() if not isinstance(r, Refused) and not r[1]]
    current: dict[int, dict[str, Any]] = {}
    if resent:
        payloads = await worker_pool.db(selectors.message_payloads_of)(message_ids=resent)
        current = {p["id"]: p for p in payloads}
    replies = []
    for index, frame in enumerate(frames):
        result = results[index]
        if isinstance(result, Refused):
            replies.append(
                protocol.error(
                    result.code,
                    result.detail,
                    frame["client_id"],
                    frame["chat"],
                    retry_after=result.retry_after,
                )
            )
        else:
            message = result[0]
            payload = current.get(message.pk) or selectors.message_payload(message)
            replies.append(protocol.ack(payload))
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


def chat_check(user: User, chat_id: int) -> None:
    """Refuse `not_found` unless the user is a member of the chat."""
    try:
        selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Refused("not_found", "No such chat.") from None


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
