"""/accounts/sessions/ and GET/DELETE /api/me/sessions/: list, sign out one, sign out others."""

import pytest
from django.core.cache import cache
from django.test import Client

from accounts import selectors
from accounts.models import SessionRecord
from tests.api.conftest import ApiClient, assert_error
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def sign_in(user, agent, ip):
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        (FIREFOX, "Firefox 128 on Ubuntu"),
        (IPHONE, "Mobile Safari 17 on iOS"),
        ("python-requests/2.32.3", "Python Requests 2"),
        ("my-script/0.1 (+https://example.org)", "my-script/0.1"),
        ("", "Unknown device"),
    ],
)
def test_device_names_come_from_the_user_agent(agent, name):
    assert selectors.device_name(agent) == name


def test_the_page_lists_each_session_with_device_ip_and_this_device(alice, bob):
    laptop = sign_in(alice, FIREFOX, "10.0.0.1")
    sign_in(alice, IPHONE, "10.0.0.2")
    sign_in(bob, FIREFOX, "10.0.0.3")
    response = laptop.get("/accounts/sessions/")
    rows = response.context["sessions"]
    assert [(r.device, r.ip, r.current) for r in rows] == [
        ("Mobile Safari 17 on iOS", "10.0.0.2", False),
        ("Firefox 128 on Ubuntu", "10.0.0.1", True),
    ]
    html = response.content.decode()
    assert "This device" in html and "10.0.0.3" not in html


def test_sign_out_one_session(alice, bob):
    laptop = sign_in(alice, FIREFOX, "10.0.0.1")
    phone = sign_in(alice, IPHONE, "10.0.0.2")
    bobs = sign_in(bob, IPHONE, "10.0.0.3")
    phone_id = SessionRecord.objects.get(user=alice, ip="10.0.0.2").pk
    bob_id = SessionRecord.objects.get(user=bob).pk
    # Someone else's session id is not yours to end.
    laptop.post(f"/accounts/sessions/{bob_id}/end/")
    assert bobs.get("/accounts/profile/").status_code == 200
    response = laptop.post(f"/accounts/sessions/{phone_id}/end/")
    assert response.status_code == 302
    assert phone.get("/accounts/profile/").status_code == 302
    assert laptop.get("/accounts/profile/").status_code == 200


def test_sign_out_all_others(alice):
    laptop = sign_in(alice, FIREFOX, "10.0.0.1")
    others = [sign_in(alice, IPHONE, f"10.0.1.{i}") for i in range(3)]
    response = laptop.post("/accounts/sessions/end-others/", follow=True)
    assert "Signed out 3 other sessions." in response.content.decode()
    assert all(o.get("/accounts/profile/").status_code == 302 for o in others)
    assert laptop.get("/accounts/profile/").status_code == 200
    assert len(laptop.get("/accounts/sessions/").context["sessions"]) == 1


def test_last_active_and_ip_follow_use_at_most_once_a_window(alice, settings):
    settings.SESSION_ACTIVITY_SECONDS = 60
    client = sign_in(alice, FIREFOX, "10.0.0.1")
    record = SessionRecord.objects.get(user=alice)
    SessionRecord.objects.filter(pk=record.pk).update(
        last_active=record.created_at.replace(year=2020)
    )
    cache.clear()  # the window of the sign-in's own note has passed
    client.get("/accounts/profile/", REMOTE_ADDR="10.0.0.9")
    touched = SessionRecord.objects.get(pk=record.pk)
    assert touched.ip == "10.0.0.9" and touched.last_active > record.created_at.replace(year=2020)
    client.get("/accounts/profile/", REMOTE_ADDR="10.0.0.8")  # within the window: no write
    assert SessionRecord.objects.get(pk=record.pk).ip == "10.0.0.9"


def test_api_lists_and_ends_sessions(alice, bob):
    api = ApiClient()
    api.client.defaults.update(HTTP_USER_AGENT="chatsite-cli/1.0", REMOTE_ADDR="10.0.0.5")
    assert (
        api.post("/api/auth/login/", {"username": "alice", "password": PASSWORD}).status_code == 200
    )
    api.refresh_csrf()
    phone = sign_in(alice, IPHONE, "10.0.0.2")
    bobs = sign_in(bob, IPHONE, "10.0.0.3")
    listed = api.get("/api/me/sessions/").json()
    assert [(s["device"], s["ip"], s["current"]) for s in listed] == [
        ("Mobile Safari 17 on iOS", "10.0.0.2", False),
        ("chatsite-cli/1.0", "10.0.0.5", True),
    ]
    assert set(listed[0]) == {"id", "device", "ip", "created_at", "last_active", "current"}
    assert listed[0]["created_at"].endswith("Z")
    bob_id = SessionRecord.objects.get(user=bob).pk
    assert_error(api.delete(f"/api/me/sessions/{bob_id}/"), 404, "not_found")
    assert bobs.get("/accounts/profile/").status_code == 200
    assert api.delete(f"/api/me/sessions/{listed[0]['id']}/").status_code == 204
    assert phone.get("/accounts/profile/").status_code == 302
    assert_error(api.delete(f"/api/me/sessions/{listed[0]['id']}/"), 404, "not_found")
    # Ending this very session signs this client out.
    assert api.delete(f"/api/me/sessions/{listed[1]['id']}/").status_code == 204
    assert_error(api.get("/api/me/sessions/"), 401, "unauthenticated")


def test_sessions_end_rings_once_per_ended_session_through_the_receiver(
    alice, monkeypatch, django_capture_on_commit_callbacks
):
    """The rows' deletion is the one path (accounts.receivers -> services.session_ended):
    each ended session's sockets are told, the kept one's are not, and no user-wide
    re-check is rung besides."""
    from accounts import services
    from chats import events

    rung: list[tuple[str, object]] = []
    monkeypatch.setattr(events, "session_ended", lambda **kw: rung.append(("ended", kw)))
    monkeypatch.setattr(events, "user_sessions_changed", lambda **kw: rung.append(("check", kw)))
    keep, *ended = [sign_in(alice, FIREFOX, "10.0.0.1").session.session_key for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sessions_end(user=alice, keep=keep) == 2
    assert sorted(rung, key=str) == sorted(
        [("ended", {"user_id": alice.pk, "session_key": key}) for key in ended], key=str
    )
