import contextlib
import random
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.selectors import (
    SEARCH_LIMIT,
    user_search,
)
from chats.models import Chat
from tests.support.browser import add_session_cookie, chromium
from tests.support.sessions import login_session

pytestmark = pytest.mark.django_db


def names(results):
    return [r.user.username for r in results]


def make_users(*usernames):
    """Users in a shuffled insertion order (no password: hashing is slow and unused here)."""
    shuffled = list(usernames)
    random.Random(5).shuffle(shuffled)
    created = {name: User.objects.create(username=name, password="!") for name in shuffled}
    return [created[name] for name in usernames]


# -- the selector --------------------------------------------------------------------------


def test_exact_then_prefix_then_substring_each_alphabetical(alice):
    make_users("ali", "Alina", "alice2", "ali_x", "kali", "zzALIzz", "bali", "bob", "al")
    assert names(user_search(viewer=alice, query="ali")) == [
        "ali",
        "ali_x",
        "alice2",
        "Alina",
        "bali",
        "kali",
        "zzALIzz",
    ]


def test_search_is_case_insensitive(alice):
    make_users("Ali", "alINA", "KALI")
    expected = ["Ali", "alINA", "KALI"]
    assert names(user_search(viewer=alice, query="ali")) == expected
    assert names(user_search(viewer=alice, query="ALI")) == expected
    assert names(user_search(viewer=alice, query="  aLi ")) == expected


def test_two_character_queries_match_prefixes_only(alice):
    make_users("albert", "kal", "al")
    assert names(user_search(viewer=alice, query="al")) == ["al", "albert"]


def test_search_excludes_the_viewer_and_inactive_users(alice):
    make_users("alicia", "alina")
    User.objects.filter(username="alina").update(is_active=False)
    User.objects.create(username="malice", password="!", is_active=False)
    assert names(user_search(viewer=alice, query="ali")) == ["alicia"]


def test_queries_shorter_than_two_characters_match_nobody(alice):
    make_users("ab", "a1")
    assert user_search(viewer=alice, query="a") == []
    assert user_search(viewer=alice, query=" a ") == []
    assert user_search(viewer=alice, query="") == []


def test_results_are_capped_at_twenty_prefix_matches_first(alice):
    make_users(*[f"sam{i:02d}" for i in range(15)], *[f"x{i:02d}sam" for i in range(10)])
    found = names(user_search(viewer=alice, query="sam"))
    assert len(found) == SEARCH_LIMIT == 20
    assert found == [f"sam{i:02d}" for i in range(15)] + [f"x{i:02d}sam" for i in range(5)]


def test_like_wildcards_in_the_query_are_literal(alice):
    make_users("a_bc", "axbc", "za_bz", "zaxbz", "a%b")
    assert names(user_search(viewer=alice, query="a_b")) == ["a_bc", "za_bz"]
    assert user_search(viewer=alice, query="a%b") == []


def test_punctuation_in_the_query_matches_only_itself(alice):
    # The trigram index reads . _ - as letters; the results must not.
    make_users("a.bc", "xa.by", "xaqby", "xa_by", "xaxby", "xa-by", "xazby")
    assert names(user_search(viewer=alice, query="a.b")) == ["a.bc", "xa.by"]
    assert names(user_search(viewer=alice, query="a_b")) == ["xa_by"]
    assert names(user_search(viewer=alice, query="A-B")) == ["xa-by"]


def test_characters_no_username_has_match_nobody_without_a_query(alice, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert user_search(viewer=alice, query="al ice") == []
        assert user_search(viewer=alice, query="al\x00ice") == []
        assert user_search(viewer=alice, query="é" * 5) == []
        assert user_search(viewer=alice, query="a" * 31) == []


def test_search_takes_at_most_two_queries(alice, django_assert_num_queries):
    make_users("sam1", "xsam", *[f"zed{i:02d}" for i in range(25)])
    # Prefix, then substring; blocks come with the rows.
    with django_assert_num_queries(2):
        assert names(user_search(viewer=alice, query="sam")) == ["sam1", "xsam"]
    with django_assert_num_queries(1):
        user_search(viewer=alice, query="sa")
    # Twenty prefix matches leave no room for substring matches: no second query.
    with django_assert_num_queries(1):
        assert len(user_search(viewer=alice, query="zed")) == SEARCH_LIMIT


def test_results_show_live_presence_hidden_reciprocally_and_under_blocks(alice, bob):
    from chats.models import Block
    from chatsite import presence_store

    presence_store.store().attach(bob.pk, "tab-1", 10)
    [result] = user_search(viewer=alice, query="bob")
    assert result.presence.status == "online"
    Block.objects.create(blocker=bob, blocked=alice)
    [result] = user_search(viewer=alice, query="bob")
    assert (result.presence.status, result.presence.last_seen) == ("hidden", None)
    Block.objects.all().delete()
    alice.hide_presence = True  # hiding is reciprocal
    alice.save()
    [result] = user_search(viewer=alice, query="bob")
    assert result.presence.status == "hidden"


def test_offline_users_show_last_seen(alice, bob):
    bob.last_seen = timezone.now() - timedelta(hours=3)
    bob.save()
    [result] = user_search(viewer=alice, query="bob")
    assert (result.presence.status, result.presence.last_seen) == ("offline", bob.last_seen)


# -- query plans ---------------------------------------------------------------------------

# Each backend runs the same test against its own indexes: the expectations below are chosen
# by the database the suite runs on.
PLAN_EXPECTATIONS = {
    "postgresql": {
        "prefix": {
            "present": ["Index Scan using accounts_user_search_key"],
            # The index order is the ORDER BY order: no Sort node, no full scan. (The blocks
            # table is empty here, so reading it whole is its cheapest plan.)
            "absent": ["Seq Scan on accounts_user", "Sort"],
        },
        "substring": {
            "present": ["Bitmap Index Scan on accounts_user_username_trgm"],
            "absent": ["Seq Scan on accounts_user"],
        },
    },
    "sqlite": {
        "prefix": {
            "present": ["SEARCH accounts_user USING INDEX accounts_user_search_key"],
            "absent": ["SCAN accounts_user", "USE TEMP B-TREE FOR ORDER BY"],
        },
        "substring": {
            # Bounded: the first SQLITE_SUBSTRING_SCAN names of the index (a walk of the
            # covering index to an OFFSET) end a range that is searched in the same index.
            "present": [
                "SCAN first_names USING COVERING INDEX accounts_user_search_key",
                "SEARCH accounts_user USING INDEX accounts_user_search_key (username<?)",
            ],
            "absent": ["SCAN accounts_user"],
        },
    },
}


def explain(sql):
    prefix = "EXPLAIN " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql)
        return "\n".join(" ".join(str(c) for c in row) for row in cursor.fetchall())


def test_search_queries_are_served_by_the_search_indexes(alice):
    expectations = PLAN_EXPECTATIONS[connection.vendor]
    # Enough rows that a sequential scan is not the cheap plan it is on a tiny table.
    User.objects.bulk_create(
        [User(username=f"member{i:05d}", password="!") for i in range(10_000)]
        + [User(username=name, password="!") for name in ["zorro", "zorba", "bzorb"]],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as ctx:
        assert names(user_search(viewer=alice, query="zor")) == ["zorba", "zorro", "bzorb"]
    prefix_sql, substring_sql = (q["sql"] for q in ctx.captured_queries)
    for kind, sql in [("prefix", prefix_sql), ("substring", substring_sql)]:
        plan = explain(sql)
        for needle in expectations[kind]["present"]:
            assert needle in plan, f"{kind} plan lacks {needle!r}:\n{plan}"
        for needle in expectations[kind]["absent"]:
            assert needle not in plan, f"{kind} plan has {needle!r}:\n{plan}"


# -- the page ------------------------------------------------------------------------------


def test_search_page_needs_login(client):
    response = client.get("/search/?q=al")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_search_page_lists_results_with_a_message_button(client, alice):
    make_users("alina", "kali")
    client.force_login(alice)
    response = client.get("/search/?q=ali")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    assert html.index("alina") < html.index("kali")
    assert 'action="/chats/start/"' in html
    assert 'name="username" value="alina"' in html
    assert 'aria-label="Message alina"' in html
    # A plain GET form that htmx enhances.
    assert 'method="get" action="/search/"' in html
    assert 'hx-get="/search/"' in html
    assert 'hx-trigger="input changed delay:250ms, search"' in html
    assert 'hx-push-url="true"' in html
    assert 'value="ali"' in html


def test_message_button_starts_the_chat(client, alice):
    (alina,) = make_users("alina")
    client.force_login(alice)
    response = client.post("/chats/start/", {"username": "alina"})
    chat = Chat.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/chats/{chat.pk}/"
    assert {chat.user_low_id, chat.user_high_id} == {alice.pk, alina.pk}


def test_htmx_requests_get_the_results_partial_only(client, alice):
    make_users("alina")
    client.force_login(alice)
    response = client.get("/search/?q=ali", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.strip().startswith('<div id="search-results"')
    assert "alina" in html
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_full_page(client, alice):
    client.force_login(alice)
    response = client.get(
        "/search/?q=ali", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in response.content.decode()


@pytest.mark.parametrize("q", ["", "a", " b "])
def test_short_queries_show_a_hint_instead_of_results(client, alice, q):
    make_users("ab", "bb")
    client.force_login(alice)
    html = client.get("/search/", {"q": q}).content.decode()
    assert "Type at least 2 characters of a username." in html
    assert 'class="people"' not in html


def test_no_match_says_so(client, alice):
    client.force_login(alice)
    html = client.get("/search/?q=nobody").content.decode()
    assert "Nobody matches “nobody”." in html


def test_query_is_escaped(client, alice):
    client.force_login(alice)
    html = client.get("/search/", {"q": "<b>x</b>"}).content.decode()
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_results_show_presence(client, alice):
    from chatsite import presence_store

    online, hidden, _never = make_users("samonline", "samhidden", "samnever")
    presence_store.store().attach(online.pk, "tab-1", 10)
    User.objects.filter(pk=hidden.pk).update(hide_presence=True, last_seen=timezone.now())
    client.force_login(alice)
    html = client.get("/search/?q=sam").content.decode()
    assert 'data-status="online"' in html
    assert 'data-status="hidden"' in html
    assert 'data-status="offline"' in html


def test_searching_is_rate_limited_per_user_with_a_clear_message(client, alice, bob, settings):
    settings.SEARCH_RATE = (3, 60)
    client.force_login(alice)
    for _ in range(3):
        assert client.get("/search/?q=bo").status_code == 200
    client.get("/search/?q=b")  # hints do not count
    response = client.get("/search/?q=bo", headers={"HX-Request": "true"})
    assert response.status_code == 429
    assert "You are searching too fast. Wait a minute and try again." in response.content.decode()
    # Another user has their own budget.
    client.force_login(bob)
    assert client.get("/search/?q=al").status_code == 200


# -- in a browser ----------------------------------------------------------------------------


@contextlib.contextmanager
def search_page(live_server, viewer):
    """The search page in chromium, logged in as `viewer`."""
    session_key = login_session(viewer)  # the ORM cannot run inside Playwright's loop
    with chromium() as browser:
        context = browser.new_context()
        add_session_cookie(context, live_server.url, session_key)
        page = context.new_page()
        page.goto(f"{live_server.url}/search/")
        yield page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_search_as_you_type_updates_results_and_url_and_back_restores(live_server):
    from playwright.sync_api import expect

    viewer = User.objects.create(username="viewer", password="!")
    make_users("alina", "albert", "kalinka")
    with search_page(live_server, viewer) as page:
        expect(page.locator("#search-results")).to_contain_text("Type at least 2")
        box = page.locator("#search-q")
        box.press_sequentially("al")
        expect(page.locator(".person .username")).to_have_text(["albert", "alina"])
        expect(page).to_have_url(f"{live_server.url}/search/?q=al")
        box.press_sequentially("in")
        expect(page.locator(".person .username")).to_have_text(["alina", "kalinka"])
        expect(page).to_have_url(f"{live_server.url}/search/?q=alin")
        # The page was never reloaded: results were swapped in place.
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        page.go_back()
        expect(page).to_have_url(f"{live_server.url}/search/?q=al")
        expect(page.locator(".person .username")).to_have_text(["albert", "alina"])
        # Message opens the chat.
        page.locator('.person[data-username="alina"] button').click()
        expect(page).to_have_url(re.compile(r"/chats/\d+/$"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_rate_limit_message_is_swapped_in_while_typing(live_server, settings):
    from playwright.sync_api import expect

    settings.SEARCH_RATE = (1, 3600)
    viewer = User.objects.create(username="viewer", password="!")
    make_users("alina")
    with search_page(live_server, viewer) as page:
        box = page.locator("#search-q")
        box.press_sequentially("al")
        expect(page.locator(".person .username")).to_have_text(["alina"])
        box.press_sequentially("i")
        expect(page.locator("#search-results [role=alert]")).to_have_text(
            "You are searching too fast. Wait a minute and try again."
        )


def test_searching_ones_own_name_shows_oneself_marked_you(client, alice):
    client.force_login(alice)
    html = client.get("/search/?q=alic").content.decode()
    assert "Nobody matches" not in html
    assert 'data-username="alice"' in html and "(you)" in html
    assert 'aria-label="Message alice"' not in html
    elsewhere = client.get("/search/?q=zed").content.decode()
    assert "(you)" not in elsewhere and "Nobody matches" in elsewhere
    assert "(you)" in client.get("/search/?q=lic").content.decode()  # substring, 3+ chars
    assert "(you)" not in client.get("/search/?q=li").content.decode()  # 2 chars: prefix only
