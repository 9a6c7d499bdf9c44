"""Look-alike usernames (UTS #39 skeletons): refused on every way a user is created."""

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError

from accounts.models import User
from accounts.usernames import username_skeletons
from tests.factories import UserFactory
from tests.pages import form_errors

NEW_PASSWORD = "a-long-pass-phrase-9"


def signup(client, username):
    return client.post(
        "/accounts/signup/", {"username": username, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )


@pytest.mark.parametrize(
    "original, lookalike",
    [
        ("alice", "\u0430lice"),  # Cyrillic a
        ("alice", "ALICE"),  # case
        ("alice", "\uff41lice"),  # full-width a
        ("will", "wiII"),  # capital I for l
        ("mary", "rnary"),  # r n for m
        ("bob", "b0b"),  # zero for o
    ],
)
def test_username_skeletons_match_for_lookalikes(original, lookalike):
    ours, theirs = username_skeletons(original), username_skeletons(lookalike)
    assert ours[0] == theirs[0] or ours[1] == theirs[1]


@pytest.mark.parametrize("original, other", [("alice", "alicé"), ("alice", "allce"), ("bob", "bop")])
def test_username_skeletons_differ_for_distinct_names(original, other):
    ours, theirs = username_skeletons(original), username_skeletons(other)
    assert ours[0] != theirs[0] and ours[1] != theirs[1]


def test_signup_refuses_cyrillic_lookalike_username(client, alice):
    response = signup(client, "\u0430lice")

    assert response.status_code == 200
    assert "looks the same" in " ".join(form_errors(response)["username"])
    assert User.objects.count() == 1


def test_signup_accepts_username_that_only_shares_letters(client, alice):
    response = signup(client, "alicé")

    assert response.status_code == 302
    assert User.objects.filter(username="alicé").exists()


def test_createsuperuser_refuses_lookalike_username(alice, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", NEW_PASSWORD)

    with pytest.raises(CommandError, match="looks the same"):
        call_command("createsuperuser", "--no-input", "--username", "\u0430lice", "--email", "a@example.com")
    assert not User.objects.filter(is_superuser=True).exists()


def test_user_skeleton_is_unique_in_the_database(alice):
    with pytest.raises(IntegrityError):
        UserFactory(username="\u0430lice")


def test_user_skeleton_follows_a_rename(alice):
    alice.username = "alicia"
    alice.save(update_fields=["username"])

    assert User.objects.lookalikes("\u0430licia").get() == alice


@pytest.mark.parametrize(
    "taken, attempt",
    [
        ("alice", "alice"),  # the same name: Django's own uniqueness check refuses it first
        ("alice", "ALICE"),  # another case
        ("alice", "\uff41\uff4c\uff49\uff43\uff45"),  # full-width, which NFKC makes "alice"
        ("mailroy", "ma\u0131lroy"),  # dotless i
    ],
)
def test_signup_refuses_a_taken_or_lookalike_username_as_a_form_error(client, db, taken, attempt):
    UserFactory(username=taken)

    response = signup(client, attempt)

    assert response.status_code == 200
    assert form_errors(response)["username"]
    assert User.objects.count() == 1


@pytest.mark.parametrize("attempt", ["alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45", "\u0430lice"])
def test_admin_add_user_refuses_a_taken_or_lookalike_username_as_a_form_error(client, alice, staff, attempt):
    client.force_login(staff)

    response = client.post(
        "/admin/accounts/user/add/",
        {"username": attempt, "usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["username"]
    assert User.objects.count() == 2
