import pytest
from django.test import override_settings

from accounts.models import User

pytestmark = pytest.mark.django_db

GOOD = "correct-horse-battery-9"


def signup(client, username="alice", password=GOOD, password2=None, terms=True, **extra):
    data = {"username": username, "password1": password, "password2": password2 or password}
    if terms:
        data["accept_terms"] = "on"
    return client.post("/accounts/signup/", data, **extra)


def signed_up(response):
    """Sign-up succeeded: the page shows the new recovery codes, then leads home."""
    return response.status_code == 200 and "accounts/recovery_codes.html" in [
        t.name for t in response.templates
    ]


def test_signup_creates_user_logs_in_and_shows_recovery_codes_before_home(client):
    response = signup(client)
    assert signed_up(response)
    assert len(response.context["codes"]) == 10
    assert 'href="/"' in response.content.decode()
    user = User.objects.get(username="alice")
    assert user.recovery_codes.filter(used_at=None).count() == 10
    assert client.get("/accounts/profile/").status_code == 200


def test_signup_page_has_the_contract_fields_and_terms_link(client):
    html = client.get("/accounts/signup/").content.decode()
    for name in ("username", "password1", "password2", "accept_terms"):
        assert f'name="{name}"' in html
    assert 'href="/terms/"' in html
    assert client.get("/terms/").status_code == 200


def test_signup_requires_terms(client):
    response = signup(client, terms=False)
    assert response.status_code == 200
    assert "accept the terms" in response.content.decode()
    assert not User.objects.exists()


def test_signup_refuses_same_username_in_another_case(client, user_factory):
    user_factory(username="alice")
    response = signup(client, username="ALICE")
    assert response.status_code == 200
    assert "That username is taken." in response.content.decode()
    assert User.objects.count() == 1


def test_database_refuses_case_variant_usernames(user_factory):
    from django.db import IntegrityError, transaction

    user_factory(username="Alice")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="aLICE")


def test_signup_refuses_weak_password(client):
    response = signup(client, password="password")
    assert response.status_code == 200
    assert "too common" in response.content.decode()
    assert not User.objects.exists()


def test_signup_refuses_mismatched_passwords(client):
    response = signup(client, password2="another-horse-battery-9")
    assert response.status_code == 200
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["ab", "a" * 31, "bad name", "bad/name", "émile"])
def test_signup_refuses_bad_usernames(client, username):
    response = signup(client, username=username)
    assert response.status_code == 200
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["abc", "a.b-c_d", "A" * 30, "007"])
def test_signup_accepts_allowed_usernames(client, username):
    assert signed_up(signup(client, username=username))
    assert User.objects.filter(username=username).exists()


@override_settings(SIGNUP_RATE=(3, 3600))
def test_signup_is_rate_limited_per_ip(client):
    for i in range(3):
        signup(client, username=f"user{i}", terms=False)
    response = signup(client, username="late")
    assert response.status_code == 429
    assert "Too many sign-up attempts" in response.content.decode()
    assert not User.objects.filter(username="late").exists()
    # Another address is not affected.
    other = signup(client, username="other", REMOTE_ADDR="10.9.9.9")
    assert signed_up(other)


@override_settings(SIGNUP_RATE=(3, 3600))
def test_signup_counts_an_ipv6_64_as_one_address(client):
    for i in range(3):
        signup(client, username=f"user{i}", terms=False, REMOTE_ADDR=f"2001:db8:7:8::{i + 1}")
    late = signup(client, username="late", REMOTE_ADDR="2001:db8:7:8:abcd:1234:5678:9abc")
    assert late.status_code == 429
    other = signup(client, username="other", REMOTE_ADDR="2001:db8:7:9::1")
    assert signed_up(other)
