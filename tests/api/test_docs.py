import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from tests.support.browser import chromium

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    ("get", "/api/auth/csrf/"),
    ("post", "/api/auth/login/"),
    ("post", "/api/auth/logout/"),
    ("get", "/api/users/"),
    ("get", "/api/messages/search/"),
    ("get", "/api/chats/"),
    ("post", "/api/chats/"),
    ("get", "/api/chats/{chat_id}/messages/"),
    ("post", "/api/chats/{chat_id}/messages/"),
    ("post", "/api/chats/{chat_id}/read/"),
    ("patch", "/api/chats/{chat_id}/messages/{seq}/"),
    ("delete", "/api/chats/{chat_id}/messages/{seq}/"),
    ("put", "/api/chats/{chat_id}/messages/{seq}/reactions/{emoji}/"),
    ("delete", "/api/chats/{chat_id}/messages/{seq}/reactions/{emoji}/"),
    ("get", "/api/me/"),
    ("patch", "/api/me/"),
    ("delete", "/api/me/"),
    ("post", "/api/me/password/"),
    ("patch", "/api/chats/{chat_id}/"),
    ("get", "/api/push/key"),
    ("get", "/api/push/subscriptions/"),
    ("post", "/api/push/subscriptions/"),
    ("delete", "/api/push/subscriptions/{subscription_id}/"),
    ("post", "/api/auth/recover/"),
    ("post", "/api/me/recovery-codes/"),
    ("post", "/api/me/2fa/"),
    ("post", "/api/me/2fa/confirm/"),
    ("delete", "/api/me/2fa/"),
    ("get", "/api/me/sessions/"),
    ("delete", "/api/me/sessions/{session_id}/"),
    ("get", "/api/me/export/"),
}


def test_openapi_document_lists_every_endpoint():
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["info"]["title"] == "Chatsite API"
    assert {(m, p) for p, ops in doc["paths"].items() for m in ops} == ENDPOINTS
    # Everything except obtaining a token, logging in and recovering needs the session.
    public = {
        ("get", "/api/auth/csrf/"),
        ("post", "/api/auth/login/"),
        ("post", "/api/auth/recover/"),
    }
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert bool(op.get("security")) == ((method, path) not in public), (method, path)


def test_docs_page_loads_only_this_sites_static_files(alice):
    client = Client()
    client.force_login(alice)
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    for url in urls:
        assert url.startswith("/static/"), url
        assert finders.find(url.removeprefix("/static/")), url
    settings_json = re.search(
        r'<script type="application/json" id="swagger-settings">(.*?)</script>', html, re.S
    )
    swagger_settings = json.loads(settings_json.group(1))
    # No validator badge fetched from swagger.io; the spec comes from this site.
    assert swagger_settings["validatorUrl"] is None
    assert swagger_settings["url"] == "/api/openapi.json"
    # "Try it out" sends the CSRF token of the logged-in user.
    assert 'data-api-csrf="true"' in html
    assert 'data-csrf-token=""' not in html


def test_unknown_api_paths_are_json_404s():
    response = Client().get("/api/nothing/here/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.browser
def test_docs_page_renders_offline_in_a_browser(live_server):
    outside = []

    def only_local(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with chromium() as browser:
        page = browser.new_page()
        page.route("**/*", only_local)
        page.goto(f"{live_server.url}/api/docs")
        page.locator(".opblock").first.wait_for(timeout=15_000)
        assert page.locator(".opblock").count() == len(ENDPOINTS)
        assert "Chatsite API" in page.locator(".info .title").inner_text()
    assert outside == []
