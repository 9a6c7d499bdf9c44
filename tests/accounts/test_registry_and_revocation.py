"""The session registry, the sessions page, and revocation on every engine."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import services
from accounts.authentication import REGISTRY_KEY
from accounts.models import AuditEvent, UserSession
from accounts.vocabulary import CACHED_DB, SIGNED_COOKIES
from tests.support import client_logged_in_as


def test_login_registers_the_session(client, alice, login, session_engine):
    login(alice, HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")
    entry = UserSession.objects.get(user=alice)
    assert entry.engine == session_engine
    assert entry.ip == "127.0.0.1"
    assert (entry.session_key is None) == (session_engine == SIGNED_COOKIES)
    body = client.get("/accounts/sessions/").content.decode()
    assert "Firefox on Linux" in body
    assert "this session" in body


def test_logout_removes_the_registry_row(client, alice, login, session_engine):
    login(alice)
    client.post("/accounts/logout/")
    assert not UserSession.objects.filter(user=alice).exists()


def test_last_seen_is_written_at_most_once_a_minute(client, alice, login, session_engine):
    login(alice)
    entry = UserSession.objects.get(user=alice)
    client.get("/accounts/profile/")
    assert UserSession.objects.get(pk=entry.pk).last_seen == entry.last_seen
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert client.get("/accounts/profile/").status_code == 200
        assert client.get("/accounts/profile/").status_code == 200  # the touched session was saved
    assert UserSession.objects.get(pk=entry.pk).last_seen > entry.last_seen


def test_revoking_another_session_logs_it_out(client, alice, login, revocable_engine):
    other = client_logged_in_as(alice)
    login(alice)
    target = UserSession.objects.exclude(pk=client.session[REGISTRY_KEY]).get(user=alice)
    response = client.post("/accounts/sessions/revoke/", {"id": target.pk}, follow=True)
    assert "Session ended" in response.content.decode()
    assert other.get("/accounts/profile/").status_code == 302
    assert client.get("/accounts/profile/").status_code == 200


def test_revoke_all_others_keeps_this_one(client, alice, login, revocable_engine):
    others = [client_logged_in_as(alice) for _ in range(2)]
    login(alice)
    response = client.post("/accounts/sessions/revoke-others/", follow=True)
    assert "Ended 2 other sessions" in response.content.decode()
    assert all(o.get("/accounts/profile/").status_code == 302 for o in others)
    assert client.get("/accounts/profile/").status_code == 200


def test_cached_db_revocation_also_clears_the_cache(client, alice, login, use_engine):
    """Deleting the Session row alone would leave cached_db's cached copy alive."""
    use_engine(CACHED_DB)
    other = client_logged_in_as(alice)
    other.get("/accounts/profile/")  # now cached
    services.revoke_session(session=UserSession.objects.get(user=alice), actor=None, request=None)
    assert other.get("/accounts/profile/").status_code == 302


def test_signed_cookie_sessions_cannot_be_revoked_and_say_so(client, alice, login, use_engine):
    use_engine(SIGNED_COOKIES)
    other = client_logged_in_as(alice)
    login(alice)
    body = client.get("/accounts/sessions/").content.decode()
    assert "cannot end one of them early" in body
    target = UserSession.objects.exclude(pk=client.session[REGISTRY_KEY]).get(user=alice)
    response = client.post("/accounts/sessions/revoke/", {"id": target.pk}, follow=True)
    assert "cannot be ended by the server" in response.content.decode()
    assert other.get("/accounts/profile/").status_code == 200


def test_revoking_someone_elses_session_changes_nothing(client, alice, bob, login):
    bobs = client_logged_in_as(bob)
    login(alice)
    target = UserSession.objects.get(user=bob)
    response = client.post("/accounts/sessions/revoke/", {"id": target.pk}, follow=True)
    assert "does not exist or is not yours" in response.content.decode()
    assert bobs.get("/accounts/profile/").status_code == 200


def test_revoking_a_missing_session_gets_a_clear_message(client, alice, login):
    login(alice)
    response = client.post("/accounts/sessions/revoke/", {"id": "6c1e0c5e-0000-4000-8000-000000000000"}, follow=True)
    assert "does not exist or is not yours" in response.content.decode()
    response = client.post("/accounts/sessions/revoke/", {"id": "not-a-uuid"}, follow=True)
    assert "named no session" in response.content.decode()


@pytest.mark.parametrize(
    "url", ["/accounts/sessions/revoke/", "/accounts/sessions/revoke-others/", "/accounts/sessions/revoke-api/",
            "/accounts/sessions/everywhere/"],
)  # fmt: skip
def test_revoke_urls_refuse_get(client, alice, login, url):
    login(alice)
    assert client.get(url).status_code == 405


def test_sessions_page_never_lists_other_users(client, alice, bob, login):
    client_logged_in_as(bob, HTTP_USER_AGENT="BobBrowser/1.0")
    login(alice)
    assert "BobBrowser" not in client.get("/accounts/sessions/").content.decode()


def test_log_out_everywhere_ends_sessions_and_tokens(client, alice, login, api_login, revocable_engine):
    pair = api_login(alice)
    other = client_logged_in_as(alice)
    login(alice)
    response = client.post("/accounts/sessions/everywhere/", follow=True)
    assert "Logged out everywhere" in response.content.decode()
    assert other.get("/accounts/profile/").status_code == 302
    api = Client()
    assert api.get("/api/dashboard/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}").status_code == 401
    assert (
        api.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json").status_code
        == 401
    )


def test_log_out_everywhere_leaves_no_refresh_token_unblacklisted(client, alice, api_login):
    """Revoking blacklists only each login's newest token: the ones before it must already be
    blacklisted by the refreshes that replaced them, through the real endpoints."""
    refresh = api_login(alice)["refresh"]
    for _ in range(3):
        refresh = (
            Client()
            .post("/api/token/refresh/", {"refresh": refresh}, content_type="application/json")
            .json()["refresh"]
        )
    api_login(alice)
    assert OutstandingToken.objects.filter(user=alice, blacklistedtoken__isnull=True).count() == 2  # the two newest
    services.revoke_everything(user=alice, reason="test")
    assert OutstandingToken.objects.filter(user=alice).count() == 5
    assert not OutstandingToken.objects.filter(user=alice, blacklistedtoken__isnull=True).exists()


def test_api_logins_are_listed_and_revocable(client, alice, login, api_login):
    pair = api_login(alice)
    login(alice)
    family = alice.token_families.get()
    assert "Bearer header" in client.get("/accounts/sessions/").content.decode()
    client.post("/accounts/sessions/revoke-api/", {"id": family.pk})
    response = Client().post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json")
    assert response.json()["code"] == "token_revoked"


def test_deactivating_a_user_ends_everything(client, alice, api_login, revocable_engine):
    pair = api_login(alice)
    browser = client_logged_in_as(alice)
    alice.is_active = False
    alice.save()
    assert browser.get("/accounts/profile/").status_code == 302
    assert Client().get("/api/dashboard/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}").status_code == 401


def test_own_events_are_shown_on_the_sessions_page(client, alice, login):
    client.post("/accounts/login/", {"username": "alice", "password": "wrong-password"})
    login(alice)
    body = client.get("/accounts/sessions/").content.decode()
    assert "Logged in" in body
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_FAILED, username="alice").exists()


def test_blacklisting_again_or_nothing_changes_nothing(alice, api_login):
    api_login(alice)
    api_login(alice)
    tokens = OutstandingToken.objects.filter(user=alice)
    first = tokens.order_by("pk")[:1]
    services.blacklist_tokens(tokens=tokens.filter(pk__in=first), actor=None, request=None)
    assert list(BlacklistedToken.objects.values_list("token_id", flat=True)) == list(first.values_list("pk", flat=True))
    services.blacklist_tokens(tokens=tokens, actor=None, request=None)  # one of them already blacklisted
    assert BlacklistedToken.objects.count() == 2
    assert services.blacklist_tokens(tokens=tokens.none(), actor=None, request=None) == 0
    assert BlacklistedToken.objects.count() == 2


def test_an_unfiltered_queryset_is_blacklisted_whole(alice, bob, api_login):
    """A SELECT without a WHERE (every outstanding token) still makes one valid statement; on
    SQLite an ON CONFLICT after it would otherwise be read as a join's ON."""
    api_login(alice)
    api_login(bob)
    services._blacklist(OutstandingToken.objects.all())
    assert BlacklistedToken.objects.count() == OutstandingToken.objects.count() == 2


# Someone else's 50,000 rotated tokens, all blacklisted, and 300 of the user's in ten API logins:
# each login's newest token (own-291 to own-300) live, the 290 before them blacklisted when they
# were rotated away; as the tables look after a while in production.
MANY_TOKENS_SQL = [
    """INSERT INTO token_blacklist_outstandingtoken (jti, token, created_at, expires_at, user_id)
       SELECT 'other-' || g, '', now(), now() + interval '1 day', %(other)s FROM generate_series(1, 50000) g
       UNION ALL
       SELECT 'own-' || g, '', now(), now() + interval '1 day', %(user)s FROM generate_series(1, 300) g""",
    """INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at)
       SELECT id, now() FROM token_blacklist_outstandingtoken
       WHERE user_id = %(other)s OR split_part(jti, '-', 2)::int < 291""",
    """INSERT INTO accounts_tokenfamily (id, current_jti, previous_jti, transport, created_at, last_used_at,
                                        expires_at, revoked_reason, user_agent, user_id)
       SELECT gen_random_uuid(), 'own-' || g, '', 'bearer', now(), now(), now() + interval '1 day', '', '', %(user)s
       FROM generate_series(291, 300) g""",
    "ANALYZE token_blacklist_outstandingtoken, token_blacklist_blacklistedtoken, accounts_tokenfamily",
]


@pytest.mark.postgres
def test_revoking_everything_costs_the_users_logins_not_the_token_tables(postgres, alice, bob):
    """Revoking reads each API login's newest token (ten rows here), not every token of the user's
    (300) nor the blacklist's 50,000 entries: the statements that touch the token tables, run again
    under EXPLAIN ANALYZE, read no more rows of them than there are logins."""
    with connection.cursor() as cursor:
        for statement in MANY_TOKENS_SQL:
            cursor.execute(statement, {"user": alice.pk, "other": bob.pk})
    with CaptureQueriesContext(connection) as queries:
        services.revoke_everything(user=alice, reason="test")
    read = {}
    with connection.cursor() as cursor:
        for query in [q["sql"] for q in queries if "token_blacklist" in q["sql"]]:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}")  # the blacklist holds them all now: no write
            for node in _plan_nodes(cursor.fetchone()[0][0]["Plan"]):
                if node.get("Relation Name", "").startswith("token_blacklist"):
                    rows = node["Actual Rows"] * node["Actual Loops"]
                    read[node["Relation Name"]] = read.get(node["Relation Name"], 0) + rows
    assert read and all(rows <= 10 for rows in read.values()), read
    assert not OutstandingToken.objects.filter(user=alice, blacklistedtoken__isnull=True).exists()
    assert BlacklistedToken.objects.count() == 50_300


def _plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)
