"""Changes to a sent message: edit, delete for everyone, reactions (docs/api.md). Each
counts against the send rate, checked first, as a send is."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from accounts.models import User
from api.errors import check_budget, clean_field, from_refused
from api.schemas import MessageEditIn, MessageOut, error_responses
from api.security import session_auth
from chats import message_changes, selectors
from chats.message_changes import Change
from chats.validation import Refused, clean_body, clean_emoji

router = Router(tags=["messages"], auth=session_auth)

MESSAGE = "/chats/{int:chat_id}/messages/{int:seq}/"
REACTION = MESSAGE + "reactions/{emoji}/"
ERRORS = error_responses(400, 401, 403, 404, 410, 429)


def _state(change: Change) -> dict[str, Any]:
    message = change.message
    current = selectors.message_get(chat_id=message.chat_id, seq=message.seq)
    (payload,) = selectors.message_payloads([current])
    return payload


@router.patch(MESSAGE, response={200: MessageOut, **ERRORS})
def message_edit(
    request: HttpRequest, chat_id: int, seq: int, payload: MessageEditIn
) -> dict[str, Any]:
    """Edit your message (within MESSAGE_EDIT_WINDOW); returns its new state."""
    user: User = request.auth  # type: ignore[attr-defined]
    check_budget("send", user_id=user.pk)
    body = clean_field("body", clean_body, payload.body)
    try:
        change = message_changes.message_edit(user=user, chat_id=chat_id, seq=seq, body=body)
    except Refused as refused:
        raise from_refused(refused, "body") from None
    return _state(change)


@router.delete(MESSAGE, response={204: None, **ERRORS})
def message_delete(request: HttpRequest, chat_id: int, seq: int) -> Status[None]:
    """Delete your message for everyone: its text is erased, its place stays."""
    user: User = request.auth  # type: ignore[attr-defined]
    check_budget("send", user_id=user.pk)
    try:
        message_changes.message_delete(user=user, chat_id=chat_id, seq=seq)
    except Refused as refused:
        raise from_refused(refused) from None
    return Status(204, None)


@router.put(REACTION, response={200: MessageOut, **ERRORS})
def reaction_add(request: HttpRequest, chat_id: int, seq: int, emoji: str) -> dict[str, Any]:
    """Add your reaction (one emoji, URL-encoded); returns the message's state."""
    return _react(request, chat_id, seq, emoji, on=True)


@router.delete(REACTION, response={200: MessageOut, **ERRORS})
def reaction_remove(request: HttpRequest, chat_id: int, seq: int, emoji: str) -> dict[str, Any]:
    """Take your reaction off; returns the message's state."""
    return _react(request, chat_id, seq, emoji, on=False)


def _react(request: HttpRequest, chat_id: int, seq: int, emoji: str, *, on: bool) -> dict[str, Any]:
    user: User = request.auth  # type: ignore[attr-defined]
    check_budget("send", user_id=user.pk)
    emoji = clean_field("emoji", clean_emoji, emoji)
    try:
        change = message_changes.message_react(
            user=user, chat_id=chat_id, seq=seq, emoji=emoji, on=on
        )
    except Refused as refused:
        raise from_refused(refused, "emoji") from None
    return _state(change)
