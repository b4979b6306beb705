from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.support.totp import clock, with_2fa  # noqa: F401  (fixtures)


class ApiClient:
    """A JSON client that, like a real one, fetches a CSRF token and sends it back."""

    def __init__(self, user=None, csrf=True):
        self.client = Client(enforce_csrf_checks=True)
        self.csrf = csrf
        self.token = ""
        if user is not None:
            self.client.force_login(user)
        self.refresh_csrf()

    def refresh_csrf(self):
        self.token = self.client.get("/api/auth/csrf/").json()["csrf_token"]

    def _headers(self):
        return {"X-CSRFToken": self.token} if self.csrf else {}

    def get(self, path, params=None):
        return self.client.get(path, params or {})

    def post(self, path, data=None, raw=None):
        body = raw if raw is not None else json.dumps(data if data is not None else {})
        return self.client.post(
            path, body, content_type="application/json", headers=self._headers()
        )

    def delete(self, path, data=None):
        return self.client.delete(
            path,
            json.dumps(data if data is not None else {}),
            content_type="application/json",
            headers=self._headers(),
        )

    def patch(self, path, data):
        return self.client.patch(
            path, json.dumps(data), content_type="application/json", headers=self._headers()
        )

    def put(self, path):
        return self.client.put(path, headers=self._headers())


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The default PBKDF2 cost dominates these tests and is not what they test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_client():
    def make(user=None, csrf=True):
        return ApiClient(user, csrf=csrf)

    return make


def assert_error(response, status, code, field=None):
    """The API's error shape: {"detail", "code"} and, on 400s, errors naming the field."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    if field is not None:
        assert body["errors"][field], body
    return body
