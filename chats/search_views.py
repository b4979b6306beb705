"""The message search page (`/search/messages/`): the full page, the htmx partial for
search-as-you-type, and the "More results" rows, all from one view."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from chats import limits, search, search_text
from chats.validation import Refused
from chats.views import AuthedRequest
from chatsite import htmx


@login_required
@require_GET
@htmx.vary_on_fragment
def message_search(request: AuthedRequest) -> HttpResponse:
    q = request.GET.get("q", "")[: search_text.MAX_QUERY]
    sort: search.Sort = "relevance" if request.GET.get("sort") == "relevance" else "newest"
    before = request.GET.get("before") or None
    context: dict[str, object] = {"q": q, "sort": sort, "min_length": search_text.MIN_QUERY}
    status, retry_after = 200, None
    if search_text.parse(q).empty:
        context["hint"] = True
    else:
        try:
            limits.check_budget("search", user_id=request.user.pk)
            context["page"] = search.message_search(
                user=request.user,
                query=q,
                before=before,
                sort=sort,  # type: ignore[arg-type]
            )
        except Refused as refused:  # the search budget, shared with the user search
            context["limited"], status, retry_after = refused.detail, 429, refused.retry_after
        except search.BadCursor as bad:
            context["error"], status = str(bad), 400
    response = render(request, _template(request, before), context, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _template(request: AuthedRequest, before: str | None) -> str:
    if not htmx.wants_fragment(request):
        return "search/messages.html"
    return "search/messages.html#more" if before else "search/messages.html#results"
