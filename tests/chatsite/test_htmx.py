"""chatsite/htmx.py: every page that answers htmx with a fragment keys caches on the same
headers, and a history restore gets the whole page."""

import pytest

from tests.factories import make_chat

pytestmark = pytest.mark.django_db

PAGES = ["/chats/", "/chats/{chat}/?before=5", "/search/?q=bo", "/search/messages/?q=hello"]
HEADERS = {"HX-Request", "HX-Target", "HX-History-Restore-Request"}


@pytest.fixture
def pages(client, alice, bob):
    chat = make_chat(alice, bob)
    client.force_login(alice)
    return [page.format(chat=chat.pk) for page in PAGES]


@pytest.mark.parametrize("index", range(len(PAGES)))
@pytest.mark.parametrize("hx", [{}, {"HX-Request": "true"}])
def test_pages_with_fragments_vary_on_every_header_that_picks_one(client, pages, index, hx):
    response = client.get(pages[index], headers=hx)
    assert response.status_code == 200
    assert {h.strip() for h in response["Vary"].split(",")} >= HEADERS


@pytest.mark.parametrize("index", range(len(PAGES)))
def test_a_history_restore_gets_the_whole_page(client, pages, index):
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    assert "<html" in client.get(pages[index], headers=headers).content.decode()
    assert "<html" not in client.get(pages[index], headers={"HX-Request": "true"}).content.decode()
