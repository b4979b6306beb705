"""Sending one push (RFC 8030) to one subscription: the payload encrypted for the browser
(RFC 8291, aes128gcm) and signed with the server's VAPID key (RFC 8292), by pywebpush."""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import time
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from py_vapid import Vapid
from pywebpush import WebPusher

from chats.models import Message
from chatsite import metrics
from push import selectors, services
from push.models import PushSubscription
from push.validation import SubscriptionRefused, endpoint_check

logger = logging.getLogger(__name__)

TTL_SECONDS = 24 * 3600  # a push service keeps an undelivered push this long
TIMEOUT_SECONDS = 10
MAX_ATTEMPTS = 5
MAX_RETRY_AFTER_SECONDS = 3600


@dataclass(frozen=True)
class Outcome:
    result: str  # sent, gone, skipped, refused, gave_up, retry
    retry_in: float | None = None


class _NoRedirects(requests.Session):
    """A push service never redirects; following one would POST where no one allowed."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False  # no proxies or .netrc from the environment

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["allow_redirects"] = False
        return super().request(*args, **kwargs)


@cache
def _vapid(private_key: str) -> Vapid:
    return Vapid.from_string(private_key)


def payload_of(message: Message, subscription: PushSubscription) -> dict[str, Any]:
    return {
        "type": "message",
        "chat": message.chat_id,
        "seq": message.seq,
        "sender": message.sender.display_name,
        "body": message.body if subscription.user.notification_previews else None,
        "url": f"/chats/{message.chat_id}/",
    }


def retry_delay(attempt: int, retry_after: str | None) -> float:
    """Exponential backoff from PUSH_RETRY_SECONDS, or longer when the service said so."""
    delay = float(settings.PUSH_RETRY_SECONDS) * 2**attempt
    if retry_after:
        asked = 0.0
        if retry_after.strip().isdigit():
            asked = float(retry_after)
        else:
            # Not a date either: the backoff alone.
            with contextlib.suppress(TypeError, ValueError):
                asked = email.utils.parsedate_to_datetime(retry_after).timestamp() - time.time()
        delay = max(delay, min(asked, MAX_RETRY_AFTER_SECONDS))
    return delay


def _post(subscription: PushSubscription, payload: dict[str, Any], topic: str) -> requests.Response:
    parts = urlsplit(subscription.endpoint)
    claims = {
        "sub": settings.VAPID_SUBJECT,
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(time.time()) + 12 * 3600,
    }
    headers = {**_vapid(settings.VAPID_PRIVATE_KEY).sign(claims), "Topic": topic}
    info = {
        "endpoint": subscription.endpoint,
        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
    }
    with _NoRedirects() as session:
        response = WebPusher(info, requests_session=session).send(
            json.dumps(payload, separators=(",", ":")),
            headers,
            ttl=TTL_SECONDS,
            content_encoding="aes128gcm",
            timeout=TIMEOUT_SECONDS,
        )
    assert isinstance(response, requests.Response)
    return response


def deliver(*, message_id: int, subscription_id: int, attempt: int) -> Outcome:
    """Send one push; a 404/410 removes the subscription, a 429/5xx or a network failure
    asks for a retry (MAX_ATTEMPTS in all), anything else is logged and dropped. Each
    outcome counts in `chatsite_push_sent_total`."""
    outcome = _deliver(message_id=message_id, subscription_id=subscription_id, attempt=attempt)
    metrics.push_sent(outcome.result)
    return outcome


def _deliver(*, message_id: int, subscription_id: int, attempt: int) -> Outcome:
    subscription = (
        PushSubscription.objects.select_related("user").filter(pk=subscription_id).first()
    )
    message = (
        Message.objects.select_related("sender")
        .filter(pk=message_id, removed_at__isnull=True, deleted_at__isnull=True)
        .first()
    )
    if subscription is None or message is None:
        # Unsubscribed, or the message was removed or deleted for everyone meanwhile.
        return Outcome("skipped")
    if selectors.chat_muted(user_id=subscription.user_id, chat_id=message.chat_id):
        return Outcome("skipped")  # muted since the push was queued
    try:
        endpoint_check(subscription.endpoint)  # PUSH_SERVICE_HOSTS may have changed
    except SubscriptionRefused:
        logger.warning("push %s: endpoint no longer allowed", subscription_id)
        return Outcome("refused")
    payload = payload_of(message, subscription)
    status, retry_after = 0, None
    try:
        response = _post(subscription, payload, topic=f"chat-{message.chat_id}")
        status, retry_after = response.status_code, response.headers.get("Retry-After")
    except requests.RequestException as exc:
        logger.info("push %s: %s", subscription_id, exc)
    if 200 <= status < 300:
        services.subscription_used(subscription_id=subscription_id)
        return Outcome("sent")
    if status in (404, 410):
        services.subscription_gone(subscription_id=subscription_id)
        return Outcome("gone")
    if status in (0, 429) or status >= 500:
        if attempt + 1 < MAX_ATTEMPTS:
            return Outcome("retry", retry_delay(attempt, retry_after))
        logger.warning(
            "push %s: gave up after %d attempts (%s)", subscription_id, MAX_ATTEMPTS, status
        )
        return Outcome("gave_up")
    logger.warning("push %s: refused with %s", subscription_id, status)
    return Outcome("refused")
