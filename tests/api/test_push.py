"""Issue 17: the push subscriptions API (/api/push/...) and the endpoint allow-list."""

from __future__ import annotations

import pytest
from django.conf import settings

from push.models import PushSubscription
from push.vapid import public_key_of
from tests.api.conftest import assert_error
from tests.support.webpush import BrowserKeys

pytestmark = pytest.mark.django_db

FCM = "https://fcm.googleapis.com/fcm/send/abc123"


def body(endpoint=FCM, keys=None):
    return (keys or BrowserKeys()).subscription(endpoint)


def test_key_is_the_vapid_application_server_key(api_client, alice):
    response = api_client(alice).get("/api/push/key")
    assert response.status_code == 200
    assert response.json() == {"public_key": public_key_of(settings.VAPID_PRIVATE_KEY)}
    assert len(public_key_of(settings.VAPID_PRIVATE_KEY)) == 87  # 65 bytes, base64url


def test_push_api_needs_a_session(api_client):
    anonymous = api_client()
    assert_error(anonymous.get("/api/push/key"), 401, "unauthenticated")
    assert_error(anonymous.get("/api/push/subscriptions/"), 401, "unauthenticated")
    assert_error(anonymous.post("/api/push/subscriptions/", body()), 401, "unauthenticated")
    assert_error(anonymous.delete("/api/push/subscriptions/1/"), 401, "unauthenticated")


def test_subscribe_then_again_updates_instead_of_duplicating(api_client, alice):
    client = api_client(alice)
    first = client.post("/api/push/subscriptions/", body())
    assert first.status_code == 201, first.content
    again_keys = BrowserKeys()
    again = client.post("/api/push/subscriptions/", body(keys=again_keys))
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    stored = PushSubscription.objects.get()
    assert (stored.endpoint, stored.p256dh, stored.auth) == (
        FCM,
        again_keys.p256dh,
        again_keys.auth,
    )

    listed = client.get("/api/push/subscriptions/").json()
    assert [s["id"] for s in listed] == [first.json()["id"]]
    assert set(listed[0]) == {"id", "endpoint", "user_agent", "created_at", "last_used_at"}
    assert listed[0]["last_used_at"] is None


def test_an_endpoint_another_account_subscribed_moves_to_this_one(api_client, alice, bob):
    api_client(alice).post("/api/push/subscriptions/", body())
    assert api_client(bob).post("/api/push/subscriptions/", body()).status_code == 201
    assert list(PushSubscription.objects.values_list("user__username", flat=True)) == ["bob"]


def test_list_shows_only_the_callers_browsers_and_delete_removes_one(api_client, alice, bob):
    mine = api_client(alice).post("/api/push/subscriptions/", body()).json()["id"]
    theirs = api_client(bob).post("/api/push/subscriptions/", body(FCM + "x")).json()["id"]
    client = api_client(alice)
    assert [s["id"] for s in client.get("/api/push/subscriptions/").json()] == [mine]
    assert_error(client.delete(f"/api/push/subscriptions/{theirs}/"), 404, "not_found")
    assert client.delete(f"/api/push/subscriptions/{mine}/").status_code == 204
    assert_error(client.delete(f"/api/push/subscriptions/{mine}/"), 404, "not_found")
    assert list(PushSubscription.objects.values_list("pk", flat=True)) == [theirs]


def test_at_most_twenty_browsers_per_user(api_client, alice):
    client = api_client(alice)
    for n in range(settings.PUSH_MAX_SUBSCRIPTIONS):
        assert client.post("/api/push/subscriptions/", body(f"{FCM}/{n}")).status_code == 201
    assert_error(client.post("/api/push/subscriptions/", body(FCM + "/21")), 400, "too_many")
    # The same endpoint again is an update, not a 21st.
    assert client.post("/api/push/subscriptions/", body(f"{FCM}/0")).status_code == 200
    assert PushSubscription.objects.count() == settings.PUSH_MAX_SUBSCRIPTIONS


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/abc",  # plain http
        "https://push.example.com/abc",  # an unknown host
        "https://fcm.googleapis.com.evil.example/abc",  # a look-alike
        "https://127.0.0.1/abc",  # private and loopback addresses
        "https://10.0.0.5/abc",
        "https://[::1]/abc",
        "https://169.254.169.254/latest/meta-data",
        "https://fcm.googleapis.com:8443/abc",  # another port
        "https://user:pw@fcm.googleapis.com/abc",  # credentials
        "ftp://fcm.googleapis.com/abc",
        "not a url",
        "https://fcm.googleapis.com:99999/abc",
    ],
)
def test_endpoints_off_the_allow_list_are_refused_and_nothing_stored(api_client, alice, endpoint):
    assert_error(
        api_client(alice).post("/api/push/subscriptions/", body(endpoint)),
        400,
        "invalid",
        "endpoint",
    )
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://web.push.apple.com/QGx",
        "https://wns2-par02p.notify.windows.com/w/?token=abc",
    ],
)
def test_the_browsers_push_services_are_allowed_by_default(api_client, alice, endpoint):
    assert api_client(alice).post("/api/push/subscriptions/", body(endpoint)).status_code == 201


def test_push_service_hosts_replaces_the_list_and_http_needs_an_explicit_entry(
    api_client, alice, settings
):
    settings.PUSH_SERVICE_HOSTS = ["http://127.0.0.1:5999", "push.example.com"]
    client = api_client(alice)
    assert (
        client.post("/api/push/subscriptions/", body("http://127.0.0.1:5999/a")).status_code == 201
    )
    assert (
        client.post("/api/push/subscriptions/", body("https://push.example.com/b")).status_code
        == 201
    )
    for refused in (
        "https://127.0.0.1:5999/a",  # the http entry allows http only
        "http://127.0.0.1:6000/a",  # that port only
        "http://push.example.com/b",  # a host entry means https
        FCM,  # no longer listed
    ):
        assert_error(
            client.post("/api/push/subscriptions/", body(refused)), 400, "invalid", "endpoint"
        )


@pytest.mark.parametrize(
    ("keys", "field"),
    [
        ({"p256dh": "short", "auth": BrowserKeys().auth}, "keys.p256dh"),
        ({"p256dh": BrowserKeys().p256dh, "auth": "AAAA"}, "keys.auth"),
        ({"p256dh": "!!!", "auth": "!!!"}, "keys.p256dh"),
    ],
)
def test_bad_keys_are_refused(api_client, alice, keys, field):
    response = api_client(alice).post("/api/push/subscriptions/", {"endpoint": FCM, "keys": keys})
    assert_error(response, 400, "invalid", field)


def test_a_body_without_keys_is_refused(api_client, alice):
    assert_error(
        api_client(alice).post("/api/push/subscriptions/", {"endpoint": FCM}), 400, "invalid"
    )


def test_logging_out_removes_this_browsers_subscription_only(api_client, alice):
    laptop, phone = api_client(alice), api_client(alice)
    laptop.post("/api/push/subscriptions/", body(FCM + "/laptop"))
    phone.post("/api/push/subscriptions/", body(FCM + "/phone"))
    assert laptop.post("/api/auth/logout/").status_code == 204
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [FCM + "/phone"]


def test_changing_the_password_removes_every_subscription(api_client, alice):
    from tests.factories import PASSWORD

    client = api_client(alice)
    client.post("/api/push/subscriptions/", body(FCM + "/a"))
    api_client(alice).post("/api/push/subscriptions/", body(FCM + "/b"))
    response = client.post(
        "/api/me/password/", {"old_password": PASSWORD, "new_password": "another-Secret-9876"}
    )
    assert response.status_code == 204, response.content
    assert not PushSubscription.objects.exists()


def test_patch_chat_mutes_and_unmutes_for_the_caller_only(api_client, alice, bob):
    from push.models import ChatMute
    from tests.factories import make_chat

    chat = make_chat(alice, bob)
    client = api_client(alice)
    response = client.patch(f"/api/chats/{chat.pk}/", {"muted": True})
    assert response.status_code == 200
    assert response.json() == {"id": chat.pk, "muted": True}
    assert client.patch(f"/api/chats/{chat.pk}/", {"muted": True}).json()["muted"] is True
    assert [c["muted"] for c in client.get("/api/chats/").json()["chats"]] == [True]
    assert [c["muted"] for c in api_client(bob).get("/api/chats/").json()["chats"]] == [False]
    assert client.post("/api/chats/", {"username": "bob"}).json()["muted"] is True
    assert list(ChatMute.objects.values_list("user__username", "chat_id")) == [("alice", chat.pk)]
    assert client.patch(f"/api/chats/{chat.pk}/", {"muted": False}).json()["muted"] is False
    assert not ChatMute.objects.exists()


def test_patch_chat_refuses_strangers_and_bad_bodies(api_client, alice, bob, carol):
    from tests.factories import make_chat

    chat = make_chat(alice, bob)
    assert_error(
        api_client(carol).patch(f"/api/chats/{chat.pk}/", {"muted": True}), 404, "not_found"
    )
    assert_error(api_client(alice).patch("/api/chats/999999/", {"muted": True}), 404, "not_found")
    client = api_client(alice)
    assert_error(client.patch(f"/api/chats/{chat.pk}/", {"muted": "yes"}), 400, "invalid", "muted")
    assert_error(client.patch(f"/api/chats/{chat.pk}/", {}), 400, "invalid", "muted")
    assert_error(
        api_client().patch(f"/api/chats/{chat.pk}/", {"muted": True}), 401, "unauthenticated"
    )


def test_me_reads_and_changes_notification_previews(api_client, alice):
    client = api_client(alice)
    assert client.get("/api/me/").json()["notification_previews"] is True
    response = client.patch("/api/me/", {"notification_previews": False})
    assert response.json()["notification_previews"] is False
    assert response.json()["hide_presence"] is False  # the rest left as it was
    alice.refresh_from_db()
    assert alice.notification_previews is False
