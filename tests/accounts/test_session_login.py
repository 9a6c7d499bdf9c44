"""Login, profile and logout on every session engine (db, redis, cached_db, signed_cookies)."""

from django.conf import settings
from django.core.management import call_command

from accounts.vocabulary import SIGNED_COOKIES
from tests.pages import form_errors


def test_login_greets_by_display_name(client, alice, login, session_engine):
    response = login(alice, follow=True)
    assert response.status_code == 200
    assert "Welcome back, Alice" in response.content.decode()


def test_profile_shows_engine_and_stored_keys(client, alice, login, session_engine):
    login(alice)
    body = client.get("/accounts/profile/").content.decode()
    assert f"<code>{session_engine}</code>" in body
    assert "_auth_user_id" in body


def test_profile_shows_key_prefix_never_whole_key(client, alice, login, session_engine):
    login(alice)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    body = client.get("/accounts/profile/").content.decode()
    assert key not in body
    if session_engine != SIGNED_COOKIES:
        assert f"{key[:8]}…" in body


def test_logout_ends_the_session(client, alice, login, session_engine):
    login(alice)
    response = client.post("/accounts/logout/", follow=True)
    assert "You are logged out" in response.content.decode()
    assert client.get("/accounts/profile/").status_code == 302


def test_logout_by_get_is_refused(client, alice, login, session_engine):
    login(alice)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/accounts/profile/").status_code == 200


def test_login_page_as_its_own_next_sends_a_logged_in_visitor_to_the_profile(client, alice, login):
    login(alice)
    response = client.get("/accounts/login/?next=/accounts/login/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/profile/"


def test_login_with_the_login_page_as_next_lands_on_the_profile(client, alice, login):
    response = login(alice, QUERY_STRING="next=/accounts/login/%3Fnext%3D/accounts/login/")
    assert response["Location"] == "/accounts/profile/"


def test_login_page_shows_demo_passwords_where_seed_demo_ran(client, db, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    assert b"alice-demo-pass" in client.get("/accounts/login/").content


def test_login_page_hides_demo_passwords_with_debug_off(client, db):
    call_command("seed_demo", force=True)
    assert b"demo-pass" not in client.get("/accounts/login/").content


def test_login_page_hides_demo_passwords_where_no_demo_user_exists(client, db, settings):
    settings.DEBUG = True
    assert b"demo-pass" not in client.get("/accounts/login/").content


def test_wrong_password_and_unknown_user_get_the_same_message(client, alice):
    wrong = client.post("/accounts/login/", {"username": "alice", "password": "nope-nope-nope"})
    unknown = client.post("/accounts/login/", {"username": "nobody", "password": "nope-nope-nope"})
    assert wrong.status_code == unknown.status_code == 200
    assert form_errors(wrong) == form_errors(unknown)
    assert list(form_errors(wrong)) == ["__all__"]


def test_session_cookie_is_httponly_and_samesite(client, alice, login, session_engine):
    response = login(alice)
    morsel = response.cookies[settings.SESSION_COOKIE_NAME]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"


def test_session_key_changes_at_login(client, alice, login, session_engine):
    """Session fixation (OWASP Session Management): the pre-login key must not survive."""
    client.get("/accounts/login/")
    client.cookies[settings.SESSION_COOKIE_NAME] = "attacker-chosen-key-0123456789abcd"
    login(alice)
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != "attacker-chosen-key-0123456789abcd"


def test_forged_session_cookies_are_anonymous(client, alice, session_engine):
    # A WSGI server hands non-ASCII header bytes to Django as latin-1: mimic that.
    non_ascii = "ключ-сессии".encode().decode("latin-1")
    for value in ("garbage", "x" * 5000, non_ascii, "a:b:c", ""):
        client.cookies[settings.SESSION_COOKIE_NAME] = value
        response = client.get("/")
        assert response.status_code == 200
        assert b'data-auth-via="anonymous"' in response.content


def test_authenticated_pages_are_not_cacheable(client, alice, login):
    login(alice)
    response = client.get("/accounts/profile/")
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_every_response_names_the_scheme_in_server_timing(client, alice, login):
    assert 'desc="anonymous"' in client.get("/").headers["Server-Timing"]
    login(alice)
    assert 'desc="session"' in client.get("/accounts/profile/").headers["Server-Timing"]


# The profile page reads nothing but the session: the user comes from the login's snapshot
# (where the server can end sessions) and the login time from the session itself.
PROFILE_QUERIES = {"db": 1, "redis": 0, "cached_db": 0, "signed_cookies": 1}  # the row; the user (Django's check)


def test_profile_reads_nothing_beyond_the_session(client, alice, login, session_engine, django_assert_num_queries):
    login(alice)
    client.get("/accounts/profile/")  # the first request after login may move the registry's last-seen time
    # db: the row. Inside the test's transaction even the engine with copies keeps none
    # (copies.postgres_sessions); its query-free reads: tests/copies/test_postgres_sessions.py.
    with django_assert_num_queries(PROFILE_QUERIES[session_engine]):
        assert client.get("/accounts/profile/").status_code == 200


def test_profile_shows_when_the_session_logged_in(client, alice, login, session_engine):
    from accounts.models import UserSession

    login(alice)
    created = UserSession.objects.get(user=alice).created_at
    body = client.get("/accounts/profile/").content.decode()
    assert f">{created:%Y-%m-%d %H:%M:%S} UTC</time>" in body
