from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from accounts import selectors
from accounts.models import User
from api.errors import check_budget, invalid
from api.schemas import UsersOut, error_responses
from api.security import session_auth
from chats.selectors import iso_utc

router = Router(tags=["users"], auth=session_auth)


@router.get("/users/", response={200: UsersOut, **error_responses(400, 401, 429)})
def users_search(request: HttpRequest, search: Query[str] = "") -> dict[str, object]:
    """Search active users by username: exact match, then prefix, then substring (at most 20)."""
    user: User = request.auth  # type: ignore[attr-defined]
    if len(selectors.normalize_search_query(search)) < selectors.SEARCH_MIN_LENGTH:
        raise invalid("search", f"Type at least {selectors.SEARCH_MIN_LENGTH} characters.")
    check_budget("search", user_id=user.pk)
    results = selectors.user_search(viewer=user, query=search[:100])
    return {
        "users": [
            {
                "username": r.user.username,
                "status": r.presence.status,
                "last_seen": iso_utc(r.presence.last_seen) if r.presence.last_seen else None,
            }
            for r in results
        ]
    }
