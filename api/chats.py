from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field as F
from ninja import Query, Router, Schema, Status

from accounts.models import User
from api.errors import ApiError, check_budget, clean_field, from_refused, invalid
from api.schemas import (
    ChatOut,
    ChatsOut,
    ChatStartIn,
    MessageIn,
    MessageOut,
    MessagesOut,
    ReadIn,
    ReadOut,
    error_responses,
)
from api.security import session_auth
from chats import limits, selectors, services
from chats.models import Chat
from chats.validation import Refused, clean_body, clean_client_id
from push import selectors as push_selectors

router = Router(tags=["chats"], auth=session_auth)

HISTORY_MAX = 100


class HistoryQuery(Schema):
    before: int | None = F(None, ge=0, lt=2**31, description="Messages with seq < before.")
    after: int | None = F(None, ge=0, lt=2**31, description="Messages with seq > after.")
    around: int | None = F(
        None, ge=0, lt=2**31, description="Message `around` and 25 before and after it."
    )
    limit: int = F(selectors.HISTORY_PAGE, ge=1, le=HISTORY_MAX)


def _member_chat(user: User, chat_id: int) -> Chat:
    try:
        return selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise ApiError(404, "not_found", "No such chat.") from None


def _chat_out(summary: selectors.ChatSummary, user: User, muted: bool) -> dict[str, Any]:
    last_message = None
    if summary.last_seq and summary.last_sender_id is not None:
        sender = user if summary.last_sender_id == user.pk else summary.peer
        last_message = {
            "seq": summary.last_seq,
            "sender": sender.display_name,
            "body": "" if summary.last_removed else summary.last_body or "",
            "sent_at": selectors.iso_utc(summary.last_message_at)
            if summary.last_message_at
            else None,
            "removed": summary.last_removed,
        }
    return {
        "id": summary.id,
        "peer": summary.peer.display_name,
        "last_seq": summary.last_seq,
        "read_seq": summary.read_seq,
        "unread": summary.unread,
        "muted": muted,
        "last_message": last_message,
    }


def _summary(chat: Chat, user: User) -> selectors.ChatSummary:
    """The list entry of one chat, from the existing selectors."""
    membership = selectors.membership_get(user_id=user.pk, chat_id=chat.pk)
    last, _more = selectors.messages_before(chat_id=chat.pk, limit=1)
    message = last[0] if last else None
    return selectors.ChatSummary(
        id=chat.pk,
        peer=selectors.peer_of(chat, user.pk),
        last_seq=membership.chat.last_seq,
        version=membership.chat.version,
        read_seq=membership.read_seq,
        last_message_at=message.created_at if message else None,
        last_body=message.body if message else None,
        last_sender_id=message.sender_id if message else None,
        last_removed=message.removed_at is not None if message else False,
    )


@router.get("/chats/", response={200: ChatsOut, **error_responses(401)})
def chat_list(request: HttpRequest) -> dict[str, Any]:
    """The user's chats, most recent activity first."""
    user: User = request.auth  # type: ignore[attr-defined]
    muted = push_selectors.muted_chat_ids(user_id=user.pk)
    summaries = selectors.chat_summaries(user_id=user.pk)
    return {"chats": [_chat_out(s, user, s.id in muted) for s in summaries]}


@router.post(
    "/chats/",
    response={200: ChatOut, 201: ChatOut, **error_responses(400, 401, 403)},
)
def chat_start(request: HttpRequest, payload: ChatStartIn) -> Status[dict[str, Any]]:
    """Open the chat with `username`: 201 when created, 200 when it already existed."""
    user: User = request.auth  # type: ignore[attr-defined]
    try:
        chat, created = services.chat_start(user=user, username=payload.username)
    except Refused as refused:
        # The chat is the resource here; an unknown peer is a bad field, not a 404.
        raise invalid("username", refused.detail, refused.code) from None
    muted = push_selectors.chat_muted(user_id=user.pk, chat_id=chat.pk)
    return Status(201 if created else 200, _chat_out(_summary(chat, user), user, muted))


@router.get(
    "/chats/{int:chat_id}/messages/",
    response={200: MessagesOut, **error_responses(400, 401, 404, 429)},
)
def message_list(request: HttpRequest, chat_id: int, query: Query[HistoryQuery]) -> dict[str, Any]:
    """History oldest first: the page before `before` (default: the latest), after `after`,
    or around `around` (a search result: 25 messages each side)."""
    user: User = request.auth  # type: ignore[attr-defined]
    check_budget("history", user_id=user.pk)
    chat = _member_chat(user, chat_id)
    if sum(v is not None for v in (query.before, query.after, query.around)) > 1:
        raise invalid("after", "Give one of before, after and around.")
    page = selectors.history_page(
        chat_id=chat.pk,
        before=query.before,
        after=query.after,
        around=query.around,
        limit=query.limit,
    )
    payloads = selectors.message_payloads(page.messages)
    if page.around is not None:
        return {"messages": payloads, "has_more": page.has_older, "has_newer": page.has_newer}
    more = page.has_newer if query.after is not None else page.has_older
    return {"messages": payloads, "has_more": more}


@router.post(
    "/chats/{int:chat_id}/messages/",
    response={200: MessageOut, 201: MessageOut, **error_responses(400, 401, 403, 404, 410, 429)},
)
def message_send(request: HttpRequest, chat_id: int, payload: MessageIn) -> Status[dict[str, Any]]:
    """Send a message: 201 when stored, 200 with the stored one for a repeated client_id."""
    user: User = request.auth  # type: ignore[attr-defined]
    chat = _member_chat(user, chat_id)
    try:
        limits.check_budget("send", user_id=user.pk)
    except Refused as refused:
        raise from_refused(refused) from None
    client_id = clean_field("client_id", clean_client_id, payload.client_id)
    body = clean_field("body", clean_body, payload.body)
    try:
        message, created = services.message_send(
            sender=user, chat_id=chat.pk, client_id=client_id, body=body, reply_to=payload.reply_to
        )
    except Refused as refused:
        raise from_refused(
            refused, "reply_to" if payload.reply_to is not None else "body"
        ) from None
    if created:
        return Status(201, selectors.message_payload(message))
    # A resend: the stored message as it is now (its edits, deletion, reactions).
    return Status(200, selectors.message_payloads_of(message_ids=[message.pk])[0])


@router.post(
    "/chats/{int:chat_id}/read/",
    response={200: ReadOut, **error_responses(400, 401, 404)},
)
def chat_read(request: HttpRequest, chat_id: int, payload: ReadIn) -> dict[str, int]:
    """Move your read pointer forward to `seq` (never back); returns where it now is."""
    user: User = request.auth  # type: ignore[attr-defined]
    chat = _member_chat(user, chat_id)
    try:
        read_seq = services.chat_mark_read(user=user, chat_id=chat.pk, seq=payload.seq)
    except Refused as refused:
        raise from_refused(refused, "seq") from None
    return {"chat": chat.pk, "read_seq": read_seq}
