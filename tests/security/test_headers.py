"""Security headers and no inline script on every HTML page the site serves: each GET route
of the URLconf (pages, partials, admin, API docs) and the error pages."""

import re

import pytest
from django.test import Client

from tests.security.urls import site_paths
from tests.support.sessions import logged_in

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def csp_directives(response):
    policy = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


def check_page(response):
    """The problems with one HTML response (empty when it is safe)."""
    problems = []
    if response.get("X-Frame-Options") != "DENY":
        problems.append("X-Frame-Options")
    if response.get("X-Content-Type-Options") != "nosniff":
        problems.append("nosniff")
    if response.get("Referrer-Policy") != "same-origin":
        problems.append("Referrer-Policy")
    if "Content-Security-Policy" not in response:
        return [*problems, "no CSP"]
    csp = csp_directives(response)
    script = csp.get("script-src", csp.get("default-src"))
    if script != ["'self'"]:
        problems.append(f"script-src {script}")
    if csp.get("object-src") != ["'none'"] or csp.get("frame-ancestors") != ["'none'"]:
        problems.append("object-src/frame-ancestors")
    if csp.get("base-uri") != ["'self'"]:
        problems.append("base-uri")
    html = response.content.decode()
    problems += [f"inline script {m!r}" for m in INLINE_SCRIPT.findall(html)]
    problems += [f"inline handler {m[:60]!r}" for m in EVENT_HANDLER.findall(html)]
    if "javascript:" in html.lower():
        problems.append("javascript: URL")
    return problems


@pytest.fixture
def member(site, alice):
    chat, values = site
    return logged_in(alice), values, chat


def test_every_html_page_has_the_security_headers_and_no_inline_script(member):
    client, values, chat = member
    checked, failures = [], []
    for path, _pattern in site_paths(values):
        for extra in ({}, {"HTTP_HX_REQUEST": "true"}):  # full pages and htmx partials
            response = client.get(path, {"q": "bob", "before": "2"}, **extra)
            if not response.get("Content-Type", "").startswith("text/html"):
                continue
            checked.append(path)
            failures += [(path, extra, p) for p in check_page(response)]
    assert failures == []
    # Pages, partials and admin were all reached (a login redirect would not be HTML).
    for page in ["/chats/", f"/chats/{chat.pk}/", "/search/", "/accounts/profile/", "/api/docs"]:
        assert page in checked
    assert any(p.startswith("/admin/chats/message/") for p in checked)


def test_error_and_anonymous_pages_have_them_too(member, settings):
    client, _values, chat = member
    settings.SEARCH_RATE = (0, 60)
    anonymous = Client()
    strict = Client(enforce_csrf_checks=True)
    responses = {
        "404": client.get(f"/chats/{chat.pk + 1000}/"),
        "429": client.get("/search/?q=bob"),
        "400": client.post("/chats/start/", {"username": "nobody"}),
        "403 csrf": strict.post("/accounts/login/", {"username": "a", "password": "b"}),
        "home": anonymous.get("/"),
        "login": anonymous.get("/accounts/login/"),
        "signup": anonymous.get("/accounts/signup/"),
        "terms": anonymous.get("/terms/"),
    }
    statuses = {name: r.status_code for name, r in responses.items()}
    assert statuses == {
        "404": 404,
        "429": 429,
        "400": 400,
        "403 csrf": 403,
        "home": 200,
        "login": 200,
        "signup": 200,
        "terms": 200,
    }
    assert {name: check_page(r) for name, r in responses.items()} == {n: [] for n in responses}


def test_json_and_static_responses_are_not_sniffed(member):
    client, _values, chat = member
    for path in ["/api/chats/", f"/api/chats/{chat.pk}/messages/", "/api/openapi.json"]:
        response = client.get(path)
        assert response["Content-Type"].startswith("application/json"), path
        assert response["X-Content-Type-Options"] == "nosniff", path
