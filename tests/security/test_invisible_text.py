"""Text that cannot deceive (issue 21): a body with nothing visible in it (spaces, zero-width
and format characters, bidi controls, blank glyphs) is `empty` at every edge, and nothing is
stored; a body with something visible around such characters is kept as typed."""

import uuid

import pytest

from chats.models import Message
from chats.validation import Refused, clean_body
from tests.api.conftest import ApiClient, assert_error
from tests.chats.conftest import Socket
from tests.factories import make_chat

INVISIBLE = [
    "\u200b",  # zero-width space
    "\u200b\u200c\u200d\u2060\ufeff",  # zero-width (non-)joiner, word joiner, BOM
    "\u202e\u202d\u202c",  # right-to-left / left-to-right override, pop
    "\u2066\u2067\u2068\u2069\u200e\u200f",  # isolates, LRM, RLM
    "\u00a0\u2003\u3000 \u200b",  # no-break, em and ideographic spaces
    "\u3164\u115f\u2800",  # Hangul fillers, braille blank
    "\u00ad\u034f\ufe0f",  # soft hyphen, combining grapheme joiner, variation selector
]
VISIBLE = ["a\u200bb", "\u202eabc", "👍\ufe0f", "x\u3000"]


@pytest.mark.parametrize("body", INVISIBLE)
def test_clean_body_calls_invisible_text_empty(body):
    with pytest.raises(Refused) as refused:
        clean_body(body)
    assert refused.value.code == "empty"


@pytest.mark.parametrize("body", VISIBLE)
def test_clean_body_keeps_text_with_something_visible(body):
    assert clean_body(body) == body.strip()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("body", INVISIBLE[:3])
async def test_the_socket_refuses_invisible_bodies_as_empty(alice, bob, body):
    from channels.db import database_sync_to_async as db

    chat = await db(make_chat)(alice, bob)
    sock = Socket(alice)
    await sock.connect()
    await sock.send({"type": "send", "chat": chat.pk, "client_id": "c1", "body": body})
    frame, _ = await sock.recv_until("error")
    assert (frame["code"], frame["client_id"]) == ("empty", "c1")
    assert await db(Message.objects.count)() == 0
    await sock.comm.disconnect()


@pytest.mark.django_db
@pytest.mark.parametrize("body", INVISIBLE[:3])
def test_the_api_and_the_form_refuse_invisible_bodies(alice, bob, client, body):
    chat = make_chat(alice, bob)
    api = ApiClient(alice)
    payload = {"client_id": str(uuid.uuid4()), "body": body}
    assert_error(api.post(f"/api/chats/{chat.pk}/messages/", payload), 400, "empty", "body")
    client.force_login(alice)
    response = client.post(f"/chats/{chat.pk}/send/", {"body": body}, follow=True)
    assert "The message is empty." in response.content.decode()
    # Services trust validated input (the edges validate: docs/architecture.md).
    assert Message.objects.count() == 0
