"""Issue 17: the hand-off from a stored message to the durable push queue (push/dispatch.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django_tasks_db.models import DBTaskResult

from tests.factories import make_chat
from tests.push.test_sending import ROOT, _database_url

pytestmark = pytest.mark.django_db(transaction=True)

# A server process that stores a message and exits at once, with the dispatcher slowed so the
# push is still in memory when the interpreter starts to exit.
STORE_AND_EXIT = """
import os, sys, time, uuid
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
django.setup()
from accounts.models import User
from chats import services
from push import dispatch
queue_for_real = dispatch.enqueue_pushes
def slow(work):
    time.sleep(1)
    queue_for_real(work)
dispatch.enqueue_pushes = slow
sender = User.objects.get(pk=int(sys.argv[1]))
message, _ = services.message_send(
    sender=sender, chat_id=int(sys.argv[2]), client_id=str(uuid.uuid4()), body="at exit"
)
print(message.pk)
"""


def test_a_process_that_exits_normally_queues_the_pushes_it_still_holds(
    alice, bob, subscribe, tmp_path
):
    chat = make_chat(alice, bob)
    subscription = subscribe(bob, "laptop")
    env = {**os.environ, "DATABASE_URL": _database_url(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", STORE_AND_EXIT, str(alice.pk), str(chat.pk)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (task,) = DBTaskResult.objects.filter(queue_name="push")
    assert task.args_kwargs["kwargs"] == {
        "message_id": int(done.stdout.split()[-1]),
        "subscription_id": subscription.pk,
    }
