"""A user's data as one JSON document (schema: docs/api.md, "Export"), produced in pieces
so that an account with any amount of history streams in bounded memory: messages are
read a page at a time by (chat, seq), and text leaves in chunks of about CHUNK_BYTES."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts import twofactor
from accounts.models import User
from chats.models import Block, Chat, Membership, Message, Report
from chats.selectors import iso_utc, reactions_of

EXPORT_FORMAT = "chatsite-export"
EXPORT_VERSION = 3  # 2: messages carry edited_at and deleted (issue 16); 3: reactions, reply_to
PAGE = 2_000
CHUNK_BYTES = 64 * 1024


def export_filename(*, user: User) -> str:
    return f"chatsite-{user.username}-{timezone.now():%Y-%m-%d}.json"


def export_chunks(*, user: User) -> Iterator[bytes]:
    """The export of `user`, as UTF-8 pieces of about CHUNK_BYTES."""
    buffer: list[str] = []
    size = 0
    for piece in _document(user):
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()


def _document(user: User) -> Iterator[str]:
    head = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": iso_utc(timezone.now()),
        "profile": _profile(user),
    }
    yield json.dumps(head)[:-1]  # the object stays open for the lists that follow
    yield ', "chats": ['
    for index, chat in enumerate(_chats(user)):
        yield from _chat(user, chat, first=index == 0)
    yield '], "blocks": '
    yield json.dumps(_blocks(user))
    yield ', "reports": '
    yield json.dumps(_reports(user))
    yield "}"


def _profile(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "date_joined": iso_utc(user.date_joined),
        "last_seen": _iso(user.last_seen),
        "hide_presence": user.hide_presence,
        "send_read_receipts": user.send_read_receipts,
        "two_factor": twofactor.twofactor_enabled(user=user),
    }


def _chats(user: User) -> Iterable[dict[str, Any]]:
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("chat__user_low", "chat__user_high")
        .order_by("chat_id")
    )
    for membership in memberships.iterator(chunk_size=PAGE):
        chat: Chat = membership.chat
        peer = chat.user_high if chat.user_low_id == user.pk else chat.user_low
        yield {
            "id": chat.pk,
            "peer": peer.display_name,
            "peer_id": peer.pk,
            "created_at": iso_utc(chat.created_at),
            "last_seq": chat.last_seq,
            "read_seq": membership.read_seq,
        }


def _chat(user: User, chat: dict[str, Any], *, first: bool) -> Iterator[str]:
    names = {user.pk: user.username, chat.pop("peer_id"): chat["peer"]}
    yield ("" if first else ", ") + json.dumps(chat)[:-1] + ', "messages": ['
    after, separator = 0, ""
    while True:
        page = list(
            Message.objects.filter(chat_id=chat["id"], seq__gt=after)
            .order_by("seq")
            .values_list(
                "seq",
                "sender_id",
                "body",
                "created_at",
                "edited_at",
                "removed_at",
                "deleted_at",
                "pk",
                "reply_to__seq",
            )[:PAGE]
        )
        shown = [row[7] for row in page if row[5] is None and row[6] is None]
        reactions = reactions_of(message_ids=shown)  # one query per page
        for row in page:
            seq, sender_id, body, created_at, edited_at, removed_at, deleted_at, pk, reply = row
            message = {
                "seq": seq,
                "sender": names.get(sender_id, ""),
                "body": "" if removed_at is not None or deleted_at is not None else body,
                "sent_at": iso_utc(created_at),
                "edited_at": None if edited_at is None or deleted_at else iso_utc(edited_at),
                "removed": removed_at is not None,
                "deleted": deleted_at is not None,
                "reply_to": reply,
                "reactions": reactions.get(pk, {}),
            }
            yield separator + json.dumps(message, ensure_ascii=False)
            separator = ", "
        if len(page) < PAGE:
            break
        after = page[-1][0]
    yield "]}"


def _blocks(user: User) -> list[dict[str, Any]]:
    rows = (
        Block.objects.filter(blocker=user)
        .order_by("created_at", "pk")
        .values_list("blocked__username", "created_at")
    )
    return [{"username": name, "created_at": iso_utc(at)} for name, at in rows]


def _reports(user: User) -> list[dict[str, Any]]:
    rows = (
        Report.objects.filter(reporter=user)
        .order_by("created_at", "pk")
        .values_list("message__chat_id", "message__seq", "reason", "created_at", "status")
    )
    return [
        {"chat": chat, "seq": seq, "reason": reason, "created_at": iso_utc(at), "status": status}
        for chat, seq, reason, at, status in rows
    ]


def _iso(value: datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


def export_response(user: User) -> StreamingHttpResponse:
    response = StreamingHttpResponse(export_chunks(user=user), content_type="application/json")
    filename = export_filename(user=user)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
