"""Message search (docs/api.md, docs/search.md): the same selector as /search/messages/."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from accounts.models import User
from api.errors import check_budget, invalid
from api.schemas import MessageSearchOut, error_responses
from api.security import session_auth
from chats import search, search_text
from chats.selectors import iso_utc

router = Router(tags=["messages"], auth=session_auth)


class SearchQuery(Schema):
    q: str = Field("", max_length=search_text.MAX_QUERY, description="The search (docs/search.md).")
    before: str | None = Field(None, max_length=40, description="A page's `next`.")
    sort: Literal["newest", "relevance"] = "newest"


@router.get("/messages/search/", response={200: MessageSearchOut, **error_responses(400, 401, 429)})
def message_search(request: HttpRequest, query: Query[SearchQuery]) -> dict[str, Any]:
    """Your messages matching `q`, newest first (or `sort=relevance`), 20 a page."""
    user: User = request.auth  # type: ignore[attr-defined]
    if search_text.parse(query.q).empty:
        return {"results": [], "next": None}
    check_budget("search", user_id=user.pk)
    try:
        page = search.message_search(user=user, query=query.q, before=query.before, sort=query.sort)
    except search.BadCursor as bad:
        raise invalid("before", str(bad)) from None
    results = [
        {
            "chat": hit.chat_id,
            "seq": hit.seq,
            "sender": hit.sender,
            "peer": hit.peer,
            "sent_at": iso_utc(hit.sent_at),
            "snippet": str(hit.snippet),
        }
        for hit in page.results
    ]
    return {"results": results, "next": page.next}
