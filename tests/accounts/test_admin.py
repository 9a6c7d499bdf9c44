"""Revocation from Django admin: staff only, POST with CSRF, audited with who did it."""

from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import AuditEvent, User, UserSession
from tests.factories import PASSWORD, UserFactory
from tests.support import client_logged_in_as


def admin_client(staff) -> Client:
    admin = Client()
    admin.force_login(staff)
    return admin


def run_action(admin, url, action, pks):
    return admin.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks]}, follow=True)


def test_admin_action_logs_the_user_out_on_every_engine(alice, staff, revocable_engine):
    alices = client_logged_in_as(alice)
    admin = admin_client(staff)
    sessions = UserSession.objects.filter(user=alice).values_list("pk", flat=True)
    response = run_action(admin, "/admin/accounts/usersession/", "revoke_selected", sessions)
    assert "Revoked 1 session(s)" in response.content.decode()
    assert alices.get("/accounts/profile/").status_code == 302
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.SESSION_REVOKED)
    assert (event.user, event.actor) == (alice, staff)


def test_sessions_admin_lists_searches_and_filters(alice, bob, staff):
    client_logged_in_as(alice)
    client_logged_in_as(bob)
    admin = admin_client(staff)
    found = admin.get("/admin/accounts/usersession/?q=alice")
    assert {row.user.username for row in found.context["cl"].result_list} == {"alice"}
    assert admin.get("/admin/accounts/usersession/?engine=db&activity=hour").status_code == 200
    assert admin.get("/admin/accounts/usersession/?q=127.0.0.1").status_code == 200


def test_user_admin_log_out_everywhere_ends_sessions_and_tokens(client, alice, staff, api_login):
    pair = api_login(alice)
    alices = client_logged_in_as(alice)
    admin = admin_client(staff)
    response = run_action(admin, "/admin/accounts/user/", "log_out_everywhere", [alice.pk])
    assert "Logged out 1 user(s) everywhere" in response.content.decode()
    assert alices.get("/accounts/profile/").status_code == 302
    assert client.get("/api/dashboard/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}").status_code == 401
    assert AuditEvent.objects.get(kind=AuditEvent.Kind.EVERYTHING_REVOKED).actor == staff


def test_user_admin_shows_sessions_inline(alice, staff):
    client_logged_in_as(alice)
    body = admin_client(staff).get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()
    assert "Unknown client" in body  # the test client sends no User-Agent
    assert "All sessions of this user" in body


def test_outstanding_token_action_blacklists(client, alice, staff, api_login):
    pair = api_login(alice)
    admin = admin_client(staff)
    token = OutstandingToken.objects.get()
    response = run_action(admin, "/admin/token_blacklist/outstandingtoken/", "blacklist_selected", [token.pk])
    assert "Blacklisted 1 token(s)" in response.content.decode()
    refused = client.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json")
    assert refused.status_code == 401


def test_audit_log_admin_is_read_only(alice, staff):
    client_logged_in_as(alice)
    admin = admin_client(staff)
    event = AuditEvent.objects.first()
    assert admin.get("/admin/accounts/auditevent/").status_code == 200
    assert admin.get("/admin/accounts/auditevent/add/").status_code == 403
    assert admin.post(f"/admin/accounts/auditevent/{event.pk}/delete/").status_code == 403


def test_registry_rows_cannot_be_deleted_from_admin(alice, staff):
    client_logged_in_as(alice)
    admin = admin_client(staff)
    entry = UserSession.objects.get(user=alice)
    assert admin.post(f"/admin/accounts/usersession/{entry.pk}/delete/").status_code == 403


def test_non_staff_cannot_use_admin_actions(alice, bob):
    client_logged_in_as(alice)
    bobs = client_logged_in_as(bob)
    pk = UserSession.objects.get(user=alice).pk
    response = bobs.post("/admin/accounts/usersession/", {"action": "revoke_selected", "_selected_action": [pk]})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert UserSession.objects.filter(pk=pk).exists()


def test_staff_without_delete_permission_cannot_revoke(alice, db):
    client_logged_in_as(alice)
    viewer = UserFactory(username="viewer", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_usersession"))
    admin = admin_client(viewer)
    pk = UserSession.objects.get(user=alice).pk
    run_action(admin, "/admin/accounts/usersession/", "revoke_selected", [pk])
    assert UserSession.objects.filter(pk=pk).exists()


def test_admin_action_needs_csrf(alice, staff):
    client_logged_in_as(alice)
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(staff)
    pk = UserSession.objects.get(user=alice).pk
    response = admin.post("/admin/accounts/usersession/", {"action": "revoke_selected", "_selected_action": [pk]})
    assert response.status_code == 403
    assert UserSession.objects.filter(pk=pk).exists()


def test_admin_revoking_its_own_session_is_logged_out_cleanly(staff, revocable_engine):
    admin = Client()
    admin.post("/accounts/login/", {"username": "admin", "password": PASSWORD})
    own = UserSession.objects.get(user=staff)
    response = admin.post("/admin/accounts/usersession/", {"action": "revoke_selected", "_selected_action": [own.pk]})
    assert response.status_code == 302
    assert admin.get("/admin/").status_code == 302
    assert not UserSession.objects.filter(pk=own.pk).exists()


def test_user_admin_refuses_lookalike_username(alice, staff):
    new = {"username": "\u0430lice", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"}

    response = admin_client(staff).post("/admin/accounts/user/add/", {**new, "usable_password": "true"})

    assert response.status_code == 200
    assert "looks the same" in response.content.decode()
    assert not User.objects.filter(username=new["username"]).exists()


def test_user_admin_saves_user_with_unchanged_username(alice, staff):
    response = admin_client(staff).post(
        f"/admin/accounts/user/{alice.pk}/change/",
        {"username": "alice", "display_name": "Alicia", "date_joined_0": "2026-01-01", "date_joined_1": "10:00:00"},
    )

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.display_name == "Alicia"
