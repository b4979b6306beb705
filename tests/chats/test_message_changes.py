"""Edit, delete for everyone, react and reply (chats/message_changes.py, the send path's
reply_to): every rule and refusal, on whichever backend the run uses."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from chats import message_changes, moderation, rules, selectors, services
from chats.models import Block, Chat, Message, MessageEdit, Reaction, Report
from chats.validation import Refused, clean_emoji
from tests.chats.test_services import run_threads
from tests.factories import UserFactory, make_chat, make_messages

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_send_limit")]


def edit(user, chat, seq=1, body="fixed"):
    return message_changes.message_edit(user=user, chat_id=chat.pk, seq=seq, body=body)


def delete(user, chat, seq=1):
    return message_changes.message_delete(user=user, chat_id=chat.pk, seq=seq)


def react(user, chat, seq=1, emoji="👍", on=True):
    return message_changes.message_react(user=user, chat_id=chat.pk, seq=seq, emoji=emoji, on=on)


def state(chat, seq=1):
    (payload,) = selectors.message_payloads([selectors.message_get(chat_id=chat.pk, seq=seq)])
    return payload


def refused(code, action, *args, **kwargs):
    """Run an action that must be refused with `code` and change nothing."""
    chat = args[1]
    before = Chat.objects.get(pk=chat.pk).version
    rows = list(Message.objects.filter(chat=chat).values()), Reaction.objects.count()
    with pytest.raises(Refused) as info:
        action(*args, **kwargs)
    assert info.value.code == code
    assert Chat.objects.get(pk=chat.pk).version == before
    assert (list(Message.objects.filter(chat=chat).values()), Reaction.objects.count()) == rows


@pytest.fixture
def chat(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 1)  # seq 1, alice's
    make_messages(chat, bob, 1)  # seq 2, bob's
    return chat


class TestEdit:
    def test_edit_takes_the_next_version_and_keeps_the_old_text(self, alice, chat):
        change = edit(alice, chat, body="  fixed  ".strip())
        assert change.changed and change.message.version == 3
        payload = state(chat)
        assert payload["body"] == "fixed" and payload["version"] == 3
        assert payload["edited_at"] is not None and payload["edited_at"].endswith("Z")
        assert list(MessageEdit.objects.values_list("body", flat=True)) == ["message 0"]

    def test_edit_to_the_same_text_changes_nothing(self, alice, chat):
        change = edit(alice, chat, body="message 0")
        assert not change.changed
        assert state(chat)["edited_at"] is None and Chat.objects.get(pk=chat.pk).version == 2
        assert not MessageEdit.objects.exists()

    def test_only_the_author_edits(self, bob, chat):
        refused("forbidden", edit, bob, chat, seq=1)

    def test_edit_window_over_is_forbidden_and_zero_means_no_limit(self, alice, chat, settings):
        Message.objects.filter(chat=chat, seq=1).update(
            created_at=timezone.now() - timedelta(hours=25)
        )
        refused("forbidden", edit, alice, chat)
        settings.MESSAGE_EDIT_WINDOW = 0
        assert edit(alice, chat).changed

    def test_deleted_or_removed_messages_are_gone(self, alice, bob, chat):
        delete(alice, chat)
        refused("gone", edit, alice, chat)
        moderator = UserFactory(username="mod", is_staff=True)
        message = Message.objects.get(chat=chat, seq=2)
        moderation.message_remove(message=message, moderator=moderator, reason="spam")
        refused("gone", edit, bob, chat, seq=2)

    def test_missing_message_foreign_chat_and_non_member_are_not_found(
        self, alice, bob, carol, chat
    ):
        refused("not_found", edit, alice, chat, seq=9)
        refused("not_found", edit, carol, chat, seq=1)

    def test_blocked_like_a_send(self, alice, bob, chat):
        Block.objects.create(blocker=bob, blocked=alice)
        refused("blocked", edit, alice, chat)

    def test_the_rate_limit_is_the_edges_not_the_services(self, alice, bob, chat, settings):
        # As for a send: the API and the socket count the send rate before calling in.
        settings.SEND_RATE = (0, 60)
        assert edit(alice, chat).changed
        assert react(bob, chat).changed
        assert delete(alice, chat).changed


class TestDelete:
    def test_delete_erases_the_text_history_and_reactions_and_keeps_the_seq(self, alice, bob, chat):
        edit(alice, chat, body="second")
        react(bob, chat)
        change = delete(alice, chat)
        assert change.changed
        row = Message.objects.get(chat=chat, seq=1)
        assert row.body == "" and row.deleted_at is not None and row.version == 5
        assert not MessageEdit.objects.exists() and not Reaction.objects.exists()
        payload = state(chat)
        assert (payload["deleted"], payload["body"], payload["reactions"]) == (True, "", {})
        refused("gone", delete, alice, chat)

    def test_reports_keep_their_copy_of_the_reported_text(self, alice, bob, chat):
        report = moderation.report_create(reporter=bob, chat_id=chat.pk, seq=1, reason="rude")
        edit(alice, chat, body="harmless now")
        delete(alice, chat)
        assert Report.objects.get(pk=report.pk).body == "message 0"

    def test_only_the_author_deletes(self, bob, chat):
        refused("forbidden", delete, bob, chat, seq=1)


class TestReact:
    def test_reactions_toggle_and_list_usernames_in_order(self, alice, bob, chat):
        assert react(bob, chat).changed
        assert react(alice, chat).changed
        assert react(alice, chat, emoji="🎉").changed
        assert not react(alice, chat).changed  # already on: nothing changes
        assert state(chat)["reactions"] == {"👍": ["bob", "alice"], "🎉": ["alice"]}
        assert react(bob, chat, on=False).changed
        assert not react(bob, chat, on=False).changed
        assert state(chat)["reactions"] == {"👍": ["alice"], "🎉": ["alice"]}
        assert Chat.objects.get(pk=chat.pk).version == 2 + 4

    def test_at_most_20_distinct_emoji(self, alice, bob, chat):
        faces = [chr(0x1F600 + i) for i in range(20)]
        for face in faces:
            react(alice, chat, emoji=face)
        refused("invalid", react, bob, chat, emoji="🎉")
        assert react(bob, chat, emoji=faces[0]).changed  # an emoji already there is fine

    def test_reacting_to_a_deleted_message_is_gone(self, alice, bob, chat):
        delete(alice, chat)
        refused("gone", react, bob, chat)

    @pytest.mark.parametrize("value", ["a", "👍👍", ":thumbs_up:", "", " 👍", 5, None])
    def test_not_a_single_emoji_is_invalid(self, value):
        with pytest.raises(Refused) as info:
            clean_emoji(value)
        assert info.value.code == "invalid"

    @pytest.mark.parametrize("value", ["👍", "👍🏽", "❤️", "👩‍👩‍👧"])
    def test_single_emoji_with_modifiers_are_accepted(self, value):
        assert clean_emoji(value) == value


class TestReply:
    def send(self, user, chat, reply_to, body="answer"):
        return services.message_send(
            sender=user, chat_id=chat.pk, client_id=str(uuid.uuid4()), body=body, reply_to=reply_to
        )

    def test_reply_quotes_the_original_and_follows_its_edits(self, alice, bob, chat):
        message, created = self.send(bob, chat, reply_to=1)
        assert created and message.reply_to_id == Message.objects.get(chat=chat, seq=1).pk
        quote = {"seq": 1, "sender": "alice", "body": "message 0", "deleted": False}
        assert selectors.message_payload(message)["reply_to"] == quote
        edit(alice, chat, body="x" * 300)
        assert state(chat, 3)["reply_to"]["body"] == "x" * 200
        delete(alice, chat)
        assert state(chat, 3)["reply_to"] == {
            "seq": 1,
            "sender": "alice",
            "body": "",
            "deleted": True,
        }

    def test_reply_to_a_seq_not_in_the_chat_is_invalid(self, alice, bob, carol, chat):
        with pytest.raises(Refused) as info:
            self.send(bob, chat, reply_to=9)
        assert info.value.code == "invalid"
        other = make_chat(alice, carol)
        make_messages(other, carol, 5)
        with pytest.raises(Refused) as info:
            self.send(alice, chat, reply_to=5)
        assert info.value.code == "invalid"
        assert Message.objects.filter(chat=chat).count() == 2

    def test_reply_to_a_deleted_message_is_gone(self, alice, bob, chat):
        delete(alice, chat)
        with pytest.raises(Refused) as info:
            self.send(bob, chat, reply_to=1)
        assert info.value.code == "gone"

    def test_a_resend_of_a_stored_reply_is_acked_after_its_target_is_deleted(
        self, alice, bob, chat
    ):
        sent = dict(sender=bob, chat_id=chat.pk, client_id="re-1", body="answer", reply_to=1)
        first, created = services.message_send(**sent)
        delete(alice, chat)
        again, created_again = services.message_send(**sent)
        assert created and not created_again and again.pk == first.pk

    def test_a_refused_reply_refuses_its_repeat_and_keeps_the_rest_of_the_batch(
        self, alice, bob, chat
    ):
        sends = [
            services.Send(0, chat.pk, "r", "bad reply", reply_to=9),
            services.Send(1, chat.pk, "ok", "plain"),
            services.Send(2, chat.pk, "r", "bad reply", reply_to=9),
            services.Send(3, chat.pk, "good", "good reply", reply_to=2),
        ]
        results = services.message_send_batch(sender=bob, sends=sends)
        assert [getattr(results[i], "code", None) for i in range(4)] == [
            "invalid",
            None,
            "invalid",
            None,
        ]
        stored = Message.objects.filter(chat=chat, seq__gt=2).order_by("seq")
        assert [(m.client_id, m.seq, m.reply_to_id is not None) for m in stored] == [
            ("ok", 3, False),
            ("good", 4, True),
        ]


def test_every_change_takes_its_version_through_the_one_rule(alice, bob, chat, monkeypatch):
    """Members' changes and the moderator's removal share rules.message_version_take."""
    taken = []
    real = rules.message_version_take

    def spy(*, message):
        taken.append(message.seq)
        return real(message=message)

    monkeypatch.setattr(rules, "message_version_take", spy)
    edit(alice, chat)
    react(alice, chat, seq=2)
    delete(alice, chat)
    moderator = UserFactory(username="mod", is_staff=True)
    message = Message.objects.get(chat=chat, seq=2)
    moderation.message_remove(message=message, moderator=moderator, reason="spam")
    assert taken == [1, 2, 1, 2]


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_take_distinct_versions(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 1)
    faces = [chr(0x1F600 + i) for i in range(6)]

    def work(i):
        user = alice if i % 2 else bob
        if i == 0:
            return edit(alice, chat, body="edited concurrently")
        return react(user, chat, emoji=faces[i])

    changes = run_threads(6, work)
    versions = sorted(c.message.version for c in changes)
    assert versions == list(range(2, 8))
    assert Chat.objects.get(pk=chat.pk).version == 7
    assert Message.objects.get(chat=chat).version == 7
    assert len(state(chat)["reactions"]) == 5


def test_admin_shows_moderators_the_earlier_texts_beside_the_message(admin_client, alice, chat):
    edit(alice, chat, body="second")
    edit(alice, chat, body="third")
    message = Message.objects.get(chat=chat, seq=1)
    page = admin_client.get(f"/admin/chats/message/{message.pk}/change/").content.decode()
    assert page.index("message 0") < page.index("second") and "third" in page


def test_history_reads_replies_and_reactions_in_two_queries(
    alice, bob, chat, django_assert_num_queries
):
    for _ in range(3):
        services.message_send(
            sender=bob, chat_id=chat.pk, client_id=str(uuid.uuid4()), body="re", reply_to=1
        )
    react(alice, chat, seq=3)
    react(bob, chat, seq=4, emoji="🎉")
    with django_assert_num_queries(2):
        messages, _more = selectors.messages_before(chat_id=chat.pk)
        payloads = selectors.message_payloads(messages)
    assert [p["reply_to"]["seq"] if p["reply_to"] else None for p in payloads] == [
        None,
        None,
        1,
        1,
        1,
    ]
    assert payloads[2]["reactions"] == {"👍": ["alice"]}
