"""The signed revocation feed that carries the per-user cut-off to services without the database."""

from datetime import timedelta
from io import StringIO

import jwt
import time_machine
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AccessCutoff
from accounts.services import revoke_everything
from api import keys
from api.wellknown import FEED_AUDIENCE, FEED_TYPE
from verifier import revocations


def feed(client) -> dict:
    response = client.get("/api/revocations/")
    assert response.status_code == 200 and response["Content-Type"] == "application/jwt"
    public = keys.load_ring().active.public_key
    return jwt.decode(response.content, public, algorithms=["ES256"], audience=FEED_AUDIENCE, issuer="authdemo")


def test_feed_lists_a_fresh_cutoff(client, bob, es256):
    revoke_everything(user=bob, reason="test")
    assert feed(client)["cutoffs"] == {str(bob.pk): bob.tokens_valid_after.timestamp()}


def test_feed_drops_a_cutoff_once_every_token_it_voids_has_expired(client, bob, es256):
    revoke_everything(user=bob, reason="test")
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=11)):
        assert feed(client)["cutoffs"] == {}


def test_feed_is_typed_so_it_cannot_pass_as_an_access_token(client, db, es256):
    header = jwt.get_unverified_header(client.get("/api/revocations/").content)
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
    assert client.get("/api/revocations/").content == client.get("/api/revocations/").content


def test_feed_is_signed_again_once_its_cache_interval_passed(client, bob, es256, settings):
    settings.REVOCATION_FEED_CACHE = 0
    feed(client)
    revoke_everything(user=bob, reason="test")
    assert str(bob.pk) in feed(client)["cutoffs"]


def test_prune_auth_drops_cutoffs_that_void_nothing_live(bob, es256):
    revoke_everything(user=bob, reason="test")
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=11)):
        call_command("prune_auth", stdout=StringIO())
    assert not AccessCutoff.objects.exists()


def test_prune_auth_keeps_a_recent_cutoff(bob, es256):
    revoke_everything(user=bob, reason="test")
    call_command("prune_auth", stdout=StringIO())
    assert AccessCutoff.objects.filter(user_id=bob.pk).exists()


def test_feed_is_not_cached(client, db, es256):
    assert "no-store" in client.get("/api/revocations/")["Cache-Control"]


def test_feed_is_a_json_404_for_hs256(client, db):
    response = client.get("/api/revocations/")
    assert response.status_code == 404 and response.json()["code"] == "not_available"


def test_verifier_checks_the_same_feed_type_and_audience():
    assert (revocations.FEED_TYPE, revocations.FEED_AUDIENCE) == (FEED_TYPE, FEED_AUDIENCE)
