import uuid

import pytest

from chats.models import Message
from tests.factories import make_chat

pytestmark = [pytest.mark.django_db(transaction=True)]


async def test_send_is_acked_and_broadcast_to_both_members(socket, alice, bob):
    from asgiref.sync import sync_to_async

    chat = await sync_to_async(make_chat)(alice, bob)
    a = await socket(alice)
    b = await socket(bob)
    assert a.hello["chats"][0]["id"] == chat.pk
    cid = str(uuid.uuid4())
    await a.send({"type": "send", "chat": chat.pk, "client_id": cid, "body": " hi "})
    ack, _frames = await a.recv_until("ack")
    assert ack["message"]["body"] == "hi"
    assert ack["message"]["seq"] == 1
    msg, _ = await b.recv_until("message")
    assert msg["message"]["client_id"] == cid
    unread = await b.recv()
    assert unread == {"type": "unread", "chat": chat.pk, "unread": 1, "unread_total": 1}
    assert await sync_to_async(Message.objects.count)() == 1
