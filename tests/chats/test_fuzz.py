"""Hypothesis throws malformed frames at the consumer: it answers, stays open, stores nothing."""

import contextlib
import json

import pytest
from asgiref.sync import sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chats.models import Message
from chats.services import chat_start
from tests.chats.conftest import Socket

pytestmark = pytest.mark.django_db(transaction=True)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=50),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
types = st.sampled_from(["send", "sync", "read", "typing", "hello", "ack", "", "SEND"]) | st.text(
    max_size=10
)


# Frames shaped like the protocol's, with every field possibly wrong. A send only stores when
# chat, client_id and body are all valid, which these never make at once: chat is never the id
# of a chat alice belongs to (those are >= 1 and we pick from non-ints or foreign ids).
def is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


bad_chat = st.one_of(
    values.filter(lambda v: not is_positive_int(v)), st.sampled_from([0, -1, 10**9, True])
)
frames = st.fixed_dictionaries(
    {"type": types},
    optional={
        "chat": bad_chat,
        "client_id": values,
        "body": values,
        "after": values,
        "seq": values,
    },
)
raw_texts = st.one_of(
    st.text(min_size=1, max_size=200),
    st.just("{" * 10000 + "}" * 10000),
    st.just("[" * 10000 + "]" * 10000),
    st.just("x" * (1024 * 1024)),
    st.just("null"),
    st.just('{"type": "send"'),
)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(st.one_of(frames.map(json.dumps), raw_texts), min_size=1, max_size=15))
async def test_consumer_survives_malformed_frames(alice, bob, batch):
    await sync_to_async(chat_start)(user=alice, username="bob")
    sock = Socket(alice)
    connected, _ = await sock.connect()
    assert connected
    try:
        for text in batch:
            await sock.comm.send_to(text_data=text)
            # Typing is a hint: one that comes too soon after the last is dropped without a
            # word (the throttle runs before any query, so even for a chat that is not there).
            if '"type": "typing"' in text and await sock.comm.receive_nothing(timeout=0.3):
                continue
            reply = await sock.comm.receive_output(timeout=5)
            assert reply["type"] == "websocket.send", reply  # never a close (1011 or other)
            frame = json.loads(reply["text"])
            assert frame["type"] in {"error", "synced", "message"}, frame
            if frame["type"] == "error":
                assert frame["code"] in {
                    "bad_json",
                    "unknown_type",
                    "invalid",
                    "empty",
                    "too_long",
                    "not_found",
                    "rate_limited",
                }
        # The socket still works after the barrage.
        await sock.comm.send_to(text_data=json.dumps({"type": "sync", "chat": 0, "after": 0}))
        assert json.loads((await sock.comm.receive_output(timeout=5))["text"])["type"] == "error"
    finally:
        with contextlib.suppress(Exception):  # keep the real failure, not the teardown's
            await sock.close()
    assert await sync_to_async(Message.objects.count)() == 0


async def test_binary_frame_gets_an_error_and_the_socket_stays_open(alice):
    sock = Socket(alice)
    assert (await sock.connect())[0]
    await sock.comm.send_to(bytes_data=b"\x00\x01binary")
    frame = await sock.recv()
    assert frame["type"] == "error"
    assert frame["code"] == "bad_json"
    await sock.send({"type": "typing", "chat": 999})
    assert (await sock.recv())["code"] == "not_found"
    await sock.close()
