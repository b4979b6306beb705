"""Property-based run of every documented operation: whatever schemathesis sends (valid or
not), the API answers without a server error, and valid requests get documented responses."""

from collections import Counter
from datetime import timedelta

import pytest
import schemathesis
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.middleware.csrf import CSRF_ALLOWED_CHARS
from django.utils import timezone
from django.utils.crypto import get_random_string
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from push.models import PushSubscription
from tests.factories import PASSWORD, make_chat, make_messages
from tests.support.webpush import BrowserKeys

pytestmark = pytest.mark.django_db

# About a minute for the whole run on the slower (PostgreSQL) backend.
EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 25}
# Random credentials never log in (tests/api/test_auth.py covers the success).
NO_RANDOM_SUCCESS = {
    "POST /api/auth/login/",
    "POST /api/auth/recover/",
    "POST /api/me/2fa/confirm/",  # a right code of a new key
    "DELETE /api/me/2fa/",  # needs two-factor sign-in on, and a right code
    "DELETE /api/me/sessions/{session_id}/",  # the run's own session has no record
    "DELETE /api/me/",  # the password and the username typed again
}
# Operations whose body asks for the user's password: half the valid cases send the real one.
PASSWORD_FIELD = {
    "POST /api/me/password/": "old_password",
    "POST /api/me/recovery-codes/": "password",
    "POST /api/me/2fa/": "password",
}


@pytest.fixture
def wsgi_app(db):
    """Django's WSGI handler, minus closing the connection after each request (as Django's
    test client does), so the whole run stays inside the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def schema(wsgi_app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", wsgi_app)


SESSION_KEY_FOR_RUN = "schemathesis0session0key0for0the0api0run"


def revive_session(user):
    """(Re)create the run's session for `user`: logout and password changes end it."""
    user.refresh_from_db()
    Session.objects.filter(session_key=SESSION_KEY_FOR_RUN).delete()
    data = {
        SESSION_KEY: str(user.pk),
        BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
        HASH_SESSION_KEY: user.get_session_auth_hash(),
    }
    Session.objects.create(
        session_key=SESSION_KEY_FOR_RUN,
        session_data=SessionStore().encode(data),
        expire_date=timezone.now() + timedelta(hours=1),
    )


def takes_input(schema, label):
    method, path = label.split(" ", 1)
    definition = schema.raw_schema["paths"][path][method.lower()]
    return bool(definition.get("parameters") or definition.get("requestBody"))


def fuzz(operation, mode, user, peer, chat):
    """Run one operation's generated cases as `user`; the statuses it answered with."""
    seen = Counter()

    secret = get_random_string(32, CSRF_ALLOWED_CHARS)
    strategy = operation.as_strategy(
        generation_mode=mode,
        cookies={settings.SESSION_COOKIE_NAME: SESSION_KEY_FOR_RUN, "csrftoken": secret},
        headers={"X-CSRFToken": secret},
    )

    # Half the valid cases name things that exist, so success paths are fuzzed too (invalid
    # cases stay as generated).
    real_values = st.booleans() if mode is GenerationMode.POSITIVE else st.just(False)

    @given(case=strategy, real=real_values)
    @hypothesis_settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case, real):
        if real and "chat_id" in (case.path_parameters or {}):
            case.path_parameters["chat_id"] = chat.pk
        if real and "seq" in (case.path_parameters or {}):
            # A fresh message of the user's own: edits and deletes are the author's.
            (own,) = make_messages(chat, user, 1)
            case.path_parameters["seq"] = own.seq
        if real and "emoji" in (case.path_parameters or {}):
            case.path_parameters["emoji"] = "👍"
        if real and operation.label == "POST /api/chats/" and isinstance(case.body, dict):
            case.body["username"] = peer.username
        if real and operation.label in PASSWORD_FIELD and isinstance(case.body, dict):
            case.body[PASSWORD_FIELD[operation.label]] = PASSWORD
        if real and operation.label == "POST /api/push/subscriptions/":
            endpoint = "https://fcm.googleapis.com/fcm/send/" + get_random_string(20)
            case.body = BrowserKeys().subscription(endpoint)
        if real and "subscription_id" in (case.path_parameters or {}):
            keys = BrowserKeys()
            case.path_parameters["subscription_id"] = PushSubscription.objects.create(
                user=user,
                endpoint="https://fcm.googleapis.com/fcm/send/" + get_random_string(20),
                p256dh=keys.p256dh,
                auth=keys.auth,
            ).pk
        revive_session(user)
        response = case.call()
        seen[response.status_code] += 1
        if operation.label == "POST /api/me/password/" and response.status_code == 204:
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        assert response.status_code < 500, (
            f"{operation.label} -> {response.status_code}\n"
            f"{case.as_curl_command()}\n{response.text}"
        )
        # Business rules (unknown user, wrong old password, a body that is only spaces)
        # refuse some schema-valid input with 400, so that one check does not apply.
        case.validate_response(response, excluded_checks=[positive_data_acceptance])

    check()
    return seen


@pytest.mark.parametrize("mode", list(EXAMPLES))
def test_no_operation_answers_with_a_server_error(schema, alice, bob, mode, settings):
    settings.SEND_RATE = (10**6, 1)
    settings.SEARCH_RATE = (10**6, 1)
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 3)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 31
    if mode is GenerationMode.NEGATIVE:
        # Only inputs can be invalid: operations without parameters or a body have none.
        operations = [op for op in operations if takes_input(schema, op.label)]
        assert len(operations) == 23
    statuses = {op.label: fuzz(op, mode, alice, bob, chat) for op in operations}
    # The run got past authentication and validation: every operation accepted valid input
    # at least once, and refused invalid input with a 4xx.
    for label, seen in statuses.items():
        if mode is GenerationMode.POSITIVE and label not in NO_RANDOM_SUCCESS:
            assert any(200 <= code < 300 for code in seen), (label, seen)
        else:
            assert any(400 <= code < 500 for code in seen), (label, seen)
