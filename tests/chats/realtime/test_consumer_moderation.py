"""Moderation reaches open sockets: removals live, deactivation closes sockets."""

import pytest
from asgiref.sync import sync_to_async

from chats import moderation
from tests.factories import UserFactory, make_chat, make_messages

pytestmark = pytest.mark.django_db(transaction=True)


async def test_removed_message_reaches_both_members_live(socket, alice, bob):
    chat = await sync_to_async(make_chat)(alice, bob)
    [message] = await sync_to_async(make_messages)(chat, bob, 1)
    moderator = await sync_to_async(UserFactory)(username="mod", is_staff=True)
    a = await socket(alice)
    b = await socket(bob)
    removed = await sync_to_async(moderation.message_remove)(
        message=message, moderator=moderator, reason="spam"
    )
    assert removed
    expected = {"type": "message_removed", "chat": chat.pk, "seq": 1, "id": message.pk}
    assert (await a.recv_until("message_removed"))[0] == expected
    assert (await b.recv_until("message_removed"))[0] == expected
    # History through sync shows the placeholder, never the text.
    await a.send({"type": "sync", "chat": chat.pk, "after": 0})
    frame, _ = await a.recv_until("message")
    assert frame["message"]["removed"] is True
    assert frame["message"]["body"] == ""


async def test_deactivation_closes_the_users_sockets(socket, alice, bob):
    moderator = await sync_to_async(UserFactory)(username="boss", is_staff=True, is_superuser=True)
    a = await socket(alice)
    await sync_to_async(moderation.user_deactivate)(user=alice, moderator=moderator)
    assert await a.close_code() == 4401
