"""Obtain, use, rotate, replay and blacklist tokens through the real endpoints."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import AuditEvent, TokenFamily
from tests.factories import PASSWORD


def refresh(client, token):
    return client.post("/api/token/refresh/", {"refresh": token}, content_type="application/json")


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_token_obtain_returns_access_and_refresh(api_login, bob):
    pair = api_login(bob)
    assert set(pair) == {"access", "refresh"}


def test_token_obtain_answer_is_not_stored(client, bob):
    response = client.post(
        "/api/token/", {"username": "bob", "password": PASSWORD}, content_type="application/json"
    )  # RFC 6749 5.1
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_refresh_answer_is_not_stored(client, api_login, bob):
    response = refresh(client, api_login(bob)["refresh"])
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_token_obtain_wrong_password_and_unknown_user_answer_alike(client, bob):
    wrong = client.post("/api/token/", {"username": "bob", "password": "nope"}, content_type="application/json")
    unknown = client.post("/api/token/", {"username": "zed", "password": "nope"}, content_type="application/json")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong["WWW-Authenticate"].startswith("Bearer")


def test_dashboard_answers_in_the_classic_shape(client, api_login, bob):
    pair = api_login(bob)
    body = client.get("/api/dashboard/", **bearer(pair["access"])).json()
    assert body["message"] == "Access granted to bob"
    assert body["data"]["user_id"] == bob.pk
    assert body["data"]["username"] == "bob"
    assert {"iat", "exp", "jti", "iss", "aud"} <= set(body["data"])


@pytest.mark.parametrize("mode", ["cutoff", "off"])
def test_dashboard_makes_no_database_query(
    client, api_login, bob, settings, mode, redis_cache, django_assert_num_queries
):
    """The cut-off is read from the shared cache (Redis); none of the modes queries the database."""
    settings.JWT_REVOCATION = mode
    pair = api_login(bob)
    with django_assert_num_queries(0):
        response = client.get("/api/dashboard/", **bearer(pair["access"]))
    assert response.status_code == 200


def test_database_user_variant_queries_the_user(client, api_login, bob, redis_cache, django_assert_num_queries):
    pair = api_login(bob)
    with django_assert_num_queries(1):
        response = client.get("/api/dashboard/db/", **bearer(pair["access"]))
    assert response.json()["message"] == "Access granted to bob"


def test_me_names_the_bearer_transport(client, api_login, bob):
    pair = api_login(bob)
    body = client.get("/api/me/", **bearer(pair["access"])).json()
    assert body == {"id": bob.pk, "username": "bob", "display_name": "Bob", "authenticated_by": "jwt-bearer"}


def test_me_names_the_session_transport(client, bob, login):
    login(bob)
    assert client.get("/api/me/").json()["authenticated_by"] == "session"


def test_server_timing_names_jwt_bearer(client, api_login, bob):
    pair = api_login(bob)
    timing = client.get("/api/dashboard/", **bearer(pair["access"]))["Server-Timing"]
    assert timing.startswith("auth;dur=")
    assert 'desc="jwt-bearer"' in timing


def test_refresh_rotates_and_blacklists_the_old_token(client, api_login, bob):
    pair = api_login(bob)
    response = refresh(client, pair["refresh"])
    assert response.status_code == 200
    new = response.json()
    assert new["refresh"] != pair["refresh"]
    assert BlacklistedToken.objects.count() == 1
    assert client.get("/api/dashboard/", **bearer(new["access"])).status_code == 200


def test_refresh_token_blacklisted_by_hand_is_refused_as_revoked(client, api_login, bob):
    pair = api_login(bob)
    BlacklistedToken.objects.create(token=OutstandingToken.objects.get())  # as SimpleJWT's admin can

    response = refresh(client, pair["refresh"])

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert OutstandingToken.objects.count() == 1  # nothing rotated


def test_refresh_records_one_audit_event_with_the_rotation(client, api_login, bob):
    pair = api_login(bob)
    refresh(client, pair["refresh"])
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.TOKEN_REFRESHED, user=bob).count() == 1


def test_replayed_refresh_token_revokes_the_whole_family(client, api_login, bob, settings):
    pair = api_login(bob)
    newest = refresh(client, pair["refresh"]).json()
    with time_machine.travel(timezone.now() + settings.JWT_REFRESH_REUSE_INTERVAL + timedelta(seconds=1)):
        replay = refresh(client, pair["refresh"])
        assert replay.status_code == 401
        assert replay.json()["code"] == "token_reused"
        assert refresh(client, newest["refresh"]).json()["code"] == "token_revoked"
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REUSE_DETECTED, user=bob).count() == 1
    assert TokenFamily.objects.get().revoked_reason == "reuse"


def test_refresh_token_just_rotated_returns_the_current_pair_within_the_reuse_interval(client, api_login, bob):
    pair = api_login(bob)
    newest = refresh(client, pair["refresh"]).json()

    again = refresh(client, pair["refresh"])

    assert again.status_code == 200
    assert again.json()["refresh"] == newest["refresh"]
    assert client.get("/api/dashboard/", **bearer(again.json()["access"])).status_code == 200
    assert TokenFamily.objects.get().revoked_at is None
    assert refresh(client, newest["refresh"]).status_code == 200


def test_refresh_token_two_rotations_old_revokes_within_the_reuse_interval(client, api_login, bob):
    pair = api_login(bob)
    second = refresh(client, pair["refresh"]).json()
    refresh(client, second["refresh"])

    replay = refresh(client, pair["refresh"])

    assert replay.json()["code"] == "token_reused"
    assert TokenFamily.objects.get().revoked_reason == "reuse"


def test_blacklist_endpoint_logs_the_api_login_out(client, api_login, bob):
    pair = api_login(bob)
    response = client.post("/api/token/blacklist/", {"refresh": pair["refresh"]}, content_type="application/json")
    assert response.status_code == 200
    assert refresh(client, pair["refresh"]).status_code == 401
    assert OutstandingToken.objects.filter(blacklistedtoken__isnull=False).count() == 1


def test_verify_accepts_live_tokens_and_refuses_revoked_ones(client, api_login, bob):
    pair = api_login(bob)
    for token in pair.values():
        assert client.post("/api/token/verify/", {"token": token}, content_type="application/json").status_code == 200
    refresh(client, pair["refresh"])
    stale = client.post("/api/token/verify/", {"token": pair["refresh"]}, content_type="application/json")
    assert stale.status_code == 401


def test_access_token_expires_after_five_minutes(client, api_login, bob):
    pair = api_login(bob)
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=11)):
        response = client.get("/api/dashboard/", **bearer(pair["access"]))
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_refresh_token_expires_after_a_day(client, api_login, bob):
    pair = api_login(bob)
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=11)):
        response = refresh(client, pair["refresh"])
    assert response.json()["code"] == "token_expired"


def test_rotation_cannot_outlive_the_absolute_lifetime(client, api_login, bob):
    token = api_login(bob)["refresh"]
    start = timezone.now()
    for hours in range(20, 24 * 7, 20):  # refresh every 20 hours: each token stays fresh
        with time_machine.travel(start + timedelta(hours=hours)):
            response = refresh(client, token)
            assert response.status_code == 200, hours
            token = response.json()["refresh"]
    with time_machine.travel(start + timedelta(days=7, minutes=1)):
        assert refresh(client, token).json()["code"] == "token_expired"


def test_cutoff_revokes_live_access_tokens(client, api_login, bob):
    from accounts.services import revoke_everything

    pair = api_login(bob)
    revoke_everything(user=bob, reason="test")
    response = client.get("/api/dashboard/", **bearer(pair["access"]))
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_without_cutoff_access_tokens_live_until_they_expire(client, api_login, bob, settings):
    from accounts.services import revoke_everything

    settings.JWT_REVOCATION = "off"
    pair = api_login(bob)
    revoke_everything(user=bob, reason="test")
    assert client.get("/api/dashboard/", **bearer(pair["access"])).status_code == 200
    assert refresh(client, pair["refresh"]).status_code == 401


def test_tokens_issued_right_after_the_cutoff_work(client, api_login, bob):
    """Issue times have sub-second precision: logging in again at once is not refused."""
    from accounts.services import revoke_everything

    revoke_everything(user=bob, reason="test")
    pair = api_login(bob)
    assert client.get("/api/dashboard/", **bearer(pair["access"])).status_code == 200


def test_token_events_are_audited(client, api_login, bob):
    pair = api_login(bob)
    refresh(client, pair["refresh"])
    kinds = set(AuditEvent.objects.filter(user=bob).values_list("kind", flat=True))
    assert {AuditEvent.Kind.TOKEN_OBTAINED, AuditEvent.Kind.TOKEN_REFRESHED} <= kinds


def test_a_token_used_before_still_expires(client, api_login, bob):
    pair = api_login(bob)
    assert client.get("/api/dashboard/", **bearer(pair["access"])).status_code == 200  # now remembered
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=11)):
        response = client.get("/api/dashboard/", **bearer(pair["access"]))
    assert response.json()["code"] == "token_expired"


def test_a_token_used_before_is_still_revocable(client, api_login, bob):
    from accounts.services import revoke_everything

    pair = api_login(bob)
    assert client.get("/api/dashboard/", **bearer(pair["access"])).status_code == 200
    revoke_everything(user=bob, reason="test")
    assert client.get("/api/dashboard/", **bearer(pair["access"])).json()["code"] == "token_revoked"


def test_a_tampered_copy_of_a_remembered_token_is_refused(client, api_login, bob):
    pair = api_login(bob)
    client.get("/api/dashboard/", **bearer(pair["access"]))
    header, payload, signature = pair["access"].split(".")
    tampered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    assert client.get("/api/dashboard/", **bearer(tampered)).status_code == 401


def test_without_a_shared_cache_the_cutoff_is_read_from_the_database(
    client, api_login, bob, settings, django_assert_num_queries
):
    """A per-process memory cache cannot see other processes' revocations: it is not trusted."""
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local-only"}
    settings.CACHES = {**settings.CACHES, "default": local}
    pair = api_login(bob)
    with django_assert_num_queries(1):
        assert client.get("/api/dashboard/", **bearer(pair["access"])).status_code == 200


def test_a_deleted_users_token_is_refused_even_after_the_cache_forgets(client, api_login, bob):
    from django.core.cache import cache

    from accounts.selectors import cutoff_cache_key

    pair = api_login(bob)
    user_id = bob.pk
    bob.delete()
    cache.delete(cutoff_cache_key(user_id))  # evicted, as a cache may do at any time
    assert client.get("/api/dashboard/", **bearer(pair["access"])).json()["code"] == "token_revoked"


def verify(client, token, **extra):
    return client.post("/api/token/verify/", {"token": token}, content_type="application/json", **extra)


def test_verify_of_a_just_rotated_refresh_token_revokes_nothing(client, api_login, bob):
    pair = api_login(bob)
    newest = refresh(client, pair["refresh"]).json()

    answer = verify(client, pair["refresh"])

    assert answer.status_code == 401
    assert answer.json()["code"] == "token_not_valid"
    assert TokenFamily.objects.get().revoked_at is None
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.REUSE_DETECTED).exists()
    assert refresh(client, newest["refresh"]).status_code == 200


def test_verify_of_an_old_refresh_token_revokes_nothing_after_the_reuse_interval(client, api_login, bob, settings):
    pair = api_login(bob)
    second = refresh(client, pair["refresh"]).json()
    newest = refresh(client, second["refresh"]).json()
    with time_machine.travel(timezone.now() + settings.JWT_REFRESH_REUSE_INTERVAL + timedelta(seconds=1)):
        assert verify(client, pair["refresh"]).status_code == 401
        assert verify(client, newest["refresh"]).status_code == 200
    assert TokenFamily.objects.get().revoked_at is None


def test_verify_of_a_refresh_token_that_was_replayed_on_refresh_says_revoked(client, api_login, bob, settings):
    pair = api_login(bob)
    newest = refresh(client, pair["refresh"]).json()
    with time_machine.travel(timezone.now() + settings.JWT_REFRESH_REUSE_INTERVAL + timedelta(seconds=1)):
        refresh(client, pair["refresh"])  # the replay that reuse detection is for
        assert verify(client, newest["refresh"]).json()["code"] == "token_revoked"


def test_auth_throttle_counts_an_ipv6_client_by_its_64(client, db, settings):
    """One subscriber holds a whole /64 (RFC 6177), as the per-address limits count it."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "3/minute"}}
    for n in range(3):
        assert verify(client, "not-a-token", REMOTE_ADDR=f"2001:db8:1:2::{n + 1}").status_code == 401
    assert verify(client, "not-a-token", REMOTE_ADDR="2001:db8:1:2:ffff:ffff:ffff:ffff").status_code == 429
    assert verify(client, "not-a-token", REMOTE_ADDR="2001:db8:1:3::1").status_code == 401
