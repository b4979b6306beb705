"""Validation shared by every edge (socket, HTTP form, JSON API): one set of rules."""

from __future__ import annotations

import unicodedata
from typing import Any

import emoji

MAX_BODY = 4000
MAX_CLIENT_ID = 64


class Refused(Exception):
    """A request the server will not carry out; `code` is the protocol's error code."""

    def __init__(self, code: str, detail: str, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after  # seconds, on `rate_limited`


def clean_body(body: Any) -> str:
    if not isinstance(body, str):
        raise Refused("invalid", "body must be a string.")
    body = body.strip()
    if not visible(body):
        raise Refused("empty", "The message is empty.")
    if len(body) > MAX_BODY:
        raise Refused("too_long", f"Messages are at most {MAX_BODY} characters.")
    if not _storable(body):
        raise Refused("invalid", "body must be valid Unicode text without NUL characters.")
    return body


def clean_client_id(client_id: Any) -> str:
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= MAX_CLIENT_ID:
        raise Refused("invalid", f"client_id must be a string of 1 to {MAX_CLIENT_ID} characters.")
    if not _storable(client_id):
        raise Refused("invalid", "client_id must be valid Unicode text without NUL characters.")
    return client_id


def clean_emoji(value: Any) -> str:
    """Exactly one emoji (with its skin tone or joined sequence), as the emoji library knows
    them: Unicode adds emoji every year, and a regex would drift."""
    if not isinstance(value, str) or not 0 < len(value) <= 32 or not emoji.is_emoji(value):
        raise Refused("invalid", "A reaction is a single emoji.")
    return value


def is_id(value: Any) -> bool:
    """Whether `value` can be a database id: a positive integer in range (JSON numbers
    only; booleans are not ids)."""
    return not isinstance(value, bool) and isinstance(value, int) and 1 <= value < 2**63


def clean_id(value: Any, field: str) -> int:
    if not is_id(value):
        raise Refused("invalid", f"{field} must be a positive integer.")
    return int(value)


def clean_seq(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise Refused("invalid", f"{field} must be a non-negative integer.")
    return value


def parse_seq(value: str | None) -> int | None:
    """A seq from a query or form string: ASCII digits within range, else None."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    seq = int(value)
    return seq if seq < 2**31 else None


# Separators (Z*), controls (Cc), format characters (Cf: zero-width spaces and joiners, bidi
# controls, the BOM, ...), unassigned code points, and the letters and symbols Unicode
# classes as visible but fonts draw as blank (Hangul fillers, the braille blank).
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cn"})
_BLANK_GLYPHS = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0"
    + "".join(map(chr, range(0xFE00, 0xFE10)))  # variation selectors
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)


def visible(text: str) -> bool:
    """True when `text` has a character that shows: not only spaces, zero-width or format
    characters."""
    return any(
        ch not in _BLANK_GLYPHS and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES
        for ch in text
    )


def _storable(text: str) -> bool:
    """Databases refuse NUL and lone surrogates (which JSON can smuggle in as \\ud800)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
