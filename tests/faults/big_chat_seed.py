"""Seed for the slow-reader test: `python -m tests.faults.big_chat_seed`.

`alice` and `bob` in a chat of 500 messages of 4,000 characters, and `carol` in a chat with
`bob`; prints {"users": {name: {"id", "session"}}, "chat": id, "other_chat": id} as JSON on
the last line."""

import json
import os

MESSAGES = 500
LENGTH = 4000


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    django.setup()
    from accounts.models import User
    from chats import services
    from tests.support.sessions import login_session

    users = {}
    for name in ("alice", "bob", "carol"):
        user = User(username=name)
        user.set_unusable_password()
        user.save()
        users[name] = user
    chat, _ = services.chat_start(user=users["alice"], username="bob")
    other, _ = services.chat_start(user=users["carol"], username="bob")
    for i in range(MESSAGES):
        body = f"{i:04d} " + "x" * (LENGTH - 5)
        services.message_send(sender=users["bob"], chat_id=chat.pk, client_id=f"s{i}", body=body)
    out = {name: {"id": u.pk, "session": login_session(u)} for name, u in users.items()}
    print(json.dumps({"users": out, "chat": chat.pk, "other_chat": other.pk}))


if __name__ == "__main__":
    main()
