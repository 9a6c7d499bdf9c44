"""Revocation does not depend on clocks agreeing: the access-token cut-off is a version.

Each test moves the clock of whoever issues or revokes (time-machine, in this process) by the
drill's 2 s: a token issued before a revocation by a clock running ahead used to carry an
`iat` after the cut-off and survive it; one issued after it by a clock running behind used to
be refused. tests/api/test_clock_skew_servers.py does the same with two real servers under
libfaketime.
"""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import AccessCutoff, User
from accounts.services import revoke_everything
from api.tokens import CUTOFF_CLAIM, mint_refresh_token

SKEW = timedelta(seconds=2)


@pytest.fixture(params=["database", "redis"])
def cutoff_store(request):
    """Where the cut-off is read from: the database (no shared cache) or Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return request.param


def dashboard(client, access: str):
    return client.get("/api/dashboard/", HTTP_AUTHORIZATION=f"Bearer {access}")


def revoked(response) -> bool:
    return response.status_code == 401 and response.json()["code"] == "token_revoked"


def test_token_issued_just_before_a_revocation_by_a_fast_clock_is_refused(client, api_login, bob, cutoff_store):
    with time_machine.travel(timezone.now() + SKEW):
        access = api_login(bob)["access"]  # its iat is 2 s after the revocation below
    revoke_everything(user=bob, reason="test")
    assert revoked(dashboard(client, access))


def test_token_issued_just_after_a_revocation_by_a_slow_clock_is_accepted(client, api_login, bob, cutoff_store):
    revoke_everything(user=bob, reason="test")
    with time_machine.travel(timezone.now() - SKEW):
        access = api_login(bob)["access"]  # its iat is 2 s before the revocation above
    assert dashboard(client, access).status_code == 200


def test_refresh_just_after_a_revocation_by_a_slow_clock_is_accepted(client, api_login, bob, cutoff_store):
    revoke_everything(user=bob, reason="test")
    pair = api_login(bob)
    with time_machine.travel(timezone.now() - SKEW):
        response = client.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json")
    assert dashboard(client, response.json()["access"]).status_code == 200


def test_revocation_by_a_slow_clock_after_one_by_a_fast_clock_still_moves_the_cutoff(client, api_login, bob):
    with time_machine.travel(timezone.now() + SKEW):
        revoke_everything(user=bob, reason="test")
    first = User.objects.get(pk=bob.pk).tokens_valid_after
    access = api_login(bob)["access"]  # issued between the two revocations
    revoke_everything(user=bob, reason="test")  # this clock reads 2 s before the first revocation's
    second = User.objects.get(pk=bob.pk).tokens_valid_after
    assert second > first and AccessCutoff.objects.get(user_id=bob.pk).at == second
    assert revoked(dashboard(client, access))


def test_token_carries_the_cutoff_it_was_issued_under(client, api_login, bob):
    revoke_everything(user=bob, reason="test")
    payload = dashboard(client, api_login(bob)["access"]).json()["data"]
    assert payload[CUTOFF_CLAIM] == User.objects.get(pk=bob.pk).tokens_valid_after.timestamp()


def test_token_without_the_claim_is_judged_by_its_issue_time(client, bob):
    """Tokens minted before the claim existed live one access lifetime at most: as before."""
    before, after = (_claimless(bob, timezone.now() + shift) for shift in (timedelta(0), timedelta(seconds=1)))
    with time_machine.travel(timezone.now() + timedelta(milliseconds=500)):
        revoke_everything(user=bob, reason="test")
    assert revoked(dashboard(client, before)) and dashboard(client, after).status_code == 200


def test_token_whose_claim_is_not_a_number_is_invalid(client, bob):
    access = mint_refresh_token(user=bob, family_id="f", auth_time=0).access_token
    access[CUTOFF_CLAIM] = "0"
    response = dashboard(client, str(access))
    assert response.status_code == 401 and response.json()["code"] == "token_not_valid"


def _claimless(user, at) -> str:
    with time_machine.travel(at, tick=False):
        access = mint_refresh_token(user=user, family_id="f", auth_time=int(at.timestamp())).access_token
        access["iat"] = at.timestamp()
    del access[CUTOFF_CLAIM]
    return str(access)
