from __future__ import annotations

import uuid

import factory

from accounts.models import User
from chats.models import Chat, Membership, Message

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def make_chat(a: User, b: User) -> Chat:
    """A chat between two users with both memberships, as chat_start makes it."""
    low, high = sorted([a.pk, b.pk])
    chat = Chat.objects.create(user_low_id=low, user_high_id=high)
    Membership.objects.bulk_create(
        [Membership(user_id=low, chat=chat), Membership(user_id=high, chat=chat)]
    )
    return chat


def make_messages(chat: Chat, sender: User, count: int) -> list[Message]:
    """Store `count` messages through the real send path."""
    from chats import services

    return [
        services.message_send(
            sender=sender, chat_id=chat.pk, client_id=str(uuid.uuid4()), body=f"message {i}"
        )[0]
        for i in range(count)
    ]


def make_exchange(a: User, b: User, first: str, reply: str) -> Chat:
    """A chat where `a` said `first` (seq 1) and `b` answered `reply` (seq 2)."""
    from chats import services

    chat = make_chat(a, b)
    services.message_send(sender=a, chat_id=chat.pk, client_id="a1", body=first)
    services.message_send(sender=b, chat_id=chat.pk, client_id="b1", body=reply)
    return chat


def message_at(chat: Chat, seq: int) -> Message:
    return Message.objects.get(chat=chat, seq=seq)
