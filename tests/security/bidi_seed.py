"""Seed for the bidi browser test: `python -m tests.security.bidi_seed`.

`alice` and `bob` in a chat holding a message of bob's that starts with a right-to-left
override. Prints {"alice": session, "bob": session, "chat": id} as JSON on the last line."""

import json
import os

OVERRIDE = "\u202eevil.exe"


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    django.setup()
    from accounts.models import User
    from chats import services
    from tests.support.sessions import login_session

    alice = User.objects.create(username="alice")
    bob = User.objects.create(username="bob")
    chat, _ = services.chat_start(user=alice, username="bob")
    services.message_send(sender=bob, chat_id=chat.pk, client_id="seed", body=OVERRIDE)
    print(json.dumps({"alice": login_session(alice), "bob": login_session(bob), "chat": chat.pk}))


if __name__ == "__main__":
    main()
