"""The text side of message search: folding, word splitting, the query language, snippets.

Both engines must cut a body into the same words and fold them the same way, or a query finds
a message on one database and not on the other. SQLite's FTS5 tokenizer (`unicode61
remove_diacritics 2`) is the reference, since it cannot be changed: words are runs of letters
and digits, lower-cased, with the marks of Latin letters removed (Greek and Cyrillic keep
theirs: `й` is not `и`). `fold` and `words` state that rule for the query and the snippets;
`pg_document` states it in SQL for PostgreSQL's stored `tsvector` (migration 0007), where the
default parser would otherwise keep `alice@example.com`, `example.com/path` or `3.14` as one
word, and drop `<b>` as a tag.
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

# The marks of a decomposed Latin letter (é is e + U+0301), removed as FTS5 removes them. The
# text is both a Python and a PostgreSQL regular expression.
LATIN_MARKS = r"([A-Za-z])[\u0300-\u036F]+"
_LATIN_MARKS = re.compile(LATIN_MARKS)


def _casefold_pairs() -> tuple[str, str]:
    """Lower-case letters whose case fold is another letter (final and medial sigma, long s
    and s, micro sign and mu): lower-casing keeps them apart, FTS5 folds them."""
    src, dst = [], []
    for code in range(0x80, 0x10000):
        char = chr(code)
        folded = char.casefold()
        is_fold = len(folded) == 1 and folded != char and folded.lower() == folded
        if unicodedata.category(char) == "Ll" and is_fold:
            src.append(char)
            dst.append(folded)
    return "".join(src), "".join(dst)


CASEFOLD_FROM, CASEFOLD_TO = _casefold_pairs()
_CASEFOLD = str.maketrans(CASEFOLD_FROM, CASEFOLD_TO)


def _separator_class() -> str:
    """A character class of the punctuation, symbols and spaces that end a word, for
    PostgreSQL: ASCII, Latin-1, General Punctuation and CJK punctuation. PostgreSQL's parser
    splits at other non-letters itself under a UTF-8 `LC_CTYPE`; it cannot under `C`."""
    blocks = [(0x01, 0x80), (0x80, 0xC0), (0xD7, 0xD8), (0xF7, 0xF8), (0x2000, 0x2070)]
    blocks.append((0x3000, 0x3040))
    codes = [c for a, b in blocks for c in range(a, b) if not chr(c).isalnum() and c != 0x20]
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    parts = [f"\\u{a:04X}" + (f"-\\u{b:04X}" if b > a else "") for a, b in ranges]
    return "[" + "".join(parts) + "]+"


SEPARATORS = _separator_class()


def pg_document(column: str) -> str:
    """The SQL text PostgreSQL indexes for `column`: Latin marks removed, separators made
    spaces, case folded as `fold` does (lower-casing is `to_tsvector`'s, by `LC_CTYPE`)."""
    unmarked = (
        f"normalize(regexp_replace(normalize({column}, NFD), '{LATIN_MARKS}', '\\1', 'g'), NFC)"
    )
    spaced = f"regexp_replace({unmarked}, '{SEPARATORS}', ' ', 'g')"
    return f"translate({spaced}, '{CASEFOLD_FROM}', '{CASEFOLD_TO}')"


def _fold_char(char: str) -> str:
    base = unicodedata.normalize("NFD", char)
    base = unicodedata.normalize("NFC", _LATIN_MARKS.sub(r"\1", base))
    if len(base) != 1:
        base = char
    low = base.lower()
    return (low if len(low) == 1 else base).translate(_CASEFOLD)


# The blocks whose letters fold (Latin, Greek, Cyrillic and the other alphabets below CJK,
# Latin and Cyrillic extensions, ligatures, full-width forms); other characters stay as they
# are. Only the characters that change are kept: `str.translate` leaves the rest.
_FOLD_BLOCKS = [(0x41, 0x5B), (0x80, 0x3000), (0xA640, 0xA800), (0xAB30, 0xABC0)]
_FOLD_BLOCKS += [(0xFB00, 0xFB50), (0xFF00, 0xFFF0)]
_FOLDS = {
    code: folded
    for start, end in _FOLD_BLOCKS
    for code in range(start, end)
    if (folded := _fold_char(chr(code))) != chr(code)
}
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """`text` folded as the indexes fold it (case, Latin marks), character by character, so
    it keeps its length and a snippet can mark the body's own characters."""
    return text.lower() if text.isascii() else text.translate(_FOLDS)


def words(text: str) -> list[str]:
    """The words of `text` (runs of letters and digits), folded."""
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
    parts = [fts5_prefix(w) for w in query.prefixes]
    parts += [fts5_phrase(p) for p in query.phrases]
    return " AND ".join(parts)


def fts5_prefix(word: str) -> str:
    return f'"{word}"*'


def fts5_phrase(phrase: list[str]) -> str:
    return '"' + " ".join(phrase) + '"'


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
