from __future__ import annotations

import pytest

from push import services
from push.vapid import public_key_of
from tests.support.webpush import PushServiceDouble


@pytest.fixture
def double(settings):
    """A push service on 127.0.0.1, allowed (over http) for this test only."""
    service = PushServiceDouble(public_key=public_key_of(settings.VAPID_PRIVATE_KEY)).start()
    settings.PUSH_SERVICE_HOSTS = [service.origin]
    settings.PUSH_RETRY_SECONDS = 0
    yield service
    service.stop()
    assert service.errors == [], service.errors  # every POST was signed and decryptable


@pytest.fixture
def subscribe(double):
    """`subscribe(user, name)`: the user's browser `name` subscribed at the double."""

    def make(user, name):
        body = double.subscribe(name)
        subscription, _ = services.subscription_save(
            user=user,
            endpoint=body["endpoint"],
            p256dh=body["keys"]["p256dh"],
            auth=body["keys"]["auth"],
            session_key="",
            user_agent=name,
        )
        return subscription

    return make
