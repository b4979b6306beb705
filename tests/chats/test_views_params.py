"""Query and form numbers in the chat views: bad ones are refused or ignored, never a 500."""

import pytest

from chats.models import Membership
from tests.factories import make_chat, make_messages
from tests.support.sessions import logged_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("before", ["²", "٣", "-1", "1e3", "9" * 40, "", "abc"])
def test_history_ignores_a_malformed_before(alice, bob, before):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 3)
    response = logged_in(bob).get(f"/chats/{chat.pk}/", {"before": before})
    assert response.status_code == 200
    assert [m.seq for m, _r in response.context["messages_page"]] == [1, 2, 3]


def test_history_pages_with_a_valid_before(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 3)
    response = logged_in(bob).get(f"/chats/{chat.pk}/", {"before": "3"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert [m.seq for m, _r in response.context["messages_page"]] == [1, 2]


@pytest.mark.parametrize("seq", ["²", "-1", "9" * 40, "", "x"])
def test_read_refuses_a_malformed_seq(alice, bob, seq):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 2)
    response = logged_in(bob).post(f"/chats/{chat.pk}/read/", {"seq": seq})
    assert response.status_code == 400
    assert Membership.objects.get(user=bob, chat=chat).read_seq == 0


def test_read_moves_the_pointer(alice, bob):
    chat = make_chat(alice, bob)
    make_messages(chat, alice, 2)
    assert logged_in(bob).post(f"/chats/{chat.pk}/read/", {"seq": "2"}).status_code == 204
    assert Membership.objects.get(user=bob, chat=chat).read_seq == 2


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("", "The message is empty."),
        ("   ", "The message is empty."),
        ("x" * 9000, "Messages are at most 4000 characters."),
        ("x" * 4001, "Messages are at most 4000 characters."),
    ],
)
def test_send_fallback_says_what_is_wrong_and_stores_nothing(alice, bob, body, problem):
    chat = make_chat(alice, bob)
    response = logged_in(alice).post(f"/chats/{chat.pk}/send/", {"body": body}, follow=True)
    assert response.status_code == 200
    assert problem in response.content.decode()
    assert chat.messages.count() == 0


def test_send_fallback_stores_and_redirects(alice, bob):
    chat = make_chat(alice, bob)
    response = logged_in(alice).post(f"/chats/{chat.pk}/send/", {"body": "  hi  "})
    assert response.status_code == 302 and response["Location"] == f"/chats/{chat.pk}/"
    assert list(chat.messages.values_list("body", "seq")) == [("hi", 1)]
