"""Notes when and from where a signed-in session was last used (the sessions page)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from accounts import services
from chatsite.net import client_ip


class SessionActivityMiddleware(MiddlewareMixin):
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is None or session is None or not user.is_authenticated:
            return response
        if session.session_key:
            services.session_record_touch(session_key=session.session_key, ip=client_ip(request))
        return response
