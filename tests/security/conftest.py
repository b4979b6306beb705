import pytest

from tests.factories import make_chat, make_messages


@pytest.fixture
def site(alice, bob):
    """alice, a superuser, in a chat with three messages from bob; returns the chat and the
    values that make every route of the site concrete for it (see urls.site_paths)."""
    alice.is_staff = alice.is_superuser = True
    alice.save()
    chat = make_chat(alice, bob)
    make_messages(chat, bob, 3)
    values = {"chat_id": str(chat.pk), "seq": "1", "object_id": str(chat.pk), "id": str(bob.pk)}
    return chat, values
