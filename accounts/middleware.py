"""Notes when and from where a signed-in session was last used (the sessions page)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.deprecation import MiddlewareMixin

from accounts import services
from chatsite.net import client_ip


class SessionActivityMiddleware(MiddlewareMixin):
    """At most one write per session per SESSION_ACTIVITY_SECONDS: the cache remembers the
    last one, so a busy session costs one cache call per request, not a database write."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is None or session is None or not user.is_authenticated:
            return response
        key = session.session_key
        window = settings.SESSION_ACTIVITY_SECONDS
        if key and cache.add(f"session-active:{key}", 1, timeout=window):
            services.session_record_touch(
                session_key=key, ip=client_ip(request), now=timezone.now()
            )
        return response
