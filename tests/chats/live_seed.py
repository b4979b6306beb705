"""Seed the live servers' database: `python -m tests.chats.live_seed alice bob [carol...]`.

Creates the users with logged-in sessions and a chat between the first two; prints
{"users": {name: {"id", "session"}}, "chat": id} as JSON on the last line.
"""

import json
import os
import sys

import django


def main(usernames: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    django.setup()
    from accounts.models import User
    from chats import services
    from tests.support.sessions import login_session

    users = {}
    for name in usernames:
        user = User(username=name)
        user.set_unusable_password()  # sessions are made here; nobody logs in by password
        user.save()
        users[name] = {"id": user.pk, "session": login_session(user), "user": user}
    chat, _ = services.chat_start(user=users[usernames[0]]["user"], username=usernames[1])
    for entry in users.values():
        del entry["user"]
    print(json.dumps({"users": users, "chat": chat.pk}))


if __name__ == "__main__":
    main(sys.argv[1:])
