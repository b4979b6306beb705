"""Logs: one JSON object per line with the request and socket context, and never a body,
password, session key or token (ops/logs.py, docs/operations.md "Logs")."""

import asyncio
import json
import logging
import uuid

import pytest
import requests
from django.test import override_settings

from ops import logs
from ops.middleware import REQUEST_ID_HEADER
from tests.chats import live
from tests.faults.infra import Member
from tests.faults.test_links import DatabaseOutage
from tests.ops.conftest import http

pytestmark = [pytest.mark.django_db(transaction=True)]


class Captured(logging.Handler):
    def __init__(self):
        super().__init__()
        self.addFilter(logs.ContextFilter())
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def captured():
    handler = Captured()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def request_id_of(headers):
    (value,) = [v for k, v in headers.items() if k.decode().lower() == REQUEST_ID_HEADER.lower()]
    return value.decode()


@pytest.mark.parametrize("trust_proxy", [False, True])
async def test_request_id_is_the_proxys_only_when_trusted_and_is_on_the_requests_logs(
    captured, trust_proxy
):
    with override_settings(TRUST_PROXY=trust_proxy):
        _, headers, _ = await http("/no/such/page/", headers=[(b"x-request-id", b"lb-7f3a.1")])
    request_id = request_id_of(headers)
    assert (request_id == "lb-7f3a.1") is trust_proxy
    (record,) = [r for r in captured if "Not Found" in r.getMessage()]
    assert record.request_id == request_id


@override_settings(TRUST_PROXY=True)
@pytest.mark.parametrize("given", [b"", b"has space", b'quote"', b"x" * 129, b"line\\nbreak"])
async def test_an_implausible_proxy_request_id_is_replaced(given):
    _, headers, _ = await http("/terms/", headers=[(b"x-request-id", given)])
    request_id = request_id_of(headers)
    assert request_id.encode() != given and logs.valid_request_id(request_id)


async def test_every_request_gets_its_own_id():
    ids = {request_id_of((await http("/terms/"))[1]) for _ in range(3)}
    assert len(ids) == 3


# -- a live server's whole log ----------------------------------------------------------

SECRET_PASSWORD = "Pa55-word-" + uuid.uuid4().hex[:12]
NEW_PASSWORD = "N3w-pa55-" + uuid.uuid4().hex[:12]
WRONG_PASSWORD = "Wr0ng-pa55-" + uuid.uuid4().hex[:12]
METRICS_TOKEN = "metrics-" + uuid.uuid4().hex


def body(tag):
    return f"secret body {tag} {uuid.uuid4().hex}"


def signup_and_login(origin, username):
    """Signs up with SECRET_PASSWORD by the form, logs in again by the API, changes the
    password, tries a wrong one: every way a password reaches the server."""
    web = requests.Session()
    web.get(f"{origin}/accounts/signup/", timeout=10)
    page = web.post(
        f"{origin}/accounts/signup/",
        data={
            "username": username,
            "password1": SECRET_PASSWORD,
            "password2": SECRET_PASSWORD,
            "accept_terms": "on",
            "csrfmiddlewaretoken": web.cookies["csrftoken"],
        },
        headers={"Referer": f"{origin}/accounts/signup/"},
        timeout=10,
    )
    assert page.status_code == 200 and "sessionid" in web.cookies, page.text[:300]
    api = requests.Session()
    token = api.get(f"{origin}/api/auth/csrf/", timeout=10).json()["csrf_token"]
    wrong = api.post(
        f"{origin}/api/auth/login/",
        json={"username": username, "password": WRONG_PASSWORD},
        headers={"X-CSRFToken": token, "Referer": origin},
        timeout=10,
    )
    assert wrong.status_code == 401
    login = api.post(
        f"{origin}/api/auth/login/",
        json={"username": username, "password": SECRET_PASSWORD},
        headers={"X-CSRFToken": token, "Referer": origin},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    api.headers.update({"X-CSRFToken": login.json()["csrf_token"], "Referer": origin})
    changed = api.post(
        f"{origin}/api/me/password/",
        json={"old_password": SECRET_PASSWORD, "new_password": NEW_PASSWORD},
        timeout=10,
    )
    assert changed.status_code == 204, changed.text
    return api


@pytest.fixture
def daphne_as_deployed(monkeypatch):
    """daphne with `-v 0`, as deploy/chatsite-daphne@.service runs it: its access log (plain text
    on stdout) is off, nginx keeps one."""
    command = live.server_command

    def quiet(kind, fd, ping):
        *args, app = command(kind, fd, ping)
        return [*args, "-v", "0", app]

    monkeypatch.setattr(live, "server_command", quiet)


@pytest.mark.live
async def test_a_live_servers_json_log_holds_context_and_no_secret(
    cluster_factory, database_url, proxy, daphne_as_deployed
):
    outage = DatabaseOutage(database_url, proxy)
    cluster = cluster_factory(
        database=outage.url,
        LOG_FORMAT="json",
        LOG_LEVEL="DEBUG",
        METRICS_TOKEN=METRICS_TOKEN,
        SQLITE_TIMEOUT="2",
    )
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    secrets = [SECRET_PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, METRICS_TOKEN]
    secrets += [entry["session"] for entry in seed["users"].values()]

    api = await asyncio.to_thread(signup_and_login, server.origin, "carol")
    secrets += [api.cookies["sessionid"], api.cookies["csrftoken"]]
    chat = api.post(f"{server.origin}/api/chats/", json={"username": "alice"}, timeout=10)
    assert chat.status_code == 201, chat.text
    api_body = body("api")
    sent = api.post(
        f"{server.origin}/api/chats/{chat.json()['id']}/messages/",
        json={"client_id": str(uuid.uuid4()), "body": api_body},
        timeout=10,
    )
    assert sent.status_code == 201, sent.text
    requests.get(
        f"{server.origin}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=10,
    ).raise_for_status()

    alice = Member("alice", seed["users"]["alice"]["session"], seed["chat"])
    await alice.connect(server)
    bodies = [api_body, body("socket")]
    assert (await alice.send(bodies[-1]))["type"] == "ack"
    bodies.append(body("too long") + "x" * 20000)
    assert (await alice.send(bodies[-1]))["code"] == "too_long"
    bodies.append(body("malformed"))
    await alice.client.ws.send('{"body": "' + bodies[-1] + '", "type": "send", "chat": "x"')
    await alice.recv_until(lambda f: f["type"] == "error")
    outage.begin()
    try:
        bodies.append(body("outage"))
        assert (await alice.send(bodies[-1]))["code"] == "unavailable"
    finally:
        outage.end()
    await alice.drop()
    server.stop()

    lines = [line for line in server.log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
    opened = [r for r in records if r["message"] == "socket opened"]
    assert opened and opened[0]["connection_id"] and opened[0]["user_id"]
    assert any(r["request_id"] for r in records)  # the requests logged something
    assert any(r["level"] == "ERROR" and r.get("exc_info") for r in records)  # the outage
    text = "\n".join(lines)
    for secret in [*secrets, *(b[:40] for b in bodies)]:
        assert secret not in text, f"{secret[:20]}... is in the log"
