"""The moderation admin: users, chats, messages, the reports queue and the audit log."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.forms import MultiWidget
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from chats import moderation, services
from chats.management.commands.seed_demo import MODERATOR_PERMISSIONS
from chats.models import Message, ModerationLog, Report
from tests.factories import UserFactory, make_chat, make_exchange, message_at

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"
CHATS = "/admin/chats/chat/"
MESSAGES = "/admin/chats/message/"
REPORTS = "/admin/chats/report/"
LOG = "/admin/chats/moderationlog/"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def moderator(db):
    """A staff member with the Moderators group's permissions (as seed_demo sets them up)."""
    user = UserFactory(username="mod", is_staff=True)
    group = Group.objects.create(name="Moderators")
    group.permissions.add(
        *[
            Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in MODERATOR_PERMISSIONS
        ]
    )
    user.groups.add(group)
    return user


@pytest.fixture
def mod_client(moderator):
    client = Client()
    client.force_login(moderator)
    return client


@pytest.fixture
def chat(alice, bob):
    return make_exchange(alice, bob, "hello bob", "buy cheap pills")


def run_action(client, url, action, pks, **extra):
    """Choose an admin action on the change list, as the action bar submits it."""
    data = {"action": action, "_selected_action": [str(pk) for pk in pks], "index": "0"}
    return client.post(url, {**data, **extra})


def confirm_action(client, url, action, pks, reason=""):
    """Submit the reason page that a moderation action shows first."""
    data = {
        "action": action,
        "_selected_action": [str(pk) for pk in pks],
        "apply": "yes",
        "reason": reason,
    }
    return client.post(url, data, follow=True)


def listed(response) -> list:
    return list(response.context["cl"].result_list)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# Users.


class TestUserAdmin:
    def test_search_by_username(self, mod_client, alice, bob):
        response = mod_client.get(USERS, {"q": "ali"})
        assert listed(response) == [alice]

    def test_filters_active_and_staff_and_date_joined(self, mod_client, moderator, alice, bob):
        User.objects.filter(pk=bob.pk).update(
            is_active=False, date_joined=timezone.now() - datetime.timedelta(days=400)
        )
        assert listed(mod_client.get(USERS, {"is_active__exact": "0"})) == [bob]
        assert listed(mod_client.get(USERS, {"is_staff__exact": "1"})) == [moderator]
        since = (timezone.now() - datetime.timedelta(days=7)).isoformat()
        recent = listed(mod_client.get(USERS, {"date_joined__gte": since}))
        assert bob not in recent
        assert alice in recent

    def test_deactivate_action_asks_for_a_reason_then_deactivates(self, mod_client, bob):
        page = run_action(mod_client, USERS, "deactivate_users", [bob.pk])
        assert page.status_code == 200
        assert "Reason (optional)" in page.content.decode()
        assert User.objects.get(pk=bob.pk).is_active

        response = confirm_action(mod_client, USERS, "deactivate_users", [bob.pk], "spam")
        assert not User.objects.get(pk=bob.pk).is_active
        assert "Deactivate users: 1 done." in messages_of(response)
        entry = ModerationLog.objects.get()
        assert (entry.action, entry.target_user, entry.reason) == ("user_deactivated", bob, "spam")

    def test_deactivate_action_reports_refusals(self, mod_client, moderator):
        other_staff = UserFactory(username="staffer", is_staff=True)
        response = confirm_action(
            mod_client, USERS, "deactivate_users", [moderator.pk, other_staff.pk]
        )
        text = " ".join(messages_of(response))
        assert "You cannot deactivate your own account." in text
        assert "Only a superuser can deactivate a staff account." in text
        assert User.objects.filter(is_active=True, is_staff=True).count() == 2
        assert not ModerationLog.objects.exists()

    def test_unticking_active_on_the_form_is_a_logged_deactivation(self, admin_client, bob):
        url = f"{USERS}{bob.pk}/change/"
        data = form_data(admin_client.get(url).context["adminform"].form)
        data["is_active"] = ""
        data["first_name"] = "Robert"
        response = admin_client.post(url, data)
        assert response.status_code == 302, response.context["adminform"].form.errors
        bob.refresh_from_db()
        assert (bob.is_active, bob.first_name) == (False, "Robert")
        assert ModerationLog.objects.get().action == "user_deactivated"

        data["is_active"] = "on"
        admin_client.post(url, data)
        assert User.objects.get(pk=bob.pk).is_active
        assert ModerationLog.objects.latest("id").action == "user_reactivated"

    def test_reactivate_action(self, mod_client, bob, moderator):
        moderation.user_deactivate(user=bob, moderator=moderator)
        confirm_action(mod_client, USERS, "reactivate_users", [bob.pk])
        assert User.objects.get(pk=bob.pk).is_active


def form_data(form) -> dict:
    """The POST data that submitting `form` unchanged would send."""
    data: dict = {}
    for field in form:
        if field.field.disabled:
            continue
        value = field.value()
        widget = field.field.widget
        if isinstance(widget, MultiWidget):
            for i, part in enumerate(widget.decompress(value)):
                data[f"{field.html_name}_{i}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[field.html_name] = "on"
        elif isinstance(value, list):
            data[field.html_name] = [str(v) for v in value]
        else:
            data[field.html_name] = "" if value is None else str(value)
    return data


# Chats.


class TestChatAdmin:
    def test_shows_members_message_count_and_last_activity(self, mod_client, chat):
        html = mod_client.get(CHATS).content.decode()
        assert "alice ↔ bob" in html
        assert f'<a href="{MESSAGES}?chat={chat.pk}">2</a>' in html
        assert listed(mod_client.get(CHATS, {"q": "bob"})) == [chat]

    def test_change_list_queries_do_not_grow_with_rows(
        self, mod_client, chat, django_assert_num_queries
    ):
        with CaptureQueriesContext(connection) as one_chat:
            mod_client.get(CHATS)
        for i in range(10):
            make_chat(UserFactory(username=f"a{i}"), UserFactory(username=f"b{i}"))
        with django_assert_num_queries(len(one_chat)):
            response = mod_client.get(CHATS)
        assert len(listed(response)) == 11

    def test_chat_page_lists_members_read_only(self, mod_client, chat):
        html = mod_client.get(f"{CHATS}{chat.pk}/change/").content.decode()
        assert "alice" in html and "bob" in html
        assert 'name="memberships-0-read_seq"' not in html

    def test_no_adding_or_deleting(self, admin_client, chat):
        assert admin_client.get(f"{CHATS}add/").status_code == 403
        assert admin_client.get(f"{CHATS}{chat.pk}/delete/").status_code == 403


# Messages.


class TestMessageAdmin:
    def test_search_by_body_and_by_sender(self, mod_client, chat):
        assert listed(mod_client.get(MESSAGES, {"q": "pills"})) == [message_at(chat, 2)]
        assert listed(mod_client.get(MESSAGES, {"q": "alice"})) == [message_at(chat, 1)]

    def test_filter_by_chat_and_date(self, mod_client, chat, carol, alice):
        other = make_chat(alice, carol)
        services.message_send(sender=carol, chat_id=other.pk, client_id="c1", body="hi")
        assert set(listed(mod_client.get(MESSAGES, {"chat": str(chat.pk)}))) == {
            message_at(chat, 1),
            message_at(chat, 2),
        }
        Message.objects.filter(pk=message_at(chat, 1).pk).update(
            created_at=timezone.now() - datetime.timedelta(days=30)
        )
        since = (timezone.now() - datetime.timedelta(days=7)).isoformat()
        recent = listed(mod_client.get(MESSAGES, {"created_at__gte": since}))
        assert message_at(chat, 1) not in recent
        assert message_at(chat, 2) in recent

    def test_bad_chat_filter_is_explained_not_a_crash(self, mod_client, chat):
        response = mod_client.get(MESSAGES, {"chat": "abc"})
        assert response.status_code == 200
        assert listed(response) == []
        assert any("needs a chat id" in m for m in messages_of(response))

    def test_body_is_read_only(self, mod_client, chat):
        url = f"{MESSAGES}{message_at(chat, 2).pk}/change/"
        html = mod_client.get(url).content.decode()
        assert "buy cheap pills" in html
        assert 'name="body"' not in html
        mod_client.post(url, {"body": "edited"})
        assert message_at(chat, 2).body == "buy cheap pills"

    def test_remove_action_requires_a_reason(self, mod_client, chat):
        page = run_action(mod_client, MESSAGES, "remove_messages", [message_at(chat, 2).pk])
        assert page.status_code == 200
        assert "buy cheap pills" in page.content.decode()
        again = confirm_action(
            mod_client, MESSAGES, "remove_messages", [message_at(chat, 2).pk], "  "
        )
        assert "This field is required." in again.content.decode()
        assert message_at(chat, 2).removed_at is None

    def test_remove_action_records_moderator_and_reason(self, mod_client, moderator, chat):
        response = confirm_action(
            mod_client, MESSAGES, "remove_messages", [message_at(chat, 2).pk], "spam link"
        )
        assert "Remove messages: 1 done." in messages_of(response)
        removed = message_at(chat, 2)
        assert (removed.removed_by, removed.removed_reason) == (moderator, "spam link")
        assert removed.removed_at is not None
        assert ModerationLog.objects.get().message == removed

    def test_original_text_stays_visible_to_moderators_only(self, mod_client, chat, alice):
        moderation.message_remove(
            message=message_at(chat, 2), moderator=User.objects.get(username="mod"), reason="spam"
        )
        assert (
            "buy cheap pills"
            in mod_client.get(f"{MESSAGES}{message_at(chat, 2).pk}/change/").content.decode()
        )
        assert listed(mod_client.get(MESSAGES, {"removed": "yes"})) == [message_at(chat, 2)]
        member = Client()
        member.force_login(alice)
        assert "buy cheap pills" not in member.get(f"/chats/{chat.pk}/").content.decode()
        assert member.get(f"{MESSAGES}{message_at(chat, 2).pk}/change/").status_code == 302

    def test_staff_without_moderator_permissions_sees_nothing(self, chat):
        staff = Client()
        staff.force_login(UserFactory(username="intern", is_staff=True))
        assert staff.get(MESSAGES).status_code == 403
        assert staff.get(f"{MESSAGES}{message_at(chat, 2).pk}/change/").status_code == 403

    def test_messages_cannot_be_added_or_hard_deleted(self, admin_client, chat):
        assert admin_client.get(f"{MESSAGES}add/").status_code == 403
        assert admin_client.get(f"{MESSAGES}{message_at(chat, 2).pk}/delete/").status_code == 403
        actions = admin_client.get(MESSAGES).context["action_form"].fields["action"].choices
        assert [name for name, _label in actions if name] == ["remove_messages"]


# Reports queue.


class TestReportAdmin:
    @pytest.fixture
    def report(self, chat, alice):
        return moderation.report_create(reporter=alice, chat_id=chat.pk, seq=2, reason="spam")

    def test_open_and_closed_filters(self, mod_client, report, chat, bob, moderator):
        moderation.report_create(reporter=bob, chat_id=chat.pk, seq=1)
        closed = Report.objects.get(reporter=bob)
        moderation.report_dismiss(report=closed, moderator=moderator)
        assert listed(mod_client.get(REPORTS, {"state": "open"})) == [report]
        assert listed(mod_client.get(REPORTS, {"state": "closed"})) == [closed]
        assert listed(mod_client.get(REPORTS, {"state": "all", "status__exact": "dismissed"})) == [
            closed
        ]
        # The queue opens on the open reports; "All" lists every one.
        assert listed(mod_client.get(REPORTS)) == [report]
        assert set(listed(mod_client.get(REPORTS, {"state": "all"}))) == {report, closed}

    def test_admin_pages_use_the_sites_favicon_and_stylesheet(self, mod_client, report):
        html = mod_client.get(REPORTS).content.decode()
        assert 'rel="icon" href="/static/img/favicon.svg"' in html
        assert "/static/css/admin.css" in html

    def test_queue_shows_reporter_sender_and_original_text(self, mod_client, report):
        html = mod_client.get(REPORTS).content.decode()
        assert "buy cheap pills" in html
        assert "alice" in html and "bob" in html

    def test_change_list_queries_do_not_grow_with_rows(
        self, mod_client, report, django_assert_num_queries
    ):
        with CaptureQueriesContext(connection) as one:
            mod_client.get(REPORTS)
        for i in range(5):
            a, b = UserFactory(username=f"a{i}"), UserFactory(username=f"b{i}")
            c = make_chat(a, b)
            services.message_send(sender=b, chat_id=c.pk, client_id=f"x{i}", body="bad")
            moderation.report_create(reporter=a, chat_id=c.pk, seq=1)
        with django_assert_num_queries(len(one)):
            assert len(listed(mod_client.get(REPORTS))) == 6

    def test_remove_message_action(self, mod_client, report):
        response = confirm_action(
            mod_client, REPORTS, "remove_reported_messages", [report.pk], "spam"
        )
        assert "Remove messages: 1 done." in messages_of(response)
        report.refresh_from_db()
        assert report.status == "resolved"
        assert report.message.removed_at is not None

    def test_deactivate_sender_action(self, mod_client, report, bob):
        run_action(mod_client, REPORTS, "deactivate_senders", [report.pk])
        confirm_action(mod_client, REPORTS, "deactivate_senders", [report.pk], "repeat spammer")
        assert not User.objects.get(pk=bob.pk).is_active
        report.refresh_from_db()
        assert (report.status, report.resolution) == ("resolved", "sender_deactivated")

    def test_dismiss_action(self, mod_client, report):
        confirm_action(mod_client, REPORTS, "dismiss_reports", [report.pk])
        report.refresh_from_db()
        assert report.status == "dismissed"
        assert report.message.removed_at is None

    def test_deactivating_needs_the_user_permission(self, report, bob):
        reviewer = UserFactory(username="reviewer", is_staff=True)
        reviewer.user_permissions.add(
            *Permission.objects.filter(codename__in=["view_report", "change_report"])
        )
        client = Client()
        client.force_login(reviewer)
        response = confirm_action(client, REPORTS, "deactivate_senders", [report.pk])
        assert any("permission to deactivate" in m for m in messages_of(response))
        assert User.objects.get(pk=bob.pk).is_active

    def test_too_many_selected_is_refused_with_a_message(self, mod_client, report, monkeypatch):
        from chats import admin_actions

        monkeypatch.setattr(admin_actions, "MAX_SELECTED", 0)
        response = confirm_action(mod_client, REPORTS, "dismiss_reports", [report.pk])
        assert any("Select at most 0" in m for m in messages_of(response))
        assert Report.objects.get().status == "open"


# Audit log.


class TestModerationLogAdmin:
    def test_every_action_is_listed(self, mod_client, moderator, chat, alice, bob):
        report = moderation.report_create(reporter=alice, chat_id=chat.pk, seq=2)
        moderation.report_remove_message(report=report, moderator=moderator, reason="spam")
        moderation.user_deactivate(user=bob, moderator=moderator, reason="spammer")
        response = mod_client.get(LOG)
        assert [e.action for e in listed(response)] == ["user_deactivated", "message_removed"]
        html = response.content.decode()
        assert "spammer" in html and f"report {report.pk}" in html
        assert listed(mod_client.get(LOG, {"action__exact": "message_removed"}))[0].reason == "spam"

    def test_log_is_read_only(self, admin_client, moderator, bob):
        moderation.user_deactivate(user=bob, moderator=moderator)
        entry = ModerationLog.objects.get()
        assert admin_client.get(f"{LOG}add/").status_code == 403
        assert admin_client.get(f"{LOG}{entry.pk}/delete/").status_code == 403
        admin_client.post(f"{LOG}{entry.pk}/change/", {"reason": "rewritten"})
        assert ModerationLog.objects.get().reason == ""


@pytest.mark.parametrize("url", [USERS, CHATS, MESSAGES, REPORTS, LOG])
def test_change_lists_survive_facets_and_odd_parameters(mod_client, chat, url):
    response = mod_client.get(url, {"_facets": "True", "chat": "1", "state": "bogus", "q": "%"})
    assert response.status_code in (200, 302)
