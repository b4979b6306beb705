"""Issue 17: pushes for stored messages, end to end against a push service double that
checks the VAPID signature and decrypts each body (tests/support/webpush.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

from chats import services as chat_services
from chats.models import Message
from chatsite import presence_store
from push import dispatch, sending
from push.models import PushSubscription
from tests.chats.live import test_database_url as live_database_url
from tests.factories import make_chat

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def send(sender, chat, body):
    message, _ = chat_services.message_send(
        sender=sender, chat_id=chat.pk, client_id=str(uuid.uuid4()), body=body
    )
    return message


def run_queue():
    """What `./scripts/run.sh` runs beside the server, until no push is due."""
    assert dispatch.wait_idle()
    call_command("db_worker", queue_name="push", batch=True, reload=False, startup_delay=False)


def test_offline_recipient_gets_one_push_per_message_on_each_browser(alice, bob, double, subscribe):
    chat = make_chat(alice, bob)
    laptop, phone = subscribe(bob, "laptop"), subscribe(bob, "phone")
    subscribe(alice, "alice")  # the sender gets nothing for her own messages
    first, second = send(alice, chat, "hello"), send(alice, chat, "are you there?")
    run_queue()

    expected = [
        {
            "type": "message",
            "chat": chat.pk,
            "seq": m.seq,
            "sender": "alice",
            "body": m.body,
            "url": f"/chats/{chat.pk}/",
        }
        for m in (first, second)
    ]
    assert double.delivered("laptop") == expected
    assert double.delivered("phone") == expected
    assert double.delivered("alice") == []
    request = double.received[0]
    assert request.headers["topic"] == f"chat-{chat.pk}"
    assert request.headers["ttl"] == "86400"
    for subscription in (laptop, phone):
        subscription.refresh_from_db()
        assert subscription.last_used_at is not None


def test_no_push_while_the_recipient_has_an_open_socket(alice, bob, double, subscribe):
    chat = make_chat(alice, bob)
    subscribe(bob, "laptop")
    presence_store.store().attach(bob.pk, "socket-1", 10)
    send(alice, chat, "you are online")
    run_queue()
    assert double.received == []
    assert not DBTaskResult.objects.exists()  # nothing was even queued


def test_no_work_for_recipients_without_subscriptions(
    alice, bob, double, django_assert_num_queries
):
    chat = make_chat(alice, bob)
    message = send(alice, chat, "hi")
    assert dispatch.wait_idle()
    with django_assert_num_queries(1):
        dispatch.enqueue_pushes([(message.pk, chat.pk, bob.pk)])
    assert not DBTaskResult.objects.exists()


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_subscription_is_removed(alice, bob, double, subscribe, status):
    chat = make_chat(alice, bob)
    subscribe(bob, "old")
    keep = subscribe(bob, "new")
    double.answer("old", status)
    send(alice, chat, "hi")
    run_queue()
    assert list(PushSubscription.objects.values_list("pk", flat=True)) == [keep.pk]
    assert len(double.delivered("new")) == 1


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_refusal_for_now_is_retried_and_delivered_once(alice, bob, double, subscribe, status):
    chat = make_chat(alice, bob)
    subscribe(bob, "laptop")
    double.answer("laptop", status)
    send(alice, chat, "hi")
    run_queue()
    assert [r.path for r in double.received] == ["/push/laptop", "/push/laptop"]
    assert [p["body"] for p in double.delivered("laptop")] == ["hi"]


def test_retry_after_is_honoured(alice, bob, double, subscribe):
    chat = make_chat(alice, bob)
    subscribe(bob, "laptop")
    double.answer("laptop", (429, {"Retry-After": "120"}))
    send(alice, chat, "hi")
    run_queue()
    assert double.delivered() == []
    retry = DBTaskResult.objects.get(status="READY")
    assert retry.args_kwargs["kwargs"]["attempt"] == 1
    wait = (retry.run_after - timezone.now()).total_seconds()
    assert 110 < wait <= 120


def test_backoff_doubles_and_honours_a_later_retry_after(settings):
    settings.PUSH_RETRY_SECONDS = 15
    assert [sending.retry_delay(n, None) for n in range(4)] == [15, 30, 60, 120]
    assert sending.retry_delay(0, "90") == 90
    assert sending.retry_delay(3, "5") == 120  # never sooner than the backoff
    assert sending.retry_delay(0, "99999999") == sending.MAX_RETRY_AFTER_SECONDS
    assert sending.retry_delay(1, "soon, please") == 30  # unreadable: the backoff
    later = (timezone.now() + timedelta(seconds=300)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 280 < sending.retry_delay(0, later) <= 300


def test_gives_up_after_a_few_attempts(alice, bob, double, subscribe, caplog):
    chat = make_chat(alice, bob)
    subscribe(bob, "laptop")
    double.answer("laptop", *[503] * sending.MAX_ATTEMPTS)
    send(alice, chat, "hi")
    run_queue()
    assert len(double.received) == sending.MAX_ATTEMPTS
    assert double.delivered() == []
    assert PushSubscription.objects.filter(user=bob).exists()  # kept: the service was down
    assert "gave up" in caplog.text


@pytest.mark.parametrize("field", ["removed_at", "deleted_at"])
def test_a_removed_or_deleted_message_is_never_pushed(alice, bob, double, subscribe, field):
    chat = make_chat(alice, bob)
    subscribe(bob, "laptop")
    message = send(alice, chat, "oops")
    assert dispatch.wait_idle()
    Message.objects.filter(pk=message.pk).update(**{field: timezone.now()})
    run_queue()
    assert double.received == []


def test_redirects_are_not_followed(alice, bob, double, subscribe):
    chat = make_chat(alice, bob)
    subscribe(bob, "laptop")
    double.answer("laptop", (307, {"Location": double.endpoint("elsewhere")}))
    send(alice, chat, "hi")
    run_queue()
    assert [r.path for r in double.received] == ["/push/laptop"]


def test_posts_never_follow_redirects_and_time_out_in_ten_seconds(
    alice, bob, double, subscribe, monkeypatch
):
    chat = make_chat(alice, bob)
    subscribe(bob, "laptop")
    seen = []
    real = requests.Session.request

    def spy(self, *args, **kwargs):
        seen.append(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    send(alice, chat, "hi")
    run_queue()
    assert [(k["allow_redirects"], k["timeout"]) for k in seen] == [(False, 10)]


def test_an_endpoint_no_longer_allowed_gets_nothing(alice, bob, double, subscribe, settings):
    chat = make_chat(alice, bob)
    subscribe(bob, "laptop")
    send(alice, chat, "hi")
    assert dispatch.wait_idle()
    settings.PUSH_SERVICE_HOSTS = ["fcm.googleapis.com"]
    run_queue()
    assert double.received == []


def _database_url(tmp_path):
    if connection.vendor == "sqlite":  # this test's own database file, not a copy
        return f"sqlite:///{connection.settings_dict['NAME']}"
    return live_database_url(tmp_path, None)


def _worker(double, settings, tmp_path):
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "DATABASE_URL": _database_url(tmp_path),
        "PUSH_SERVICE_HOSTS": double.origin,
        "PUSH_RETRY_SECONDS": "0",
        "VAPID_PRIVATE_KEY": settings.VAPID_PRIVATE_KEY,
    }
    command = [
        sys.executable,
        "manage.py",
        "db_worker",
        "--queue-name",
        "push",
        "--interval",
        "0.1",
        "--no-reload",
        "--no-startup-delay",
    ]
    log = (tmp_path / "worker.log").open("a")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _until(condition, log, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.05)  # polling another process, not a timed assertion


def test_a_push_pending_across_a_worker_restart_is_still_delivered(
    alice, bob, double, subscribe, settings, tmp_path
):
    (tmp_path / "metrics").mkdir()
    chat = make_chat(alice, bob)
    subscribe(bob, "laptop")
    double.answer("laptop", (503, {"Retry-After": "2"}))
    send(alice, chat, "survives")
    assert dispatch.wait_idle()

    first = _worker(double, settings, tmp_path)
    try:
        _until(
            lambda: len(double.received) == 1, tmp_path / "worker.log"
        )  # refused for now: the retry is queued
        _until(
            lambda: DBTaskResult.objects.filter(status="READY").exists(), tmp_path / "worker.log"
        )
    finally:
        first.terminate()
        first.wait(timeout=30)
    assert double.delivered() == []

    second = _worker(double, settings, tmp_path)  # after a restart
    try:
        _until(lambda: len(double.delivered()) == 1, tmp_path / "worker.log")
    finally:
        second.terminate()
        second.wait(timeout=30)
    assert [p["body"] for p in double.delivered()] == ["survives"]
    # The workers' counts reach the machine's /metrics through PROMETHEUS_MULTIPROC_DIR.
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path / "metrics"))
    sent = {
        outcome: registry.get_sample_value("chatsite_push_sent_total", {"outcome": outcome})
        for outcome in ("retry", "sent")
    }
    assert sent == {"retry": 1, "sent": 1}


def test_every_outcome_counts_in_push_sent_total(alice, bob, double, subscribe):
    def counts():
        return {
            outcome: REGISTRY.get_sample_value("chatsite_push_sent_total", {"outcome": outcome})
            or 0
            for outcome in ("sent", "gone", "retry", "gave_up", "refused", "skipped")
        }

    chat = make_chat(alice, bob)
    for name in ("ok", "flaky", "old", "down", "odd", "muted-later"):
        subscribe(bob, name)
    double.answer("flaky", 503)  # then 201
    double.answer("old", 410)
    double.answer("down", *[503] * sending.MAX_ATTEMPTS)
    double.answer("odd", 400)
    send(alice, chat, "counted")
    assert dispatch.wait_idle()
    PushSubscription.objects.filter(user_agent="muted-later").delete()  # unsubscribed meanwhile
    before = counts()
    run_queue()
    after = counts()
    assert {k: after[k] - before[k] for k in after} == {
        "sent": 2,  # ok, and flaky on its second attempt
        "gone": 1,
        "retry": 1 + sending.MAX_ATTEMPTS - 1,  # flaky once, down until the last attempt
        "gave_up": 1,
        "refused": 1,
        "skipped": 1,
    }


def test_a_muted_chat_gets_no_push_and_others_still_do(alice, bob, carol, double, subscribe):
    from push import mutes as push_mutes

    quiet, loud = make_chat(alice, bob), make_chat(carol, bob)
    subscribe(bob, "laptop")
    push_mutes.chat_mute_set(user=bob, chat_id=quiet.pk, muted=True)
    send(alice, quiet, "shh")
    send(carol, loud, "hey")
    run_queue()
    assert [p["body"] for p in double.delivered()] == ["hey"]


def test_a_chat_muted_after_the_push_was_queued_gets_nothing(alice, bob, double, subscribe):
    from push import mutes as push_mutes

    chat = make_chat(alice, bob)
    subscribe(bob, "laptop")
    send(alice, chat, "hi")
    assert dispatch.wait_idle()
    push_mutes.chat_mute_set(user=bob, chat_id=chat.pk, muted=True)
    run_queue()
    assert double.received == []


def test_previews_off_sends_a_null_body(alice, bob, double, subscribe):
    from push import services as push_services

    chat = make_chat(alice, bob)
    subscribe(bob, "laptop")
    push_services.notification_previews_set(user=bob, previews=False)
    message = send(alice, chat, "a secret")
    run_queue()
    assert double.delivered() == [
        {
            "type": "message",
            "chat": chat.pk,
            "seq": message.seq,
            "sender": "alice",
            "body": None,
            "url": f"/chats/{chat.pk}/",
        }
    ]
