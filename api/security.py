"""Session authentication for the API, with Django's CSRF check on unsafe methods."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie
from ninja.utils import check_csrf

from api.errors import ApiError

CSRF_FAILED = (
    "CSRF check failed: get a token from GET /api/auth/csrf/ and send it in the "
    "X-CSRFToken header, with the csrftoken cookie."
)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


def require_csrf(request: HttpRequest) -> None:
    if request.method not in SAFE_METHODS and check_csrf(request) is not None:
        raise ApiError(403, "csrf_failed", CSRF_FAILED)


class SessionAuth(APIKeyCookie):
    """The site's session cookie; anonymous requests get 401 before any CSRF check."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            return None
        require_csrf(request)
        return request.user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return request.user if request.user.is_authenticated else None


session_auth = SessionAuth()
