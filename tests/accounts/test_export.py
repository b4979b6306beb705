"""/accounts/export/ and GET /api/me/export/: content, isolation, and streaming in bounded
memory."""

import json
import tracemalloc

import pytest
from django.utils import timezone

from accounts import export
from chats.models import Block, Chat, Message, Report
from tests.api.conftest import ApiClient
from tests.factories import PASSWORD, make_chat, make_exchange, make_messages
from tests.support.sessions import logged_in

pytestmark = pytest.mark.django_db


def read(response):
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/json"
    return json.loads(b"".join(response.streaming_content))


def test_the_page_needs_the_password_and_downloads_a_file(alice):
    client = logged_in(alice)
    assert 'name="password"' in client.get("/accounts/export/").content.decode()
    wrong = client.post("/accounts/export/", {"password": "nope"})
    assert wrong.status_code == 200 and wrong.context["form"].errors["password"]
    response = client.post("/accounts/export/", {"password": PASSWORD})
    assert response["Content-Disposition"].startswith('attachment; filename="chatsite-alice-')
    assert read(response)["profile"]["username"] == "alice"


def test_the_export_holds_profile_chats_both_sides_blocks_and_reports(alice, bob, carol):
    with_bob = make_exchange(alice, bob, "hi bob", "hi alice ✓")
    make_messages(with_bob, alice, 2)
    removed = Message.objects.get(chat=with_bob, seq=2)
    removed.removed_at = timezone.now()
    removed.save(update_fields=["removed_at"])
    Report.objects.create(message=removed, reporter=alice, reason="rude")
    Block.objects.create(blocker=alice, blocked=carol)
    Block.objects.create(blocker=carol, blocked=alice)  # theirs, not in alice's export
    make_exchange(bob, carol, "secret between bob and carol", "shh")

    data = read(ApiClient(alice).get("/api/me/export/"))
    assert data["format"] == "chatsite-export" and data["version"] == 3
    assert data["profile"] | {"date_joined": None} == {
        "id": alice.pk,
        "username": "alice",
        "date_joined": None,
        "last_seen": None,
        "hide_presence": False,
        "send_read_receipts": True,
        "two_factor": False,
    }
    [chat] = data["chats"]
    assert chat["peer"] == "bob" and chat["id"] == with_bob.pk and chat["last_seq"] == 4
    assert [(m["seq"], m["sender"], m["body"], m["removed"]) for m in chat["messages"]] == [
        (1, "alice", "hi bob", False),
        (2, "bob", "", True),
        (3, "alice", "message 0", False),
        (4, "alice", "message 1", False),
    ]
    assert all(m["sent_at"].endswith("Z") for m in chat["messages"])
    assert [b["username"] for b in data["blocks"]] == ["carol"]
    assert [(r["chat"], r["seq"], r["reason"], r["status"]) for r in data["reports"]] == [
        (with_bob.pk, 2, "rude", "open")
    ]
    text = json.dumps(data)
    assert "secret between bob and carol" not in text and "shh" not in text


def test_an_account_without_chats_exports_empty_lists(alice):
    data = read(ApiClient(alice).get("/api/me/export/"))
    assert data["chats"] == data["blocks"] == data["reports"] == []


def test_a_big_history_streams_in_bounded_memory(alice, bob):
    chat = make_chat(alice, bob)
    count = 100_000
    body = "x" * 100
    now = timezone.now()
    Message.objects.bulk_create(
        (
            Message(
                chat=chat,
                seq=seq,
                sender=alice if seq % 2 else bob,
                body=body,
                client_id=f"c{seq}",
                created_at=now,
            )
            for seq in range(1, count + 1)
        ),
        batch_size=5_000,
    )
    Chat.objects.filter(pk=chat.pk).update(last_seq=count)

    tracemalloc.start()
    try:
        total, chunks, seqs_seen = 0, 0, 0
        for piece in export.export_chunks(user=alice):
            total += len(piece)
            chunks += 1
            seqs_seen += piece.count(b'"seq": ')
            assert len(piece) < 2 * export.CHUNK_BYTES
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seqs_seen == count
    assert total > 15_000_000  # the document is over 15 MB ...
    assert peak < 5_000_000, peak  # ... and never more than a few pages of it in memory
    assert chunks > total // (2 * export.CHUNK_BYTES)


@pytest.mark.usefixtures("no_send_limit")
def test_edited_and_deleted_messages_export_as_they_are_now(alice, bob):
    from chats import message_changes

    chat = make_exchange(alice, bob, "hi bob", "hi alice")
    message_changes.message_edit(user=alice, chat_id=chat.pk, seq=1, body="hello bob")
    message_changes.message_edit(user=bob, chat_id=chat.pk, seq=2, body="secret")
    message_changes.message_delete(user=bob, chat_id=chat.pk, seq=2)
    [exported] = read(ApiClient(alice).get("/api/me/export/"))["chats"]
    got = [(m["body"], m["edited_at"] is not None, m["deleted"]) for m in exported["messages"]]
    assert got == [("hello bob", True, False), ("", False, True)]
    assert exported["messages"][0]["edited_at"].endswith("Z")


@pytest.mark.usefixtures("no_send_limit")
def test_replies_and_reactions_export_as_they_are_now(alice, bob):
    from chats import message_changes, services

    chat = make_exchange(alice, bob, "lunch?", "sure")
    services.message_send(sender=alice, chat_id=chat.pk, client_id="a2", body="12:30", reply_to=2)
    message_changes.message_react(user=bob, chat_id=chat.pk, seq=1, emoji="👍", on=True)
    message_changes.message_react(user=alice, chat_id=chat.pk, seq=1, emoji="👍", on=True)
    message_changes.message_react(user=alice, chat_id=chat.pk, seq=2, emoji="🎉", on=True)
    message_changes.message_delete(user=bob, chat_id=chat.pk, seq=2)  # takes its reactions
    [exported] = read(ApiClient(alice).get("/api/me/export/"))["chats"]
    got = [(m["seq"], m["reply_to"], m["reactions"]) for m in exported["messages"]]
    assert got == [(1, None, {"👍": ["bob", "alice"]}), (2, None, {}), (3, 2, {})]
