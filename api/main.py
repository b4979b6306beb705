"""The API object: routers, error handlers and the offline docs page."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from api import auth, chats, me, messages, push, safety, search, users
from api.errors import STATUS_CODES, ApiError
from api.security import session_auth

BAD_BODY = "The request body must be a JSON object."


class ObjectParser(Parser):
    """JSON bodies must be objects: `false` or `[]` is not an empty update."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise ValueError(BAD_BODY)
        return data


api = NinjaAPI(
    title="Chatsite API",
    version="1",
    description=(
        "Session-authenticated JSON API (the site's session cookie). Unsafe methods need the "
        "CSRF token from GET /api/auth/csrf/ in the X-CSRFToken header. Errors are "
        '{"detail", "code"} with "errors" (field -> messages) on 400. See docs/api.md.'
    ),
    urls_namespace="api",
    auth=session_auth,
    # Served from this site's static files (ninja is in INSTALLED_APPS): nothing from a CDN,
    # and no validator badge fetched from swagger.io.
    docs=Swagger(settings={"validatorUrl": None}),
    parser=ObjectParser(),
)

api.add_router("", auth.router)
api.add_router("", users.router)
api.add_router("", chats.router)
api.add_router("", messages.router)
api.add_router("", search.router)
api.add_router("", me.router)
api.add_router("", push.router)
api.add_router("", safety.router)


def _respond(request: HttpRequest, error: ApiError) -> HttpResponse:
    response = api.create_response(request, error.body(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _respond(request, exc)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ())]
        # ("body", "payload", "field") / ("query", "field") -> "field"; a bad body -> "body".
        names = [part for part in loc[1:] if part not in ("payload", "query")]
        message = str(error.get("msg", "Invalid value."))
        if error.get("type") == "string_pattern_mismatch":  # the only pattern is Text's
            message = "Must not contain NUL characters."
        errors.setdefault(".".join(names) or (loc[0] if loc else "body"), []).append(message)
    return _respond(request, ApiError(400, "invalid", "Invalid request.", errors=errors))


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    detail = "Log in first: POST /api/auth/login/ or use the site's session cookie."
    return _respond(request, ApiError(401, "unauthenticated", detail))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """ninja's own errors (an unparsable body is a 400 naming the body)."""
    status, detail = exc.status_code, str(exc)
    if detail.startswith("Cannot parse request body"):
        detail = BAD_BODY
    errors = {"body": [detail]} if status == 400 else None
    return _respond(request, ApiError(status, STATUS_CODES.get(status, "error"), detail, errors))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _respond(request, ApiError(404, "not_found", "Not found."))


TOO_LARGE = "The request body is larger than the server accepts ({} bytes)."


@api.exception_handler(SuspiciousOperation)
def on_suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    """A body past DATA_UPLOAD_MAX_MEMORY_SIZE (read when ninja parses it) is a 413, too
    many fields a 400: JSON like every API error, where Django would answer an HTML 400."""
    if isinstance(exc, RequestDataTooBig):
        detail = TOO_LARGE.format(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return _respond(request, ApiError(413, "too_large", detail))
    return _respond(request, ApiError(400, "invalid", str(exc), {"body": [str(exc)]}))


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under /api/: a JSON 404 rather than the site's HTML page."""
    return _respond(request, ApiError(404, "not_found", f"No API endpoint at {request.path}."))
