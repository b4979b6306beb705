"""Pages whose URL also answers htmx with a fragment: which one a request gets, and the
headers a cache must key on to tell them apart (the page views of both apps use both)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.views.decorators.vary import vary_on_headers

if TYPE_CHECKING:
    from django.http import HttpRequest

# What the choice depends on: htmx or not, the element it swaps into, and a history restore.
PARTIAL_HEADERS = ("HX-Request", "HX-Target", "HX-History-Restore-Request")

vary_on_fragment = vary_on_headers(*PARTIAL_HEADERS)


def wants_fragment(request: HttpRequest) -> bool:
    """An htmx request other than a history restore: htmx fills its `hx-history-elt` from a
    restore's answer, so that one gets the whole page."""
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.history_restore_request
