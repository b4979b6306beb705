"""One identity for the lockout (issue 21, finding 3): attempts count against the account
(its primary key) and the client's IP (an IPv6 /64), on the login page and the API login
alike (the admin's login form takes no password: it sends to the login page, issue 19);
names outside the username pattern are no one, without a lookup.

The bypass needs PostgreSQL: its UPPER() folds the dotless i, so before the fix `vıctım`
logged in as `victim` after `victim` was locked. Run on both backends."""

import itertools

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

WRONG = "wrong-password-1"
IP = "10.0.0.1"


def attempt(kind, username, password, ip=IP, client=None):
    """One login attempt; "in" (logged in), "locked" (429) or "refused" (bad credentials)."""
    client = client or Client()
    data = {"username": username, "password": password}
    if kind == "page":
        response = client.post("/accounts/login/", data, REMOTE_ADDR=ip)
        success = response.status_code == 302
    elif kind == "api":
        response = client.post(
            "/api/auth/login/", data, content_type="application/json", REMOTE_ADDR=ip
        )
        success = response.status_code == 200
    else:
        raise AssertionError(kind)
    if response.status_code == 429:
        return "locked"
    return "in" if success else "refused"


@pytest.fixture
def victim(db):
    return UserFactory(username="victim", is_staff=True)


KINDS = ["page", "api"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_dotless_i_gets_no_guess_once_the_account_is_locked(kind, victim):
    # The fifth failure locks (its answer is already the lockout).
    assert [attempt(kind, "victim", WRONG) for _ in range(5)] == ["refused"] * 4 + ["locked"]
    assert attempt(kind, "victim", PASSWORD) == "locked"
    for spelling in ["vıctım", "vıctim", "VİCTİM", "ｖｉｃｔｉｍ"]:
        assert attempt(kind, spelling, PASSWORD) in {"refused", "locked"}, spelling


@pytest.mark.parametrize("kind", KINDS)
def test_spellings_the_database_folds_together_are_not_extra_guesses(kind, db):
    """The issue's attack: 16 spellings of a name with two i's and two s's (`misis`), one guess each
    from a list of passwords. Keyed per spelling, each had a budget of 5 and PostgreSQL's
    UPPER() took `mısis` for `misis`: the ninth guess, the right one, logged in."""
    UserFactory(username="misis", is_staff=True)
    spellings = ["m" + "".join(p) for p in itertools.product("iı", "sſ", "iı", "sſ")]
    guesses = [f"wrong-guess-{n}" for n in range(16)]
    guesses[spellings.index("mısis")] = PASSWORD
    outcomes = [attempt(kind, n, g) for n, g in zip(spellings, guesses, strict=True)]
    assert "in" not in outcomes
    # A dotless i is never a username: no one, whatever the password. (The pages' forms
    # normalize NFKC, which makes `ſ` an `s`: that is the account itself, on its budget.)
    assert all(attempt(kind, n, PASSWORD) != "in" for n in spellings if "ı" in n)


@pytest.mark.parametrize("kind", KINDS)
def test_case_variants_of_a_name_share_one_budget(kind, db):
    UserFactory(username="mister", is_staff=True)
    guesses = [attempt(kind, name, WRONG) for name in ["mister", "MISTER", "Mister"] * 3]
    assert guesses == ["refused"] * 4 + ["locked"] * 5
    assert attempt(kind, "mister", PASSWORD) == "locked"


@pytest.mark.parametrize("name", ["vıctım", "victim\u200b", "vic tim", "vic\ntim", "ab", "x" * 31])
def test_a_name_outside_the_username_pattern_is_refused_before_any_lookup(name, victim):
    with CaptureQueriesContext(connection) as queries:
        result = attempt("page", name, PASSWORD)
    assert result == "refused"
    table = User._meta.db_table
    assert not [q["sql"] for q in queries if f'FROM "{table}"' in q["sql"]]
    response = Client().post("/accounts/login/", {"username": name, "password": PASSWORD})
    assert "Please enter a correct username and password" in response.content.decode()


def test_the_lockout_follows_the_account_across_a_rename(victim):
    for _ in range(5):
        attempt("page", "victim", WRONG)
    victim.username = "renamed"
    victim.save(update_fields=["username"])
    assert attempt("api", "renamed", PASSWORD) == "locked"
    assert attempt("page", "victim", PASSWORD) == "refused"  # the name is no one's now


def test_page_and_api_share_the_budget(victim):
    for kind in ["page", "api", "api", "page"]:
        assert attempt(kind, "victim", WRONG) == "refused"
    assert attempt("api", "victim", WRONG) == "locked"
    for kind in KINDS:
        assert attempt(kind, "victim", PASSWORD) == "locked"


def test_the_admin_login_checks_no_password_so_gives_no_guess(victim):
    """Its form would sign in with the password alone (no 2FA step): it sends every visitor
    to the login page instead, and neither signs in nor counts, right password or wrong."""
    client = Client()
    for password in [WRONG] * 5 + [PASSWORD]:
        data = {"username": "victim", "password": password}
        response = client.post("/admin/login/?next=/admin/", data, REMOTE_ADDR=IP)
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/admin/"
    assert "_auth_user_id" not in client.session
    assert attempt("page", "victim", PASSWORD) == "in"


def test_another_ip_keeps_its_own_budget(victim):
    for _ in range(5):
        attempt("page", "victim", WRONG)
    assert attempt("page", "victim", PASSWORD) == "locked"
    assert attempt("page", "victim", PASSWORD, ip="10.0.0.2") == "in"


def test_one_ipv6_64_is_one_ip_for_the_lockout(victim):
    for host in range(1, 6):
        attempt("page", "victim", WRONG, ip=f"2001:db8:1:2::{host}")
    assert attempt("api", "victim", PASSWORD, ip="2001:db8:1:2:ffff::9") == "locked"
    assert attempt("api", "victim", PASSWORD, ip="2001:db8:1:3::1") == "in"


def test_a_successful_login_resets_the_accounts_count(victim):
    for _ in range(4):
        attempt("page", "VICTIM", WRONG)
    assert attempt("page", "Victim", PASSWORD) == "in"
    for _ in range(4):
        assert attempt("page", "victim", WRONG) == "refused"
    assert attempt("page", "victim", PASSWORD) == "in"
