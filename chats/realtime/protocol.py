"""The WebSocket protocol: parsing and validating client frames, building server frames.

Documented in docs/protocol.md. Pure functions: no database, no channel layer.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import Any

import orjson

from chats.selectors import ChatSummary, iso_utc, unread_total
from chats.validation import (
    Refused,
    clean_body,
    clean_client_id,
    clean_emoji,
    clean_id,
    clean_seq,
    is_id,
)

MAX_FRAME_CHARS = 32 * 1024


def encode(frame: dict[str, Any]) -> str:
    """A server frame as the text of its WebSocket message: compact JSON, UTF-8 as it is.

    orjson, because encoding was a twentieth of the server's CPU under load (issue 22,
    bench/notes.md); the standard library's encoder for what orjson refuses (a lone
    surrogate that a client's JSON escape put in a client_id it gets back), so every frame
    still goes out.
    """
    try:
        return orjson.dumps(frame).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(frame, separators=(",", ":"))


CLIENT_TYPES = frozenset({"send", "sync", "read", "typing", "edit", "delete", "react", "discard"})


def parse(text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
    """Decode and validate one client frame; raises Refused with the protocol's code."""
    if text_data is None:
        raise Refused("bad_json", "Frames must be JSON text, not binary.")
    if len(text_data) > MAX_FRAME_CHARS:
        raise Refused("too_long", f"Frames are at most {MAX_FRAME_CHARS} characters.")
    try:
        frame = json.loads(text_data)
    except (ValueError, RecursionError):
        raise Refused("bad_json", "The frame is not valid JSON.") from None
    if not isinstance(frame, dict):
        raise Refused("invalid", "A frame must be a JSON object.")
    kind = frame.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        raise Refused("unknown_type", f"Unknown frame type {str(kind)[:40]!r}.")
    clean: dict[str, Any] = {"type": kind}
    if kind == "send":
        # client_id first, so a refused body can still be matched to its pending message.
        clean["client_id"] = clean_client_id(frame.get("client_id"))
        clean["chat"] = clean_id(frame.get("chat"), "chat")
        clean["body"] = clean_body(frame.get("body"))
        if frame.get("reply_to") is not None:
            clean["reply_to"] = clean_seq(frame["reply_to"], "reply_to")
    elif kind == "discard":
        clean["client_id"] = clean_client_id(frame.get("client_id"))
        clean["chat"] = clean_id(frame.get("chat"), "chat")
    elif kind in ("edit", "delete", "react"):
        clean["chat"] = clean_id(frame.get("chat"), "chat")
        clean["seq"] = clean_seq(frame.get("seq"), "seq")
        if kind == "edit":
            clean["body"] = clean_body(frame.get("body"))
        elif kind == "react":
            clean["emoji"] = clean_emoji(frame.get("emoji"))
            if not isinstance(frame.get("on"), bool):
                raise Refused("invalid", "on must be true or false.")
            clean["on"] = frame["on"]
    elif kind == "sync":
        clean["chat"] = clean_id(frame.get("chat"), "chat")
        if "since" in frame:
            if "after" in frame:
                raise Refused("invalid", "Give either after or since, not both.")
            clean["since"] = clean_seq(frame["since"], "since")
        else:
            clean["after"] = clean_seq(frame.get("after", 0), "after")
    elif kind == "read":
        clean["chat"] = clean_id(frame.get("chat"), "chat")
        clean["seq"] = clean_seq(frame.get("seq"), "seq")
    else:
        clean["chat"] = clean_id(frame.get("chat"), "chat")
    return clean


def refusal(
    code: str, detail: str, text_data: str | None, retry_after: int | None = None
) -> dict[str, Any]:
    """The error frame for a refused frame, naming (best effort) its client_id, chat and,
    for a change to a message, its seq."""
    frame: Any = {}
    if text_data and len(text_data) <= MAX_FRAME_CHARS:
        with contextlib.suppress(ValueError, RecursionError):
            frame = json.loads(text_data)
    if not isinstance(frame, dict):
        frame = {}
    client_id = frame.get("client_id")
    if not (isinstance(client_id, str) and 0 < len(client_id) <= 64):
        client_id = None
    chat = frame.get("chat")
    seq = frame.get("seq") if frame.get("type") in ("edit", "delete", "react") else None
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**31:
        seq = None
    chat = chat if is_id(chat) else None
    return error(code, detail, client_id, chat, retry_after=retry_after, seq=seq)


def error(
    code: str,
    detail: str,
    client_id: str | None = None,
    chat: int | None = None,
    retry_after: int | None = None,
    seq: int | None = None,
) -> dict[str, Any]:
    """An error frame; it names the refused frame's client_id, chat and (for a change to a
    message) seq when it had them, and how many seconds to wait when it is `rate_limited`."""
    frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
    if client_id is not None:
        frame["client_id"] = client_id
    if chat is not None:
        frame["chat"] = chat
    if seq is not None:
        frame["seq"] = seq
    if retry_after is not None:
        frame["retry_after"] = retry_after
    return frame


def chat_entry(
    summary: ChatSummary, presence: tuple[str, datetime | None], receipts: bool
) -> dict[str, Any]:
    status, last_seen = presence
    return {
        "id": summary.id,
        "peer": summary.peer.display_name,
        "last_seq": summary.last_seq,
        "version": summary.version,
        "read_seq": summary.read_seq,
        "unread": summary.unread,
        "peer_status": status,
        "peer_last_seen": iso_utc(last_seen) if last_seen else None,
        "peer_read_seq": summary.peer_read_seq if receipts else None,
        "peer_delivered_seq": summary.peer_delivered_seq,
    }


def hello(
    username: str,
    summaries: list[ChatSummary],
    presence: dict[int, tuple[str, datetime | None]],
    receipts: dict[int, bool],
) -> dict[str, Any]:
    """The first frame on a socket: the user's chats with their pointers and each peer's
    presence (keyed by peer id in `presence` and `receipts`)."""
    return {
        "type": "hello",
        "user": username,
        "chats": [chat_entry(s, presence[s.peer.pk], receipts[s.peer.pk]) for s in summaries],
        "unread_total": unread_total(summaries),
    }


def presence(user: str, status: str, last_seen: str | None) -> dict[str, Any]:
    return {"type": "presence", "user": user, "status": status, "last_seen": last_seen}


def read(chat_id: int, user: str, seq: int) -> dict[str, Any]:
    return {"type": "read", "chat": chat_id, "user": user, "seq": seq}


def delivered(chat_id: int, user: str, seq: int) -> dict[str, Any]:
    return {"type": "delivered", "chat": chat_id, "user": user, "seq": seq}


def muted(chat_id: int, muted: bool) -> dict[str, Any]:
    return {"type": "muted", "chat": chat_id, "muted": muted}


def typing(chat_id: int, user: str) -> dict[str, Any]:
    return {"type": "typing", "chat": chat_id, "user": user}


def message(payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "message": payload}


def ack(payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ack", "client_id": payload["client_id"], "message": payload}


def renamed(old: str, new: str) -> dict[str, Any]:
    return {"type": "renamed", "old": old, "new": new}


def unread(chat_id: int, count: int, total: int) -> dict[str, Any]:
    return {"type": "unread", "chat": chat_id, "unread": count, "unread_total": total}


def synced(chat_id: int, last_seq: int, more: bool, version: int | None = None) -> dict[str, Any]:
    """Ends a sync; a sync `since` a version also says the chat's current version."""
    frame: dict[str, Any] = {"type": "synced", "chat": chat_id}
    if version is not None:
        frame["version"] = version
    return {**frame, "last_seq": last_seq, "more": more}
