"""Reports by members, and the moderation services behind the admin: rules, audit log,
history and live effects (both members see a removal; a deactivated user's sockets close)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from accounts.models import User
from chats import events, moderation, selectors
from chats.models import Message, ModerationLog, Report
from chats.validation import Refused
from tests.chats.conftest import Socket
from tests.factories import (
    PASSWORD,
    UserFactory,
    make_chat,
    make_exchange,
    make_messages,
    message_at,
)
from tests.support.sessions import logged_in, login_session

REMOVED_TEXT = "Message removed by a moderator"


def report_url(chat, seq) -> str:
    return f"/chats/{chat.pk}/messages/{seq}/report/"


@pytest.fixture
def moderator(db):
    return UserFactory(username="mod", is_staff=True)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def chat(alice, bob):
    return make_exchange(alice, bob, "hello bob", "rude words")


# Reports: the HTTP endpoint and its rules.


@pytest.mark.django_db
class TestReportEndpoint:
    def test_member_reports_the_other_members_message(self, chat, alice, bob):
        client = logged_in(alice)
        response = client.post(report_url(chat, 2), {"reason": "  rude  "})
        assert response.status_code == 302
        assert response.url == f"/chats/{chat.pk}/"
        report = Report.objects.get()
        assert (report.message, report.reporter) == (message_at(chat, 2), alice)
        assert report.reason == "rude"
        assert report.status == Report.Status.OPEN
        page = client.get(response.url).content.decode()
        assert "A moderator will look at this message." in page

    def test_reason_is_optional(self, chat, alice):
        assert logged_in(alice).post(report_url(chat, 2)).status_code == 302
        assert Report.objects.get().reason == ""

    def test_htmx_request_gets_the_result_partial(self, chat, alice):
        response = logged_in(alice).post(report_url(chat, 2), HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html = response.content.decode()
        assert 'role="status"' in html
        assert "A moderator will look at this message." in html
        assert "<html" not in html

    def test_cannot_report_own_message(self, chat, alice):
        response = logged_in(alice).post(report_url(chat, 1), HTTP_HX_REQUEST="true")
        html = response.content.decode()
        assert 'role="alert"' in html
        assert "You cannot report your own messages." in html
        assert not Report.objects.exists()

    def test_cannot_report_the_same_message_twice(self, chat, alice):
        client = logged_in(alice)
        client.post(report_url(chat, 2), {"reason": "spam"})
        response = client.post(report_url(chat, 2), {"reason": "again"}, follow=True)
        assert "You have already reported this message." in response.content.decode()
        assert Report.objects.count() == 1
        assert Report.objects.get().reason == "spam"

    def test_database_allows_one_report_per_message_and_reporter(self, chat, alice):
        Report.objects.create(message=message_at(chat, 2), reporter=alice)
        with pytest.raises(IntegrityError), transaction.atomic():
            Report.objects.create(message=message_at(chat, 2), reporter=alice)

    @pytest.mark.parametrize("path", ["foreign", "missing_seq", "missing_chat"])
    def test_non_member_or_missing_message_is_404(self, chat, carol, alice, path):
        user, url = {
            "foreign": (carol, report_url(chat, 2)),
            "missing_seq": (alice, report_url(chat, 99)),
            "missing_chat": (alice, f"/chats/{chat.pk + 1000}/messages/1/report/"),
        }[path]
        assert logged_in(user).post(url).status_code == 404
        assert not Report.objects.exists()

    def test_too_long_reason_is_refused(self, chat, alice):
        response = logged_in(alice).post(
            report_url(chat, 2), {"reason": "x" * 501}, HTTP_HX_REQUEST="true"
        )
        assert "at most 500 characters" in response.content.decode()
        assert not Report.objects.exists()

    def test_removed_message_cannot_be_reported(self, chat, alice, moderator):
        moderation.message_remove(message=message_at(chat, 2), moderator=moderator, reason="x")
        response = logged_in(alice).post(report_url(chat, 2), HTTP_HX_REQUEST="true")
        assert "already removed" in response.content.decode()
        assert not Report.objects.exists()

    def test_get_is_not_allowed_and_anonymous_is_sent_to_login(self, chat, alice):
        assert logged_in(alice).get(report_url(chat, 2)).status_code == 405
        response = Client().post(report_url(chat, 2))
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")
        assert not Report.objects.exists()

    def test_reports_are_rate_limited(self, alice, bob, monkeypatch):
        monkeypatch.setattr(moderation, "REPORT_RATE", (2, 3600))
        chat = make_chat(alice, bob)
        make_messages(chat, bob, 3)
        client = logged_in(alice)
        for seq in (1, 2):
            client.post(report_url(chat, seq))
        response = client.post(report_url(chat, 3), HTTP_HX_REQUEST="true")
        assert "try again later" in response.content.decode()
        assert Report.objects.count() == 2


@pytest.mark.django_db
class TestReportTemplate:
    def render(self, user, chat, message):
        request = RequestFactory().get("/")
        request.user = user
        return render_to_string(
            "chats/_report.html", {"chat": chat, "m": message, "user": user}, request=request
        )

    def test_form_posts_to_the_message_report_url(self, chat, alice):
        html = self.render(alice, chat, message_at(chat, 2))
        assert f'action="{report_url(chat, 2)}"' in html
        assert f'hx-post="{report_url(chat, 2)}"' in html
        assert 'name="reason"' in html
        assert "csrfmiddlewaretoken" in html

    def test_no_form_for_own_or_removed_messages(self, chat, alice, moderator):
        assert "<form" not in self.render(alice, chat, message_at(chat, 1))
        moderation.message_remove(message=message_at(chat, 2), moderator=moderator, reason="x")
        assert "<form" not in self.render(alice, chat, message_at(chat, 2))


# Removing a message.


@pytest.mark.django_db
class TestMessageRemove:
    def test_soft_delete_records_moderator_reason_and_time(self, chat, moderator):
        message = message_at(chat, 2)
        assert moderation.message_remove(message=message, moderator=moderator, reason=" spam ")
        message.refresh_from_db()
        assert message.removed_at is not None
        assert message.removed_by == moderator
        assert message.removed_reason == "spam"
        assert message.body == "rude words"  # the original stays, for moderators

    def test_is_logged_and_resolves_open_reports(self, chat, alice, moderator):
        message = message_at(chat, 2)
        report = moderation.report_create(reporter=alice, chat_id=chat.pk, seq=2)
        moderation.message_remove(message=message, moderator=moderator, reason="spam")
        entry = ModerationLog.objects.get()
        assert entry.action == ModerationLog.Action.MESSAGE_REMOVED
        assert (entry.moderator, entry.message, entry.reason) == (moderator, message, "spam")
        assert entry.target_user_id == message.sender_id
        report.refresh_from_db()
        assert report.status == Report.Status.RESOLVED
        assert report.resolution == Report.Resolution.MESSAGE_REMOVED
        assert report.resolved_by == moderator
        assert report.resolved_at is not None

    def test_second_removal_changes_nothing(self, chat, moderator, superuser):
        message = message_at(chat, 2)
        moderation.message_remove(message=message, moderator=moderator, reason="first")
        assert not moderation.message_remove(
            message=message_at(chat, 2), moderator=superuser, reason="second"
        )
        message.refresh_from_db()
        assert (message.removed_by, message.removed_reason) == (moderator, "first")
        assert ModerationLog.objects.count() == 1

    @pytest.mark.parametrize(
        ("reason", "code"), [("", "empty"), ("   ", "empty"), ("x" * 501, "too_long")]
    )
    def test_needs_a_reason(self, chat, moderator, reason, code):
        with pytest.raises(Refused) as refused:
            moderation.message_remove(
                message=message_at(chat, 2), moderator=moderator, reason=reason
            )
        assert refused.value.code == code
        assert message_at(chat, 2).removed_at is None
        assert not ModerationLog.objects.exists()

    def test_both_members_see_the_placeholder_in_history(self, chat, alice, bob, moderator):
        moderation.message_remove(message=message_at(chat, 2), moderator=moderator, reason="x")
        for user in (alice, bob):
            html = logged_in(user).get(f"/chats/{chat.pk}/").content.decode()
            assert REMOVED_TEXT in html
            assert "rude words" not in html
            assert "hello bob" in html  # the other message is untouched
        payloads = [
            selectors.message_payload(m)
            for m in selectors.messages_after(chat_id=chat.pk, after=0)[0]
        ]
        assert payloads[1]["removed"] is True
        assert payloads[1]["body"] == ""
        assert payloads[0]["body"] == "hello bob"
        assert selectors.chat_summaries(user_id=alice.pk)[0].last_removed


@pytest.mark.django_db(transaction=True)
class TestLiveEffects:
    async def listen(self, user):
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(events.user_group(user.pk), channel)
        return layer, channel

    async def test_removal_reaches_both_members(self, alice, bob):
        moderator = await sync_to_async(UserFactory)(username="mod", is_staff=True)
        chat = await sync_to_async(make_chat)(alice, bob)
        [message] = await sync_to_async(make_messages)(chat, bob, 1)
        listeners = [await self.listen(alice), await self.listen(bob)]
        removed = await sync_to_async(moderation.message_remove)(
            message=message, moderator=moderator, reason="spam"
        )
        assert removed
        for layer, channel in listeners:
            # The change as a message in its current state (a new version), then the
            # frame of older clients.
            event = await layer.receive(channel)
            assert event["type"] == "chat.message"
            assert event["message"]["removed"] is True and event["message"]["body"] == ""
            assert (event["message"]["seq"], event["message"]["version"]) == (1, 2)
            event = await layer.receive(channel)
            assert event == {
                "type": "chat.message_removed",
                "chat": chat.pk,
                "seq": 1,
                "id": message.pk,
            }

    async def test_nothing_is_announced_when_the_removal_rolls_back(self, alice, bob):
        moderator = await sync_to_async(UserFactory)(username="mod", is_staff=True)
        chat = await sync_to_async(make_chat)(alice, bob)
        [message] = await sync_to_async(make_messages)(chat, bob, 1)
        layer, channel = await self.listen(alice)

        def remove_then_fail():
            with transaction.atomic():
                moderation.message_remove(message=message, moderator=moderator, reason="x")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await sync_to_async(remove_then_fail)()
        await sync_to_async(events.typing)(chat_id=chat.pk, user=bob, peer_id=alice.pk)
        # The first event to arrive is the later typing one: no removal was announced.
        assert (await layer.receive(channel))["type"] == "chat.typing"
        assert await sync_to_async(Message.objects.filter(removed_at__isnull=False).count)() == 0

    async def test_deactivation_closes_every_open_socket_at_once(self, socket, alice, bob):
        moderator = await sync_to_async(UserFactory)(username="mod", is_staff=True)
        await sync_to_async(make_chat)(alice, bob)
        tabs = [await socket(bob), await socket(bob)]
        other = await socket(alice)
        await sync_to_async(moderation.user_deactivate)(user=bob, moderator=moderator)
        for tab in tabs:
            assert await tab.close_code() == 4401
        assert await other.nothing()
        await other.close()

    async def test_deactivated_user_cannot_open_a_new_socket(self, alice):
        moderator = await sync_to_async(UserFactory)(username="mod", is_staff=True)
        key = await sync_to_async(login_session)(alice)
        await sync_to_async(moderation.user_deactivate)(user=alice, moderator=moderator)
        connected, code = await Socket(alice, session_key=key).connect()
        assert not connected
        assert code == 4401


# Deactivating users, and the reports queue actions.


@pytest.mark.django_db
class TestUserDeactivate:
    def test_deactivated_user_is_logged_out_and_cannot_log_in(self, bob, moderator):
        session = logged_in(bob)
        assert session.get("/chats/").status_code == 200
        assert moderation.user_deactivate(user=bob, moderator=moderator, reason="abuse")
        response = session.get("/chats/")
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")
        fresh = Client()
        login = fresh.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
        assert login.status_code == 200  # the form again, not a redirect into the site
        assert "_auth_user_id" not in fresh.session

    def test_nobody_can_start_a_chat_with_a_deactivated_user(self, alice, bob, moderator):
        moderation.user_deactivate(user=bob, moderator=moderator)
        response = logged_in(alice).post("/chats/start/", {"username": "bob"})
        assert response.status_code == 400
        assert "There is no active user named" in response.content.decode()

    def test_is_logged_once(self, bob, moderator):
        moderation.user_deactivate(user=bob, moderator=moderator, reason="abuse")
        assert not moderation.user_deactivate(user=bob, moderator=moderator, reason="again")
        entry = ModerationLog.objects.get()
        assert entry.action == ModerationLog.Action.USER_DEACTIVATED
        assert (entry.moderator, entry.target_user, entry.reason) == (moderator, bob, "abuse")

    def test_moderator_cannot_deactivate_themselves(self, moderator):
        with pytest.raises(Refused, match="your own account"):
            moderation.user_deactivate(user=moderator, moderator=moderator)
        moderator.refresh_from_db()
        assert moderator.is_active

    def test_only_a_superuser_deactivates_staff(self, moderator, superuser):
        other = UserFactory(username="mod2", is_staff=True)
        with pytest.raises(Refused, match="Only a superuser"):
            moderation.user_deactivate(user=other, moderator=moderator)
        assert User.objects.get(pk=other.pk).is_active
        assert moderation.user_deactivate(user=other, moderator=superuser)
        assert not User.objects.get(pk=other.pk).is_active

    def test_reactivation_is_logged(self, bob, moderator):
        moderation.user_deactivate(user=bob, moderator=moderator)
        assert moderation.user_reactivate(user=bob, moderator=moderator, reason="appeal")
        assert not moderation.user_reactivate(user=bob, moderator=moderator)
        assert User.objects.get(pk=bob.pk).is_active
        actions = list(ModerationLog.objects.order_by("id").values_list("action", flat=True))
        assert actions == ["user_deactivated", "user_reactivated"]


@pytest.mark.django_db
class TestReportActions:
    @pytest.fixture
    def report(self, chat, alice):
        return moderation.report_create(reporter=alice, chat_id=chat.pk, seq=2, reason="spam")

    def test_deactivate_sender_resolves_the_report(self, report, bob, moderator):
        assert moderation.report_deactivate_sender(report=report, moderator=moderator)
        assert not User.objects.get(pk=bob.pk).is_active
        report.refresh_from_db()
        assert report.status == Report.Status.RESOLVED
        assert report.resolution == Report.Resolution.SENDER_DEACTIVATED
        entry = ModerationLog.objects.get()
        assert (entry.action, entry.report, entry.target_user) == ("user_deactivated", report, bob)

    def test_remove_message_resolves_the_report(self, report, moderator):
        assert moderation.report_remove_message(report=report, moderator=moderator, reason="ok")
        report.refresh_from_db()
        assert report.status == Report.Status.RESOLVED
        assert report.message.removed_at is not None
        assert ModerationLog.objects.get().report == report

    def test_dismiss_closes_the_report_and_leaves_the_message(self, report, moderator):
        assert moderation.report_dismiss(report=report, moderator=moderator, reason="fine")
        assert not moderation.report_dismiss(report=report, moderator=moderator)
        report.refresh_from_db()
        assert (report.status, report.resolution) == ("dismissed", "dismissed")
        assert report.message.removed_at is None
        entry = ModerationLog.objects.get()
        assert (entry.action, entry.reason) == ("report_dismissed", "fine")

    def test_acting_on_a_report_whose_action_was_already_taken_closes_it(
        self, report, bob, moderator, superuser
    ):
        moderation.user_deactivate(user=bob, moderator=superuser)
        assert not moderation.report_deactivate_sender(report=report, moderator=moderator)
        report.refresh_from_db()
        assert report.status == Report.Status.RESOLVED
        assert report.resolved_by == moderator
        assert list(ModerationLog.objects.order_by("id").values_list("action", flat=True)) == [
            "user_deactivated",
            "report_resolved",
        ]
