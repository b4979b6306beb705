"""Ending sessions (a recovery, the sessions page and API) closes their sockets at once."""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from accounts import services
from accounts.models import SessionRecord
from tests.api.conftest import ApiClient
from tests.chats.conftest import Socket

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in_key(user):
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def test_recovery_closes_every_socket_of_the_account(alice, bob):
    codes = await sync_to_async(services.recovery_codes_create)(user=alice)
    keys = [await sync_to_async(signed_in_key)(alice) for _ in range(2)]
    sockets = [Socket(alice, session_key=key) for key in keys]
    bobs = Socket(bob, session_key=await sync_to_async(signed_in_key)(bob))
    for sock in [*sockets, bobs]:
        assert (await sock.connect())[0]
    response = await sync_to_async(Client().post)(
        "/accounts/recover/",
        {
            "username": "alice",
            "code": codes[0],
            "new_password1": "a-brand-new-passphrase-3",
            "new_password2": "a-brand-new-passphrase-3",
        },
    )
    assert response.status_code == 200
    for sock in sockets:
        assert await sock.close_code() == 4401
    assert await bobs.nothing(timeout=0.5)
    await bobs.close()
    assert not await SessionRecord.objects.filter(user=alice).aexists()


async def test_sessions_end_closes_the_ended_sessions_sockets_and_keeps_one(alice):
    keep, end = [await sync_to_async(signed_in_key)(alice) for _ in range(2)]
    kept, ended = Socket(alice, session_key=keep), Socket(alice, session_key=end)
    assert (await kept.connect())[0] and (await ended.connect())[0]
    count = await sync_to_async(services.sessions_end)(user=alice, keep=keep)
    assert count == 1
    assert await ended.close_code() == 4401
    assert await kept.nothing(timeout=0.5)
    await kept.close()


async def test_signing_out_one_session_on_the_page_closes_its_socket(alice):
    laptop, phone = Client(), Client()
    await sync_to_async(laptop.force_login)(alice)
    await sync_to_async(phone.force_login)(alice)
    on_laptop = Socket(alice, session_key=laptop.cookies["sessionid"].value)
    on_phone = Socket(alice, session_key=phone.cookies["sessionid"].value)
    assert (await on_laptop.connect())[0] and (await on_phone.connect())[0]
    phone_id = await SessionRecord.objects.values_list("pk", flat=True).aget(
        session_id=phone.cookies["sessionid"].value
    )
    response = await sync_to_async(laptop.post)(f"/accounts/sessions/{phone_id}/end/")
    assert response.status_code == 302
    assert await on_phone.close_code() == 4401
    assert await on_laptop.nothing(timeout=0.5)
    await on_laptop.close()


async def test_signing_out_one_session_over_the_api_closes_its_socket(alice):
    api = await sync_to_async(ApiClient)(alice)
    phone = Client()
    await sync_to_async(phone.force_login)(alice)
    on_phone = Socket(alice, session_key=phone.cookies["sessionid"].value)
    assert (await on_phone.connect())[0]
    phone_id = await SessionRecord.objects.values_list("pk", flat=True).aget(
        session_id=phone.cookies["sessionid"].value
    )
    response = await sync_to_async(api.delete)(f"/api/me/sessions/{phone_id}/")
    assert response.status_code == 204
    assert await on_phone.close_code() == 4401
