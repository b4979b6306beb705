"""Every error under /api/ is JSON, those made outside the API's views too."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from api.errors import STATUS_CODES
from api.security import CSRF_FAILED


class JsonErrorsMiddleware:
    """The API's views answer errors in its shape (api/main.py); what Django or ninja
    answer around them is not: ninja's 405, Django's 400 for a body it refuses before a
    view runs, its 500 page. Those become {"detail", "code"} with the same status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path.startswith("/api/")
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        status = response.status_code
        body = {"detail": response.reason_phrase + ".", "code": STATUS_CODES.get(status, "error")}
        if status == 403:
            # The API's own refusals are JSON already: an HTML 403 is Django's CSRF page
            # (a route outside the API's operations, such as the schema).
            body = {"detail": CSRF_FAILED, "code": "csrf_failed"}
        replaced = JsonResponse(body, status=status)
        if response.has_header("Allow"):
            replaced["Allow"] = response["Allow"]
        return replaced
