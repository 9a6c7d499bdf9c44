"""The signed revocation feed that carries the per-user cut-off to services without the database."""

import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta
from io import StringIO

import jwt
import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AccessCutoff
from accounts.services import revoke_everything
from api import keys, wellknown
from api.wellknown import FEED_AUDIENCE, FEED_MAX_CUTOFFS, FEED_TYPE
from tests.support import ROOT
from verifier import revocations
from verifier.keyset import MAX_BODY

TOKEN, NEXT_TOKEN = "t" * 40, "n" * 40
READER = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def feed_token(settings):
    """authdemo as deployed: debug off, one verifier credential."""
    settings.DEBUG, settings.REVOCATION_FEED_TOKENS = False, [TOKEN]


def feed(client) -> dict:
    response = client.get("/api/revocations/", **READER)
    assert response.status_code == 200 and response["Content-Type"] == "application/jwt"
    public = keys.load_ring().active.public_key
    return jwt.decode(response.content, public, algorithms=["ES256"], audience=FEED_AUDIENCE, issuer="authdemo")


def test_feed_lists_a_fresh_cutoff(client, bob, es256):
    revoke_everything(user=bob, reason="test")
    assert feed(client)["cutoffs"] == {str(bob.pk): bob.tokens_valid_after.timestamp()}


def test_feed_drops_a_cutoff_once_every_token_it_voids_has_expired(client, bob, es256):
    """Lifetime (5 min) + leeway (10 s) + the leeway again for an issuer whose clock ran ahead."""
    revoke_everything(user=bob, reason="test")
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=21)):
        assert feed(client)["cutoffs"] == {}


def test_feed_keeps_a_cutoff_while_a_token_from_a_fast_clock_may_live(client, bob, es256, settings):
    settings.REVOCATION_FEED_CACHE = 0
    revoke_everything(user=bob, reason="test")
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=19)):
        assert str(bob.pk) in feed(client)["cutoffs"]


def test_feed_is_typed_so_it_cannot_pass_as_an_access_token(client, db, es256):
    header = jwt.get_unverified_header(client.get("/api/revocations/", **READER).content)
    assert header["typ"] == FEED_TYPE and header["kid"] == keys.load_ring().active.kid


def test_feed_lists_a_deleted_users_cutoff(client, api_login, bob, es256):
    api_login(bob)  # a live API login: deleting bob logs him out everywhere
    user_id = bob.pk
    bob.delete()
    assert str(user_id) in feed(client)["cutoffs"]


def test_feed_announces_the_keys_that_verify_and_its_leeway(client, db, es256, settings):
    claims = feed(client)
    assert claims["kids"] == [keys.load_ring().active.kid] and claims["leeway"] == settings.SIMPLE_JWT["LEEWAY"]


def test_feed_is_signed_once_per_cache_interval(client, db, es256, settings):
    settings.REVOCATION_FEED_CACHE = 60
    assert client.get("/api/revocations/", **READER).content == client.get("/api/revocations/", **READER).content


def test_feed_is_signed_again_once_its_cache_interval_passed(client, bob, es256, settings):
    settings.REVOCATION_FEED_CACHE = 0
    feed(client)
    revoke_everything(user=bob, reason="test")
    assert str(bob.pk) in feed(client)["cutoffs"]


def test_prune_auth_drops_cutoffs_that_void_nothing_live(bob, es256):
    revoke_everything(user=bob, reason="test")
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=21)):  # the feed's window
        call_command("prune_auth", stdout=StringIO())
    assert not AccessCutoff.objects.exists()


def test_prune_auth_keeps_a_recent_cutoff(bob, es256):
    revoke_everything(user=bob, reason="test")
    call_command("prune_auth", stdout=StringIO())
    assert AccessCutoff.objects.filter(user_id=bob.pk).exists()


def test_feed_is_not_cached(client, db, es256):
    assert "no-store" in client.get("/api/revocations/", **READER)["Cache-Control"]


def test_feed_is_a_json_404_for_hs256(client, db):
    response = client.get("/api/revocations/", **READER)
    assert response.status_code == 404 and response.json()["code"] == "not_available"


def test_verifier_checks_the_same_feed_type_and_audience():
    assert (revocations.FEED_TYPE, revocations.FEED_AUDIENCE) == (FEED_TYPE, FEED_AUDIENCE)


# -- who may read it ---------------------------------------------------------------------------


def test_feed_refuses_an_anonymous_read_with_a_json_401(client, db, es256):
    response = client.get("/api/revocations/")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="authdemo-revocations"'
    assert "no-store" in response["Cache-Control"]


def test_feed_refuses_a_wrong_token_with_a_json_401(client, db, es256):
    for header in (f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer", TOKEN):
        response = client.get("/api/revocations/", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401 and response.json()["code"] in ("not_authenticated", "authentication_failed")


def test_feed_accepts_every_configured_token_so_one_can_be_rotated(client, db, es256, settings):
    settings.REVOCATION_FEED_TOKENS = [TOKEN, NEXT_TOKEN]
    for token in (TOKEN, NEXT_TOKEN):
        assert client.get("/api/revocations/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_feed_without_a_token_configured_is_refused_with_debug_off(client, db, es256, settings):
    settings.REVOCATION_FEED_TOKENS = []
    response = client.get("/api/revocations/", **READER)
    assert (response.status_code, response.json()["code"]) == (503, "not_configured")


def test_feed_without_a_token_configured_is_open_in_debug_with_a_warning(client, db, es256, settings, caplog):
    settings.DEBUG, settings.REVOCATION_FEED_TOKENS = True, []
    wellknown._warned_open_feed.clear()  # it warns once per process
    with caplog.at_level(logging.WARNING, logger="api.wellknown"):
        assert client.get("/api/revocations/").status_code == 200
    assert "REVOCATION_FEED_TOKEN is not set: the revocation feed is open to anyone" in caplog.text


@pytest.mark.parametrize("value", ["short", f"{TOKEN},short", f"{TOKEN},", "é" * 40, f"{TOKEN[:20]} {TOKEN}"])
def test_a_bad_feed_token_stops_start_up_with_one_line(value):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "authdemo.settings", "REVOCATION_FEED_TOKEN": value}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith("REVOCATION_FEED_TOKEN is not valid; give tokens of 32+ printable ASCII bytes, comma-separated.")
    )


# -- size: usable at any number of revocations ---------------------------------------------------


def cut_off(count: int, *, first_id: int = 1, at: datetime | None = None) -> None:
    """`count` cut-offs a microsecond apart, the newest at `at` (now by default)."""
    at = at or timezone.now()
    rows = (AccessCutoff(user_id=first_id + n, at=at - timedelta(microseconds=n)) for n in range(count))
    AccessCutoff.objects.bulk_create(rows, batch_size=5000)


def test_feed_of_a_mass_revocation_fits_the_verifiers_body_cap(client, db, es256):
    """30,000 cut-offs with the longest ids (a 1.6 MiB feed if listed one by one) leave room under 1 MiB."""
    cut_off(30_000, first_id=2**63 - 30_001, at=timezone.now().replace(microsecond=123457))
    assert len(client.get("/api/revocations/", **READER).content) < MAX_BODY * 0.55


def test_feed_folds_older_cutoffs_into_revoked_before(client, db, es256):
    cut_off(FEED_MAX_CUTOFFS + 50)
    claims = feed(client)
    newest_folded = sorted(AccessCutoff.objects.values_list("at", flat=True))[-FEED_MAX_CUTOFFS - 1].timestamp()
    assert claims["revoked_before"] == newest_folded
    assert len(claims["cutoffs"]) == FEED_MAX_CUTOFFS and min(claims["cutoffs"].values()) > newest_folded


def test_feed_lists_every_cutoff_below_the_threshold(client, db, es256):
    cut_off(FEED_MAX_CUTOFFS)
    claims = feed(client)
    assert claims["revoked_before"] == 0 and len(claims["cutoffs"]) == FEED_MAX_CUTOFFS


def test_feed_at_a_million_revoked_users_fits_the_verifiers_body_cap(client, db, es256):
    """Every user of a million-user site logged out everywhere within the window (README: 'feed size')."""
    cut_off(1_000_000)
    body = client.get("/api/revocations/", **READER).content
    assert len(body) < MAX_BODY * 0.55
    assert len(jwt.decode(body, options={"verify_signature": False})["cutoffs"]) == FEED_MAX_CUTOFFS
