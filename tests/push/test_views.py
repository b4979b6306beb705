"""Issue 17: the manifest, the service worker script and the offline page."""

from __future__ import annotations

import json

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from PIL import Image

from push import views
from push.models import PushSubscription
from tests.support.sessions import logged_in

pytestmark = pytest.mark.django_db


def test_manifest_describes_an_installable_standalone_app(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    data = json.loads(response.content)
    assert data["start_url"] == "/chats/"
    assert data["display"] == "standalone"
    assert data["name"] and data["short_name"]
    assert data["theme_color"] and data["background_color"]
    purposes = {(icon["sizes"], icon.get("purpose", "any")) for icon in data["icons"]}
    assert purposes == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
    for icon in data["icons"]:
        path = finders.find(icon["src"].removeprefix("/static/"))
        with Image.open(path) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"]
            assert image.format == "PNG"


def test_every_page_links_the_manifest_and_both_theme_colours(client, alice):
    for page, who in (("/accounts/login/", client), ("/chats/", logged_in(alice))):
        html = who.get(page).content.decode()
        assert '<link rel="manifest" href="/manifest.webmanifest">' in html
        assert html.count('name="theme-color"') == 2
        assert "js/push.js" in html


def test_worker_is_served_at_the_root_never_cached_stale(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    cache_control = response["Cache-Control"]
    assert "no-cache" in cache_control and "no-store" in cache_control
    script = response.content.decode()
    head, _, rest = script.partition("\n")
    config = json.loads(head.removeprefix("self.CHATSITE = ").removesuffix(";"))
    assert config["offline"] == "/offline/"
    assert "/static/css/site.css" in config["shell"]
    assert 'addEventListener("push"' in rest


def test_worker_version_follows_the_static_files(client, monkeypatch):
    before = client.get("/sw.js").content
    real = views._static_text
    monkeypatch.setattr(
        views,
        "_static_text",
        lambda name: real(name) + (b"/* changed */" if name == "css/site.css" else b""),
    )
    after = client.get("/sw.js").content
    assert before.split(b"\n", 1)[0] != after.split(b"\n", 1)[0]  # a new version, a new cache


def test_offline_page_is_the_same_for_everyone(client, alice):
    anonymous = client.get("/offline/").content
    mine = logged_in(alice).get("/offline/").content.decode()
    assert "You are offline" in mine
    assert "alice" not in mine and "csrf" not in mine.lower()
    assert b"You are offline" in anonymous


def test_profile_lists_subscribed_browsers_and_removes_one(alice, bob):
    mine = PushSubscription.objects.create(
        user=alice,
        endpoint="https://fcm.googleapis.com/a",
        p256dh="k",
        auth="a",
        user_agent="Firefox on Linux",
    )
    theirs = PushSubscription.objects.create(
        user=bob,
        endpoint="https://fcm.googleapis.com/b",
        p256dh="k",
        auth="a",
        user_agent="Bob's Chrome",
    )
    client = logged_in(alice)
    html = client.get("/accounts/profile/").content.decode()
    assert "Firefox on Linux" in html and "Bob&#x27;s Chrome" not in html
    assert "Turn on for this browser" in html

    response = client.post(f"/accounts/push/{mine.pk}/remove/")
    assert response.status_code == 302
    client.post(f"/accounts/push/{theirs.pk}/remove/")  # not hers: nothing happens
    assert list(PushSubscription.objects.values_list("pk", flat=True)) == [theirs.pk]
    assert Client().post(f"/accounts/push/{theirs.pk}/remove/").status_code == 302  # to login
    assert PushSubscription.objects.filter(pk=theirs.pk).exists()


def test_chat_header_button_mutes_and_unmutes(alice, bob, carol):
    from push.models import ChatMute
    from tests.factories import make_chat

    chat = make_chat(alice, bob)
    client = logged_in(alice)
    html = client.get(f"/chats/{chat.pk}/").content.decode()
    assert 'data-muted="false"' in html and ">Mute</button>" in html
    assert client.post(f"/chats/{chat.pk}/mute/", {"muted": "1"}).status_code == 302
    html = client.get(f"/chats/{chat.pk}/").content.decode()
    assert 'data-muted="true"' in html and ">Unmute</button>" in html
    client.post(f"/chats/{chat.pk}/mute/", {"muted": "0"})
    assert not ChatMute.objects.exists()
    assert logged_in(carol).post(f"/chats/{chat.pk}/mute/", {"muted": "1"}).status_code == 404
    assert not ChatMute.objects.exists()


def test_every_page_and_the_chat_list_say_which_chats_are_muted(alice, bob, carol):
    from push import mutes
    from tests.factories import make_chat

    quiet, loud = make_chat(alice, bob), make_chat(alice, carol)
    mutes.chat_mute_set(user=alice, chat_id=quiet.pk, muted=True)
    client = logged_in(alice)
    for path in ("/chats/", f"/chats/{loud.pk}/", "/accounts/profile/"):
        assert f'data-muted-chats="{quiet.pk}"' in client.get(path).content.decode(), path
    listed = client.get("/chats/", HTTP_HX_REQUEST="true").content.decode()  # the partial
    assert (
        f'data-chat-id="{quiet.pk}" data-peer="bob" data-last-seq="0" data-muted="true"' in listed
    )
    assert f'data-chat-id="{loud.pk}" data-peer="carol" data-last-seq="0">' in listed
    assert listed.count('data-field="muted">muted') == 1  # the others' marks are hidden
    assert 'data-muted-chats=""' in logged_in(bob).get("/chats/").content.decode()


def test_profile_saves_notification_previews(alice):
    client = logged_in(alice)
    client.post("/accounts/push/previews/", {})
    alice.refresh_from_db()
    assert alice.notification_previews is False
    client.post("/accounts/push/previews/", {"previews": "on"})
    alice.refresh_from_db()
    assert alice.notification_previews is True


def test_logging_out_on_the_site_removes_this_browsers_subscription(alice):
    client = logged_in(alice)
    session_key = client.session.session_key
    PushSubscription.objects.create(
        user=alice,
        endpoint="https://fcm.googleapis.com/mine",
        p256dh="k",
        auth="a",
        session_key=session_key,
    )
    other = PushSubscription.objects.create(
        user=alice,
        endpoint="https://fcm.googleapis.com/phone",
        p256dh="k",
        auth="a",
        session_key="another-session",
    )
    assert client.post("/accounts/logout/").status_code == 302
    assert list(PushSubscription.objects.values_list("pk", flat=True)) == [other.pk]
