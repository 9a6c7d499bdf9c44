"""Remove what has expired, in small batches, so it can run while the site serves."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import AccessCutoff, AuditEvent, TokenFamily, UserSession
from accounts.selectors import cutoff_window


def delete_in_batches(queryset: QuerySet, *, batch_size: int) -> int:
    """Delete the rows of `queryset` a batch at a time; each batch is its own short transaction.

    Short transactions hold locks briefly, so logins and refreshes are not blocked behind
    a delete of millions of rows.
    """
    deleted = 0
    while True:
        pks = list(queryset.values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=pks).delete()[0]


def prune_expired(*, audit_days: int = 90, batch_size: int = 5000) -> dict[str, int]:
    """Delete expired sessions, registry rows, tokens, finished API logins and old audit rows."""
    now = timezone.now()
    engine = import_module(settings.SESSION_ENGINE).SessionStore
    engine.clear_expired()  # the engine's own cleanup: database rows; caches expire by themselves
    expired_tokens = OutstandingToken.objects.filter(expires_at__lte=now)
    return {
        "registry rows": delete_in_batches(UserSession.objects.filter(expires_at__lte=now), batch_size=batch_size),
        "blacklist entries": delete_in_batches(
            BlacklistedToken.objects.filter(token__in=expired_tokens), batch_size=batch_size
        ),
        "outstanding tokens": delete_in_batches(expired_tokens, batch_size=batch_size),
        "API logins": delete_in_batches(
            TokenFamily.objects.filter(Q(expires_at__lte=now) | Q(revoked_at__lte=now - timedelta(days=1))),
            batch_size=batch_size,
        ),
        "access cut-offs": delete_in_batches(
            AccessCutoff.objects.filter(at__lt=now - cutoff_window()), batch_size=batch_size
        ),
        "audit events": delete_in_batches(
            AuditEvent.objects.filter(at__lt=now - timedelta(days=audit_days)), batch_size=batch_size
        ),
    }
