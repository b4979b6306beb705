"""Seed for the load tests through nginx: `python -m tests.ops.pairs_seed N`.

N pairs of users (`a0`/`b0` ... ), each pair in a chat of its own, all with logged-in
sessions; prints {"pairs": [{"chat": id, "a": session, "b": session}, ...]} as JSON on the
last line."""

import json
import os
import sys

import django


def main(pairs: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    django.setup()
    from accounts.models import User
    from chats import services
    from tests.support.sessions import login_session

    out = []
    for i in range(pairs):
        users = []
        for side in "ab":
            user = User(username=f"{side}{i}")
            user.set_unusable_password()  # sessions are made here; nobody logs in by password
            user.save()
            users.append(user)
        chat, _ = services.chat_start(user=users[0], username=users[1].username)
        out.append({"chat": chat.pk, "a": login_session(users[0]), "b": login_session(users[1])})
    print(json.dumps({"pairs": out}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
