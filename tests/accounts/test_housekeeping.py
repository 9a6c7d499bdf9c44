"""prune_auth removes what has expired, in batches, and keeps what is live."""

from datetime import timedelta

import time_machine
from django.core.management import call_command
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.housekeeping import delete_in_batches
from accounts.models import AuditEvent, TokenFamily, UserSession
from tests.factories import PASSWORD, AuditEventFactory


def test_prune_removes_expired_and_keeps_live(client, alice, bob, api_login, login):
    api_login(alice)
    refreshed = client.post(
        "/api/token/refresh/", {"refresh": api_login(alice)["refresh"]}, content_type="application/json"
    )
    assert refreshed.status_code == 200
    login(alice)
    with time_machine.travel(timezone.now() + timedelta(days=100)):
        client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
        api_login(bob)
        call_command("prune_auth", batch_size=2)
        assert list(UserSession.objects.values_list("user__username", flat=True)) == ["bob"]
        assert list(TokenFamily.objects.values_list("user__username", flat=True)) == ["bob"]
        assert OutstandingToken.objects.count() == 1
        assert BlacklistedToken.objects.count() == 0
        assert not AuditEvent.objects.filter(user=alice).exists()
        assert AuditEvent.objects.filter(user=bob).exists()


def test_delete_in_batches_deletes_everything_asked(alice):
    AuditEventFactory.create_batch(7, user=alice)
    assert delete_in_batches(AuditEvent.objects.filter(user=alice), batch_size=3) == 7
    assert not AuditEvent.objects.exists()
