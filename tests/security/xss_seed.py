"""Seed hostile data for the browser test: `python -m tests.security.xss_seed`.

A moderator `alice`, one user per hostile username (see test_xss.USERNAMES), each in a chat
with alice holding every hostile body. Prints {"alice": session, "sender": session,
"chats": [ids], "sender_chat": id} as JSON on the last line."""

import json
import os


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    django.setup()
    from accounts.models import User
    from chats import services
    from tests.security.test_xss import BODIES, USERNAMES
    from tests.support.sessions import login_session

    alice = User.objects.create(username="alice", is_staff=True, is_superuser=True)
    chats = []
    for i, name in enumerate(USERNAMES):
        sender = User.objects.create(username=name)  # past validation, as an import might
        chat, _ = services.chat_start(user=alice, username=name)
        for j, body in enumerate(BODIES):
            services.message_send(sender=sender, chat_id=chat.pk, client_id=f"{i}-{j}", body=body)
        chats.append((chat.pk, sender))
    sender_chat, sender = chats[2]  # '"><b hx-get=/ hx-trigger=load>'
    print(
        json.dumps(
            {
                "alice": login_session(alice),
                "sender": login_session(sender),
                "chats": [pk for pk, _ in chats],
                "sender_chat": sender_chat,
            }
        )
    )


if __name__ == "__main__":
    main()
