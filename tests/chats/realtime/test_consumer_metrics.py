"""The socket's metrics hooks (chatsite/metrics.py) count what the socket did."""

import uuid

import pytest
from channels.db import database_sync_to_async
from prometheus_client import REGISTRY

from tests.chats.conftest import Socket
from tests.factories import make_chat

pytestmark = [pytest.mark.django_db(transaction=True)]


class Counts:
    """Samples of the default registry, as differences from when it was made."""

    def __init__(self):
        self.start = {key: self.value(*key) for key in self.KEYS}

    KEYS = [
        ("chatsite_messages_stored_total", ()),
        ("chatsite_message_store_seconds_count", ()),
        ("chatsite_message_fanout_seconds_count", ()),
        ("chatsite_sockets_open", ()),
        ("chatsite_socket_connects_total", (("outcome", "accepted"),)),
        ("chatsite_socket_connects_total", (("outcome", "unauthenticated"),)),
        ("chatsite_frames_in_total", (("type", "send"),)),
        ("chatsite_frames_out_total", (("type", "ack"),)),
        ("chatsite_frames_out_total", (("type", "message"),)),
        ("chatsite_errors_total", (("code", "not_found"),)),
    ]

    @staticmethod
    def value(name, labels):
        return REGISTRY.get_sample_value(name, dict(labels)) or 0.0

    def delta(self, name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return self.value(*key) - self.start[key]


async def test_a_conversation_moves_the_counters_by_what_happened(socket, alice, bob):
    chat = await database_sync_to_async(make_chat)(alice, bob)
    counts = Counts()
    a, b = await socket(alice), await socket(bob)
    assert await Socket(None).connect() == (False, 4401)
    for i in range(3):
        frame = {"type": "send", "chat": chat.pk, "client_id": str(uuid.uuid4()), "body": f"m{i}"}
        await a.send(frame)
        await a.recv_until("ack")
        await b.recv_until("message")
    await a.send({"type": "send", "chat": 999999, "client_id": str(uuid.uuid4()), "body": "x"})
    assert (await a.recv_until("error"))[0]["code"] == "not_found"

    assert counts.delta("chatsite_messages_stored_total") == 3
    assert counts.delta("chatsite_message_store_seconds_count") >= 1  # one per batch
    assert counts.delta("chatsite_frames_in_total", type="send") == 4
    assert counts.delta("chatsite_frames_out_total", type="ack") == 3
    assert counts.delta("chatsite_errors_total", code="not_found") == 1
    assert counts.delta("chatsite_socket_connects_total", outcome="accepted") == 2
    assert counts.delta("chatsite_socket_connects_total", outcome="unauthenticated") == 1
    assert counts.delta("chatsite_sockets_open") == 2
    # Fanout is timed on the recipient's socket only: bob's three, not alice's echoes.
    assert counts.delta("chatsite_message_fanout_seconds_count") == 3
    await a.close()
    await b.close()
    assert counts.delta("chatsite_sockets_open") == 0
