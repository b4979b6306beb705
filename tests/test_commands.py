"""Operator commands: seed_demo, seed_bulk, chat_stats, export_user."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Max, Min
from django.test import Client
from django.utils import timezone

from accounts.models import User
from chats import moderation, services
from chats.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS
from chats.models import Block, Chat, Membership, Message
from tests.factories import PASSWORD, UserFactory, make_chat

pytestmark = pytest.mark.django_db

COMMANDS = ["seed_demo", "seed_bulk", "chat_stats", "export_user"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*args, stdout=None) -> tuple[str, str]:
    out, err = stdout or io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exited:
        call_command(name, "--help")
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:")
    assert len(out.split("options:")[0]) > 80  # a description, not just the usage line


# seed_demo


class TestSeedDemo:
    @pytest.fixture(autouse=True)
    def _debug(self, settings):
        settings.DEBUG = True

    def test_creates_demo_users_and_conversations_and_prints_the_password(self):
        out, _err = run("seed_demo")
        assert f"Password: {DEMO_PASSWORD}" in out
        assert "Created 5 users, 3 chats, 9 messages." in out
        users = User.objects.filter(username__in=DEMO_USERS)
        assert users.count() == 5
        assert all(user.check_password(DEMO_PASSWORD) for user in users)
        assert Chat.objects.count() == 3
        assert Message.objects.count() == 9
        login = Client().post("/accounts/login/", {"username": "carol", "password": DEMO_PASSWORD})
        assert login.status_code == 302

    def test_is_idempotent(self):
        run("seed_demo")
        before = (User.objects.count(), Chat.objects.count(), Message.objects.count())
        out, _err = run("seed_demo")
        assert "Nothing new: the demo data was already there." in out
        assert f"Password: {DEMO_PASSWORD}" in out
        assert (User.objects.count(), Chat.objects.count(), Message.objects.count()) == before
        assert list(Chat.objects.values_list("last_seq", flat=True).order_by("id")) == [4, 3, 2]

    def test_keeps_an_existing_users_password_and_says_so(self):
        UserFactory(username="Alice")
        out, _err = run("seed_demo", "--password", "other-demo-pass")
        assert "alice already existed with another password; left as is." in out
        assert User.objects.get(username="Alice").check_password(PASSWORD)
        assert User.objects.get(username="bob").check_password("other-demo-pass")
        assert User.objects.filter(username__iexact="alice").count() == 1

    def test_skips_conversations_with_a_deactivated_demo_user(self):
        run("seed_demo")
        carol = User.objects.get(username="carol")
        admin = UserFactory(username="root", is_staff=True, is_superuser=True)
        moderation.user_deactivate(user=carol, moderator=admin)
        Chat.objects.all().delete()
        out, err = run("seed_demo")
        assert "Skipped alice ↔ carol: There is no active user named 'carol'." in err
        assert Chat.objects.count() == 1
        assert "Created 0 users, 1 chats, 4 messages." in out

    def test_sets_up_the_moderators_group(self):
        run("seed_demo")
        group = Group.objects.get(name="Moderators")
        perms = set(group.permissions.values_list("codename", flat=True))
        assert {"change_message", "change_report", "change_user", "view_moderationlog"} <= perms
        assert "delete_message" not in perms

    def test_refuses_on_a_production_site_unless_forced(self, settings):
        settings.DEBUG = False
        with pytest.raises(CommandError, match="DEBUG is off"):
            run("seed_demo")
        assert not User.objects.exists()
        out, _err = run("seed_demo", "--force")
        assert "Created 5 users" in out


# seed_bulk


class TestSeedBulk:
    def test_creates_users_chats_and_gapless_messages_in_batches(self):
        out, _err = run(
            "seed_bulk",
            "--users",
            "250",
            "--messages",
            "103",
            "--chats",
            "4",
            "--batch-size",
            "100",
        )
        assert "Users: 250 created, 250 bulk users (bulk0000001 .. bulk0000250)." in out
        assert "Chats: 4 created. Messages: 103 created." in out
        assert "Password of the new bulk users: bulk-password" in out
        assert User.objects.filter(username__startswith="bulk").count() == 250
        assert User.objects.get(username="bulk0000250").check_password("bulk-password")
        assert User.objects.values("password").distinct().count() == 1  # one shared hash
        chats = Chat.objects.annotate(
            n=Count("messages"), first=Min("messages__seq"), last=Max("messages__seq")
        ).order_by("id")
        assert [c.n for c in chats] == [26, 26, 26, 25]
        for c in chats:
            assert (c.first, c.last, c.last_seq) == (1, c.n, c.n)
            assert c.last_message_at is not None
        assert set(Membership.objects.values_list("read_seq", "delivered_seq")) == {
            (26, 26),
            (25, 25),
        }
        pairs = {(c.user_low.username, c.user_high.username) for c in chats}
        assert ("bulk0000001", "bulk0000002") in pairs

    def test_running_again_tops_up_only(self):
        run("seed_bulk", "--users", "20", "--messages", "30", "--chats", "3")
        out, _err = run("seed_bulk", "--users", "20", "--messages", "30", "--chats", "3")
        assert "Users: 0 created" in out
        assert "Chats: 0 created. Messages: 0 created." in out
        assert "Password" not in out
        assert User.objects.count() == 20
        assert Message.objects.count() == 30
        out, _err = run("seed_bulk", "--users", "24", "--messages", "36", "--chats", "3")
        assert "Users: 4 created, 24 bulk users" in out
        assert "Messages: 6 created." in out
        assert User.objects.filter(username="bulk0000024").exists()
        assert list(Chat.objects.order_by("id").values_list("last_seq", flat=True)) == [12] * 3

    def test_seeded_chats_keep_working_with_the_real_send_path(self):
        run("seed_bulk", "--users", "2", "--messages", "5")
        chat = Chat.objects.get()
        sender = User.objects.get(username="bulk0000001")
        message, created = services.message_send(
            sender=sender, chat_id=chat.pk, client_id="live-1", body="after seeding"
        )
        assert created
        assert message.seq == 6

    def test_progress_bar_only_on_a_terminal(self):
        plain, _err = run("seed_bulk", "--users", "10")
        assert "[#" not in plain and "\r" not in plain
        tty = TTY()
        run("seed_bulk", "--users", "20", "--messages", "10", stdout=tty)
        assert "\rusers    [" in tty.getvalue()
        assert "100% 10/10" in tty.getvalue()
        quiet = TTY()
        run("seed_bulk", "--users", "30", "--no-progress", stdout=quiet)
        assert "[#" not in quiet.getvalue()

    @pytest.mark.parametrize(
        ("args", "error"),
        [
            (["--users", "-1"], "--users must be between"),
            (["--users", "10000000"], "--users must be between"),
            (["--prefix", "Bulk1"], "--prefix must be"),
            (["--batch-size", "5"], "--batch-size must be"),
            (["--users", "5", "--messages", "10", "--chats", "3"], "need 6 bulk users"),
            (["--messages", "10"], "need 2 bulk users and there are 0"),
            (["--chats", "0", "--messages", "1"], "--chats must be at least 1"),
        ],
    )
    def test_bad_arguments_get_a_clear_error(self, args, error):
        with pytest.raises(CommandError, match=error):
            run("seed_bulk", *args)

    def test_other_prefix_and_usernames_that_only_look_similar(self):
        UserFactory(username="bulky")
        out, _err = run("seed_bulk", "--users", "3", "--prefix", "load.")
        assert "(load.0000001 .. load.0000003)" in out
        out, _err = run("seed_bulk", "--users", "2")
        assert "Users: 2 created, 2 bulk users" in out


# chat_stats


class TestChatStats:
    def test_counts_users_activity_chats_messages_per_day_and_open_reports(self, alice, bob, carol):
        now = timezone.now()
        chat = make_chat(alice, bob)
        for i in range(3):
            services.message_send(sender=alice, chat_id=chat.pk, client_id=f"m{i}", body="hi")
        Message.objects.filter(seq=1).update(created_at=now - datetime.timedelta(days=2))
        User.objects.filter(pk=bob.pk).update(last_seen=now - datetime.timedelta(hours=2))
        User.objects.filter(pk=carol.pk).update(last_login=now - datetime.timedelta(days=3))
        UserFactory(username="gone", is_active=False, last_login=now)
        moderation.report_create(reporter=bob, chat_id=chat.pk, seq=2)

        out, _err = run("chat_stats", "--json", "--days", "3")
        stats = json.loads(out)
        assert stats["users"] == 4
        assert stats["active_accounts"] == 3
        assert stats["active_last_day"] == 2  # alice sent, bob was seen; carol too long ago
        assert stats["chats"] == 1
        assert stats["messages"] == 3
        assert stats["open_reports"] == 1
        today = now.date()
        assert stats["messages_per_day"] == [
            {"date": (today - datetime.timedelta(days=2)).isoformat(), "messages": 1},
            {"date": (today - datetime.timedelta(days=1)).isoformat(), "messages": 0},
            {"date": today.isoformat(), "messages": 2},
        ]

        text, _err = run("chat_stats", "--days", "3")
        assert "Users:                  4 (3 active accounts)" in text
        assert "Active in the last day: 2" in text
        assert "Open reports:           1" in text
        assert f"  {today.isoformat()}           2" in text

    def test_empty_site(self):
        stats = json.loads(run("chat_stats", "--json")[0])
        assert stats["users"] == stats["messages"] == stats["open_reports"] == 0
        assert len(stats["messages_per_day"]) == 7

    @pytest.mark.parametrize("days", ["0", "400"])
    def test_bad_days(self, days):
        with pytest.raises(CommandError, match="--days must be between 1 and 366"):
            run("chat_stats", "--days", days)


# export_user


class TestExportUser:
    @pytest.fixture
    def data(self, alice, bob, carol):
        ab = make_chat(alice, bob)
        services.message_send(sender=alice, chat_id=ab.pk, client_id="a1", body="hello bob")
        services.message_send(sender=bob, chat_id=ab.pk, client_id="b1", body="nasty words")
        bc = make_chat(bob, carol)
        services.message_send(sender=carol, chat_id=bc.pk, client_id="c1", body="secret")
        root = UserFactory(username="root", is_staff=True, is_superuser=True)
        moderation.report_create(reporter=alice, chat_id=ab.pk, seq=2, reason="mean")
        moderation.message_remove(
            message=Message.objects.get(chat=ab, seq=2), moderator=root, reason="abuse"
        )
        Block.objects.create(blocker=alice, blocked=carol)
        return ab

    def test_prints_profile_chats_and_visible_messages_as_json(self, data):
        out, _err = run("export_user", "ALICE")
        export = json.loads(out)
        assert export["format"] == "chatsite-export/1"
        assert export["profile"]["username"] == "alice"
        assert export["profile"]["is_active"] is True
        [chat] = export["chats"]
        assert (chat["id"], chat["with"], chat["last_seq"]) == (data.pk, "bob", 2)
        first, removed = chat["messages"]
        assert (first["seq"], first["sender"], first["body"]) == (1, "alice", "hello bob")
        assert first["sent_at"].endswith("Z")
        assert removed == {
            "seq": 2,
            "sender": "bob",
            "body": None,
            "sent_at": removed["sent_at"],
            "removed_by_moderator": True,
        }
        assert "nasty words" not in out and "secret" not in out
        assert export["blocked_users"] == ["carol"]
        assert export["reports"][0]["reason"] == "mean"
        assert export["reports"][0]["status"] == "resolved"

    def test_writes_to_a_file_and_will_not_overwrite_unless_forced(self, data, tmp_path):
        target = tmp_path / "alice.json"
        out, err = run("export_user", "alice", "--output", str(target))
        assert out == ""
        assert f"Exported alice (1 chats) to {target}." in err
        assert json.loads(target.read_text())["profile"]["username"] == "alice"
        target.write_text("keep me")
        with pytest.raises(CommandError, match="already exists; use --force"):
            run("export_user", "alice", "--output", str(target))
        assert target.read_text() == "keep me"
        run("export_user", "alice", "--output", str(target), "--force")
        assert json.loads(target.read_text())["chats"][0]["with"] == "bob"

    def test_unknown_user_and_unwritable_path_are_clear_errors(self, alice, tmp_path):
        with pytest.raises(CommandError, match="There is no user named 'nobody'"):
            run("export_user", "nobody")
        with pytest.raises(CommandError, match="Could not write"):
            run("export_user", "alice", "--output", str(tmp_path / "missing" / "x.json"))

    def test_user_without_chats(self, carol):
        export = json.loads(run("export_user", "carol")[0])
        assert export["chats"] == [] and export["reports"] == []
