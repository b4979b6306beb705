"""Request and response bodies of the JSON API."""

from __future__ import annotations

from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import ConfigDict, StringConstraints

# Strings that a database can store: PostgreSQL text cannot hold NUL characters.
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]


class In(Schema):
    """A request body: JSON types are taken as they are (no 0.0 for false, no "5" for 5)."""

    model_config = ConfigDict(strict=True)


class ErrorOut(Schema):
    detail: str
    code: str
    errors: dict[str, list[str]] | None = Field(
        None, description="Field name -> messages (400 responses only)."
    )


class UserOut(Schema):
    username: str
    status: Literal["online", "offline", "hidden"]
    last_seen: str | None = Field(description="ISO 8601 UTC; null when hidden or never seen.")


class UsersOut(Schema):
    users: list[UserOut]


class LastMessageOut(Schema):
    seq: int
    sender: str
    body: str
    sent_at: str | None
    removed: bool


class ChatOut(Schema):
    id: int
    peer: str
    last_seq: int
    read_seq: int
    unread: int
    muted: bool
    last_message: LastMessageOut | None


class ChatsOut(Schema):
    chats: list[ChatOut]


class ChatStartIn(In):
    username: Text = Field(max_length=150)


class QuoteOut(Schema):
    seq: int
    sender: str
    body: str = Field(description="The first 200 characters; empty once deleted.")
    deleted: bool


class MessageOut(Schema):
    id: int
    chat: int
    seq: int
    sender: str
    body: str = Field(description="Empty when deleted or removed.")
    sent_at: str
    client_id: str
    removed: bool
    version: int = Field(description="The chat's version of this message's latest change.")
    edited_at: str | None = Field(description="ISO 8601 UTC of the last edit; null if none.")
    deleted: bool
    reply_to: QuoteOut | None = Field(description="The message this one answers.")
    reactions: dict[str, list[str]] = Field(
        description="Emoji -> usernames, both in the order they reacted."
    )


class MessagesOut(Schema):
    messages: list[MessageOut]
    has_more: bool = Field(description="Older messages precede (newer ones, with `after`).")
    has_newer: bool = Field(False, description="With `around`: newer messages follow.")


class MessageHitOut(Schema):
    chat: int
    seq: int
    sender: str
    peer: str = Field(description="The other member of the chat.")
    sent_at: str
    snippet: str = Field(description="Escaped text around the match, matches in <mark>.")


class MessageSearchOut(Schema):
    results: list[MessageHitOut]
    next: str | None = Field(description="`before` for the next page; null on the last.")


class MessageIn(In):
    client_id: Text = Field(description="1 to 64 characters (a UUID); resending it is a no-op.")
    body: Text = Field(description="1 to 4,000 characters after stripping whitespace.")
    reply_to: int | None = Field(None, ge=0, lt=2**31, description="The seq answered.")


class MessageEditIn(In):
    body: Text = Field(description="1 to 4,000 characters after stripping whitespace.")


class ReadIn(In):
    seq: int = Field(ge=0, lt=2**31)


class ReadOut(Schema):
    chat: int
    read_seq: int


class MeOut(Schema):
    id: int
    username: str
    hide_presence: bool
    send_read_receipts: bool
    notification_previews: bool


class MePatchIn(In):
    username: Text | None = Field(None, max_length=150)
    hide_presence: bool | None = None
    send_read_receipts: bool | None = None
    notification_previews: bool | None = None


class PasswordIn(In):
    old_password: Text = Field(max_length=4096)
    new_password: Text = Field(max_length=4096)


class LoginIn(In):
    username: Text = Field(max_length=150)
    password: Text = Field(max_length=4096)
    otp: Text | None = Field(
        None,
        max_length=50,
        description="With two-factor sign-in on: the authenticator's code, or a recovery code.",
    )


class LoginOut(MeOut):
    csrf_token: str = Field(description="The new CSRF token (logging in rotates it).")


class CsrfOut(Schema):
    csrf_token: str


def error_responses(*statuses: int) -> dict[int, type[ErrorOut]]:
    """OpenAPI response entries for the error statuses an operation can answer with."""
    return dict.fromkeys(statuses, ErrorOut)


class RecoverIn(In):
    username: Text = Field(max_length=150)
    code: Text = Field(max_length=50)
    new_password: Text = Field(max_length=4096)


class RecoverOut(Schema):
    codes_left: int = Field(description="Unused recovery codes the account still has.")


class PasswordConfirmIn(In):
    password: Text = Field(max_length=4096)


class RecoveryCodesOut(Schema):
    codes: list[str] = Field(description="The new codes, shown once; the old set stops working.")


class TwoFactorSetupOut(Schema):
    secret: str = Field(description="The base32 key, for typing into an authenticator app.")
    otpauth_url: str = Field(description="otpauth://totp/... (what the QR code holds).")


class DeleteMeIn(In):
    password: Text = Field(max_length=4096)
    username: Text = Field(max_length=150, description="Your username, typed to confirm.")
    code: Text | None = Field(
        None,
        max_length=50,
        description="With two-factor sign-in on: an authenticator or recovery code.",
    )
    erase_messages: bool = Field(
        False, description="Also erase the text of every message you wrote (delete for everyone)."
    )


class CodeIn(In):
    code: Text = Field(max_length=50)


class TwoFactorOffIn(In):
    password: Text = Field(max_length=4096)
    code: Text = Field(max_length=50)


class SessionOut(Schema):
    id: int
    device: str = Field(description="Browser and system, from the User-Agent.")
    ip: str | None = Field(description="The address it last used.")
    created_at: str = Field(description="When it signed in (ISO 8601 UTC).")
    last_active: str = Field(description="When it was last used (ISO 8601 UTC, to a minute).")
    current: bool = Field(description="Whether it is the session making this request.")


class ExportProfileOut(Schema):
    id: int
    username: str
    date_joined: str
    last_seen: str | None
    hide_presence: bool
    send_read_receipts: bool
    two_factor: bool


class ExportMessageOut(Schema):
    seq: int = Field(description="Gapless per chat, from 1.")
    sender: str = Field(description="The sender's username (you or the peer).")
    body: str = Field(
        description="Empty when a moderator removed the message or its author deleted it."
    )
    sent_at: str
    edited_at: str | None = Field(description="The last edit, or null.")
    removed: bool
    deleted: bool = Field(description="Deleted for everyone by its author.")
    reply_to: int | None = Field(description="The seq of the message this one answers, or null.")
    reactions: dict[str, list[str]] = Field(
        description="Emoji -> the usernames that reacted with it, in the order they reacted."
    )


class ExportChatOut(Schema):
    id: int
    peer: str = Field(description="The other person's username.")
    created_at: str
    last_seq: int
    read_seq: int = Field(description="Your read pointer in this chat.")
    messages: list[ExportMessageOut] = Field(description="Every message of both sides, by seq.")


class ExportBlockOut(Schema):
    username: str
    created_at: str


class ExportReportOut(Schema):
    chat: int
    seq: int
    reason: str
    created_at: str
    status: Literal["open", "resolved", "dismissed"]


class ExportOut(Schema):
    format: Literal["chatsite-export"]
    version: Literal[3]
    exported_at: str
    profile: ExportProfileOut
    chats: list[ExportChatOut]
    blocks: list[ExportBlockOut] = Field(description="The people you blocked.")
    reports: list[ExportReportOut] = Field(description="The reports you filed.")
