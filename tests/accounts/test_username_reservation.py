"""A name given up by a rename or a deleted account is reserved for USERNAME_RESERVE_DAYS:
no other account takes it (sign-up, rename, API), its previous owner may take it back."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import selectors, services
from accounts.models import UsernameReservation
from tests.api.conftest import ApiClient, assert_error
from tests.factories import PASSWORD
from tests.support.sessions import logged_in

pytestmark = pytest.mark.django_db

NOT_AVAILABLE = "That username is not available."


def sign_up(username):
    return Client().post(
        "/accounts/signup/",
        {
            "username": username,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "accept_terms": "on",
        },
    )


def rename(user, username):
    response = logged_in(user).post("/accounts/profile/", {"username": username})
    user.refresh_from_db()
    return response


def lapse(name):
    """Move the reservation's end into the past, as USERNAME_RESERVE_DAYS passing would."""
    UsernameReservation.objects.filter(canonical=name.lower()).update(
        reserved_until=timezone.now() - timedelta(seconds=1)
    )


def test_a_renamed_name_cannot_be_signed_up_in_any_case_until_it_lapses(alice):
    assert rename(alice, "alicia").status_code == 302
    for name in ("alice", "ALICE"):
        response = sign_up(name)
        assert response.status_code == 200
        assert NOT_AVAILABLE in response.content.decode()
    lapse("alice")
    assert sign_up("Alice").status_code == 200  # the recovery codes page: signed up
    assert selectors.username_status(username="alice") == "taken"


def test_another_account_cannot_rename_to_it_on_the_page_or_the_api(alice, bob):
    rename(alice, "alicia")
    response = rename(bob, "alice")
    assert response.status_code == 200 and NOT_AVAILABLE in response.content.decode()
    assert bob.username == "bob"
    refused = ApiClient(bob).patch("/api/me/", {"username": "Alice"})
    assert_error(refused, 400, "invalid", "username")
    assert refused.json()["errors"]["username"] == [NOT_AVAILABLE]


def test_the_service_refuses_it_too(alice, bob):
    services.user_change_username(user=alice, username="alicia")
    with pytest.raises(services.UsernameReserved):
        services.user_change_username(user=bob, username="alice")
    bob.refresh_from_db()
    assert bob.username == "bob"
    with pytest.raises(services.UsernameReserved):
        services.user_create(username="alice", password=PASSWORD)


def test_the_previous_owner_takes_it_back(alice, bob):
    rename(alice, "alicia")
    assert rename(alice, "Alice").status_code == 302
    assert alice.username == "Alice"
    # Taken back: no longer reserved, and now "alicia" is.
    assert not UsernameReservation.objects.filter(canonical="alice").exists()
    assert selectors.username_status(username="alicia", user_id=bob.pk) == "reserved"
    assert selectors.username_status(username="alicia", user_id=alice.pk) == "free"


def test_a_change_of_case_reserves_nothing(alice):
    rename(alice, "ALICE")
    assert not UsernameReservation.objects.exists()


def test_the_period_comes_from_the_setting(alice, settings):
    settings.USERNAME_RESERVE_DAYS = 3
    rename(alice, "alicia")
    reservation = UsernameReservation.objects.get(canonical="alice")
    assert reservation.previous_owner == alice
    left = reservation.reserved_until - timezone.now()
    assert timedelta(days=3) - timedelta(minutes=1) < left <= timedelta(days=3)


def test_a_deleted_accounts_name_is_reserved_then_free(alice):
    services.user_delete(user=alice)
    response = sign_up("alice")
    assert NOT_AVAILABLE in response.content.decode()
    lapse("alice")
    assert sign_up("alice").status_code == 200
    assert selectors.username_status(username="alice") == "taken"
