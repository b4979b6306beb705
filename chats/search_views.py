"""The message search page (`/search/messages/`): the full page, the htmx partial for
search-as-you-type, and the "More results" rows, all from one view."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from accounts import limits
from chats import search, search_text
from chats.views import AuthedRequest


@login_required
@require_GET
def message_search(request: AuthedRequest) -> HttpResponse:
    q = request.GET.get("q", "")[: search_text.MAX_QUERY]
    sort: search.Sort = "relevance" if request.GET.get("sort") == "relevance" else "newest"
    before = request.GET.get("before") or None
    context: dict[str, object] = {"q": q, "sort": sort, "min_length": search_text.MIN_QUERY}
    status = 200
    if search_text.parse(q).empty:
        context["hint"] = True
    elif not limits.search_allowed(user_id=request.user.pk):
        context["limited"], status = limits.SEARCH_LIMITED, 429
    else:
        try:
            context["page"] = search.message_search(
                user=request.user,
                query=q,
                before=before,
                sort=sort,  # type: ignore[arg-type]
            )
        except search.BadCursor as bad:
            context["error"], status = str(bad), 400
    response = render(request, _template(request, before), context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _template(request: AuthedRequest, before: str | None) -> str:
    if not request.htmx or request.htmx.history_restore_request:
        return "search/messages.html"
    return "search/messages.html#more" if before else "search/messages.html#results"
