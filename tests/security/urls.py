"""Every URL the site routes, made concrete, so a new endpoint is covered by the security
tests the moment it is added to a urls.py."""

from __future__ import annotations

import re

from django.urls import URLPattern, URLResolver, get_resolver

CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?(?P<name>\w+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^)]*)\)")


def _concrete(pattern, values: dict[str, str]) -> str:
    text = str(pattern)
    if type(pattern).__name__ == "RegexPattern":

        def group(match: re.Match) -> str:
            body = match.group("body")
            if match.group("name") in values:
                return values[match.group("name")]
            return body.split("|")[0] if re.fullmatch(r"[\w|]+", body) else "x"

        return REGEX_GROUP.sub(group, text).replace("^", "").replace("$", "")
    return CONVERTER.sub(lambda m: values.get(m.group("name"), "1"), text)


def site_paths(values: dict[str, str] | None = None) -> list[tuple[str, URLPattern]]:
    """(concrete path, pattern) for every route; `values` fills named parameters
    (chat_id, seq, object_id...), others get "1" (or "x" in free-form regexes)."""
    values = values or {}
    found: list[tuple[str, URLPattern]] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            here = prefix + _concrete(entry.pattern, values)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, here)
            else:
                found.append(("/" + here, entry))

    walk(get_resolver().url_patterns, "")
    return found
