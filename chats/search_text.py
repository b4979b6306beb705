"""The text side of message search: folding, the query language, snippets.

Folding is stated once here and used on both sides of a match: PostgreSQL's stored
`tsvector` is built from `translate(body, FOLD_FROM, FOLD_TO)` (the migration takes the two
strings from this module; the `unaccent` extension is not always installed) and the query's
words are folded by `fold` the same way; SQLite's FTS5 tokenizer (`unicode61
remove_diacritics 2`) folds both the index and the query itself. Both engines lower-case.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

MIN_QUERY = 2  # a shorter query finds nothing and costs no statement
MAX_QUERY = 200
MAX_TERMS = 8  # words and phrases together: more narrows nothing a person means


def _fold_pairs() -> tuple[str, str]:
    """Latin letters with diacritics (U+00C0-U+024F) and their lower-case base letter."""
    src, dst = [], []
    for code in range(0xC0, 0x250):
        char = chr(code)
        parts = unicodedata.normalize("NFKD", char)
        base = "".join(c for c in parts if not unicodedata.combining(c)).lower()
        if len(base) == 1 and base.isascii() and base.isalpha() and base != char:
            src.append(char)
            dst.append(base)
    return "".join(src), "".join(dst)


FOLD_FROM, FOLD_TO = _fold_pairs()
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """`text` with accents folded as the index folds them, lower-cased, same length."""
    return "".join(c if len(low := c.lower()) != 1 else low for c in text.translate(_FOLD))


def words(text: str) -> list[str]:
    """The words of `text` (letters and digits), folded."""
    return _WORD.findall(fold(text))


@dataclass(frozen=True)
class Query:
    """A parsed search: prefix words, exact phrases (each a list of words) and filters."""

    prefixes: list[str] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    sender: str | None = None
    peer: str | None = None

    @property
    def has_text(self) -> bool:
        return bool(self.prefixes or self.phrases)

    @property
    def empty(self) -> bool:
        return not (self.has_text or self.sender or self.peer)

    def marked(self) -> tuple[set[str], set[str]]:
        """The words a snippet marks: exact ones (phrases) and prefixes."""
        return {w for p in self.phrases for w in p}, set(self.prefixes)


_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')
_FILTER = re.compile(r"(from|in):(\S+)", re.IGNORECASE)


def parse(raw: str) -> Query:
    """Words (matched by prefix), "quoted phrases" (exact words in order), `from:<username>`,
    `in:<username>`. Anything else is punctuation between words; an unclosed quote runs to
    the end."""
    text = raw.strip()[:MAX_QUERY]
    if len(text) < MIN_QUERY:
        return Query()
    prefixes: list[str] = []
    phrases: list[list[str]] = []
    sender = peer = None
    for quoted, bare in _TOKEN.findall(text):
        if bare and (found := _FILTER.fullmatch(bare)):
            name = found.group(2)
            if found.group(1).lower() == "from":
                sender = name
            else:
                peer = name
        elif bare:
            prefixes.extend(w for w in words(bare) if w not in prefixes)
        elif (phrase := words(quoted)) and phrase not in phrases:
            phrases.append(phrase)
    return Query(prefixes[:MAX_TERMS], phrases[: max(0, MAX_TERMS - len(prefixes))], sender, peer)


def tsquery(query: Query) -> str:
    """The PostgreSQL `to_tsquery('simple', ...)` text: folded words only (letters and digits,
    so nothing needs quoting), prefixes with `:*`, phrases with `<->`."""
    parts = [f"{w}:*" for w in query.prefixes]
    parts += [" <-> ".join(p) for p in query.phrases]
    return " & ".join(parts)


def fts5_query(query: Query) -> str:
    """The SQLite FTS5 MATCH text: each word a quoted string (letters and digits only),
    prefixes with `*`, phrases as one quoted string."""
    parts = [f'"{w}"*' for w in query.prefixes]
    parts += ['"' + " ".join(p) + '"' for p in query.phrases]
    return " AND ".join(parts)


SNIPPET_BEFORE = 40
SNIPPET_CHARS = 160


def snippet(body: str, query: Query) -> SafeString:
    """Up to SNIPPET_CHARS of `body` around its first match, escaped, each matched word in
    `<mark>`: the user's text is always text, the marks are the only markup."""
    exact, prefixes = query.marked()
    folded = fold(body)
    spans = [
        (m.start(), m.end())
        for m in _WORD.finditer(folded)
        if m.group() in exact or any(m.group().startswith(p) for p in prefixes)
    ]
    start = 0
    if spans and spans[0][0] > SNIPPET_BEFORE:
        start = spans[0][0] - SNIPPET_BEFORE
        while start < spans[0][0] and not body[start - 1].isspace():
            start += 1
    end = min(len(body), start + SNIPPET_CHARS)
    out = ["…" if start else ""]
    at = start
    for s, e in spans:
        if s < start or e > end:
            continue
        out += [escape(body[at:s]), "<mark>", escape(body[s:e]), "</mark>"]
        at = e
    out += [escape(body[at:end]), "…" if end < len(body) else ""]
    return mark_safe("".join(out))  # noqa: S308 (every piece of user text went through escape)
