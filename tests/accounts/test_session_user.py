"""The session user without a per-request user query, and the revocations that make it safe."""

from django.test import Client

from accounts.vocabulary import REDIS, SIGNED_COOKIES
from tests.factories import PASSWORD
from tests.support import client_logged_in_as


def test_redis_session_page_makes_no_query(alice, use_engine, django_assert_num_queries):
    use_engine(REDIS)
    browser = client_logged_in_as(alice)
    with django_assert_num_queries(0):
        response = browser.get("/")
    assert b'data-auth-via="session"' in response.content


def test_database_session_page_makes_one_query(alice, django_assert_num_queries):
    browser = client_logged_in_as(alice)
    with django_assert_num_queries(1):  # the session row; no user row
        response = browser.get("/")
    assert b"Alice" in response.content


def test_signed_cookie_session_keeps_djangos_user_check(alice, use_engine, django_assert_num_queries):
    use_engine(SIGNED_COOKIES)
    browser = client_logged_in_as(alice)
    with django_assert_num_queries(1):  # the user row, to re-check the password hash
        browser.get("/")


def test_password_set_anywhere_logs_other_sessions_out(alice, revocable_engine):
    browser = client_logged_in_as(alice)
    alice.set_password("set-in-a-shell-123")
    alice.save()
    assert browser.get("/accounts/profile/").status_code == 302


UPGRADED_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher", "django.contrib.auth.hashers.MD5PasswordHasher"]


def test_hash_upgrade_on_login_keeps_other_sessions(alice, revocable_engine, settings):
    browser = client_logged_in_as(alice)  # alice's hash is MD5, the test settings' only hasher
    settings.PASSWORD_HASHERS = UPGRADED_HASHERS
    client_logged_in_as(alice)  # Django re-hashes the same password with Argon2 on this login
    alice.refresh_from_db()
    assert alice.password.startswith("argon2$")
    assert browser.get("/accounts/profile/").status_code == 200


def test_hash_upgrade_on_login_keeps_api_tokens(alice, api_login, settings):
    tokens = api_login(alice)
    settings.PASSWORD_HASHERS = UPGRADED_HASHERS
    client_logged_in_as(alice)
    refreshed = Client().post("/api/token/refresh/", {"refresh": tokens["refresh"]}, content_type="application/json")
    assert refreshed.status_code == 200


def test_deleting_a_user_ends_their_sessions(alice, revocable_engine):
    browser = client_logged_in_as(alice)
    alice.delete()
    assert browser.get("/accounts/profile/").status_code == 302


def test_privileges_are_read_fresh_not_from_the_snapshot(staff, revocable_engine):
    browser = client_logged_in_as(staff)
    assert browser.get("/admin/").status_code == 200
    staff.is_staff = staff.is_superuser = False
    staff.save()
    assert browser.get("/admin/").status_code == 302


def test_session_authenticated_api_call_makes_no_query_on_redis(alice, use_engine, django_assert_num_queries):
    use_engine(REDIS)
    browser = client_logged_in_as(alice)
    with django_assert_num_queries(0):  # DRF's SessionAuthentication also checks is_active
        response = browser.get("/compare/probe/session/")
    assert response.json()["message"] == "Access granted to alice"


def test_making_the_password_unusable_logs_sessions_out(alice, revocable_engine):
    from accounts.models import User

    browser = client_logged_in_as(alice)
    user = User.objects.get(pk=alice.pk)  # as the admin loads it
    user.set_unusable_password()
    user.save()
    assert browser.get("/accounts/profile/").status_code == 302


def test_admin_changing_its_own_password_keeps_a_registered_session(staff, revocable_engine):
    from accounts.models import UserSession

    admin = client_logged_in_as(staff)
    url = f"/admin/accounts/user/{staff.pk}/password/"
    admin.post(url, {"password1": "brand-new-pass-77", "password2": "brand-new-pass-77"})
    assert admin.get("/admin/").status_code == 200
    assert UserSession.objects.filter(user=staff).count() == 1


def test_logging_in_again_on_the_same_session_is_not_an_error(alice):
    browser = client_logged_in_as(alice)
    again = browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert again.status_code == 302
    assert again["Location"] == "/accounts/profile/"
    assert browser.get("/accounts/profile/").status_code == 200


def test_async_views_get_the_same_session_user(alice, client, rf):
    from asgiref.sync import async_to_sync
    from django.contrib.sessions.middleware import SessionMiddleware

    from accounts.middleware import TimedAuthenticationMiddleware

    client.force_login(alice)
    request = rf.get("/", HTTP_COOKIE=f"sessionid={client.cookies['sessionid'].value}")
    SessionMiddleware(lambda r: None).process_request(request)
    TimedAuthenticationMiddleware(lambda r: None).process_request(request)
    user = async_to_sync(request.auser)()
    assert user.get_username() == "alice"
    assert request.user.pk == user.pk
