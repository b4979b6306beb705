"""Renames announced live (issue 23, bug 3): every open socket of the user and of everyone
who shares a chat with them gets `renamed`; nobody else does."""

import pytest
from channels.db import database_sync_to_async

from accounts import services as account_services
from accounts.models import User
from chats import services
from tests.factories import make_chat

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


async def test_a_rename_reaches_the_users_tabs_and_chat_peers_only(socket, alice, bob, carol):
    dave = await db(User.objects.create_user)(username="dave", password="x")
    await db(make_chat)(alice, bob)
    await db(make_chat)(carol, dave)  # carol shares no chat with alice
    await db(services.block_user)(blocker=bob, blocked=alice)  # a block hides presence, not names
    a1, a2, b, c = await socket(alice), await socket(alice), await socket(bob), await socket(carol)
    await db(account_services.user_change_username)(user=alice, username="alicia")
    renamed = {"type": "renamed", "old": "alice", "new": "alicia"}
    for sock in (a1, a2, b):
        assert await sock.recv() == renamed
    # Carol hears dave's rename, and nothing before it: alice's never came.
    await db(account_services.user_change_username)(user=dave, username="david")
    assert await c.recv() == {"type": "renamed", "old": "dave", "new": "david"}
    # Bob, who shares no chat with dave, did not hear of it either: his next frame is the
    # next rename of alice.
    await db(account_services.user_change_username)(user=alice, username="ali")
    assert await b.recv() == {"type": "renamed", "old": "alicia", "new": "ali"}


async def test_a_refused_or_unchanged_rename_announces_nothing(socket, alice, bob):
    await db(make_chat)(alice, bob)
    b = await socket(bob)
    with pytest.raises(account_services.UsernameTaken):
        await db(account_services.user_change_username)(user=alice, username="bob")
    await db(account_services.user_change_username)(user=alice, username="alice")
    await db(account_services.user_change_username)(user=alice, username="alicia")
    assert await b.recv() == {"type": "renamed", "old": "alice", "new": "alicia"}
