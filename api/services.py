"""Issue, rotate and end refresh-token families (RFC 9700, section 4.14.2).

Every login starts a family; each refresh replaces the family's one live token. A
token of the family that is not the live one has been rotated already: presenting it
again means it leaked, so the whole family, newest token included, is revoked; except
the token just rotated away, for a few seconds (the reuse interval, `_replayed`), which
is what two tabs or a retried request send.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import update_last_login
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import services as accounts_services
from accounts.http import client_ip, user_agent
from accounts.models import AuditEvent, TokenFamily
from accounts.selectors import get_access_cutoff
from api import dpop
from api.tokens import (
    bound_key,
    expires_at,
    invalid,
    login_expired,
    mint_refresh_token,
    parse_refresh_token,
    remint_refresh_token,
    stamp_issue_time,
)


@dataclass(frozen=True)
class TokenPair:
    username: str
    access: str
    refresh: str
    access_expires_at: object
    refresh_expires_at: object
    dpop_bound: bool = False

    def as_json(self) -> dict[str, str]:
        """The token answer; a bearer client's is as it always was (RFC 9449 5: DPoP-bound says so)."""
        bound = {"token_type": "DPoP"} if self.dpop_bound else {}
        return {"access": self.access, "refresh": self.refresh, **bound}


def issue_token_pair(*, user, request: HttpRequest, transport: str, jkt: str | None = None) -> TokenPair:
    """Start a new API login for `user` and return its first access and refresh tokens,
    bound to the DPoP key with thumbprint `jkt` if given."""
    now = timezone.now()
    family = TokenFamily(
        user=user,
        transport=transport,
        created_at=now,
        last_used_at=now,
        ip=client_ip(request),
        user_agent=user_agent(request),
    )
    refresh = mint_refresh_token(user=user, family_id=str(family.pk), auth_time=int(now.timestamp()), jkt=jkt)
    family.current_jti = refresh["jti"]
    family.expires_at = expires_at(refresh)
    with transaction.atomic():
        family.save(force_insert=True)
        _outstand(refresh, user=user)
    update_last_login(None, user)
    accounts_services.record_event(kind=AuditEvent.Kind.TOKEN_OBTAINED, request=request, user=user, via=transport)
    get_access_cutoff(user_id=user.pk)  # warm the cache: the first API call stays query-free
    return _pair(refresh)


def rotate_refresh_token(*, raw: str, request: HttpRequest, jkt: str | None = None) -> TokenPair:
    """Exchange a live refresh token for a new pair, blacklisting the one presented.

    Of concurrent refreshes with one token exactly one rotates it (a conditional UPDATE).
    A token already rotated is a replay (see `_replayed`): within the reuse interval the
    one just rotated away gets the current pair; anything else revokes the family.
    A DPoP-bound token needs `jkt`, the thumbprint of the key that signed this request's proof.
    """
    token = parse_refresh_token(raw)
    _check_binding(token, jkt)
    family = _family_with_presented(token)
    if not family.user.is_active:
        raise invalid("User is inactive.", "user_inactive")
    if login_expired(token["auth_time"]):
        raise invalid("Login has reached its absolute lifetime; log in again.", "token_expired")
    if family.current_jti != token["jti"]:
        return _replayed(family, token, request=request)
    if family.presented_blacklisted:
        # Still the family's live token, read after its blacklist entry (a rotation blacklists
        # only the token it replaces, and would show in the family): blacklisted by hand, so revoked.
        raise invalid("Token has been revoked.", "token_revoked")
    new = mint_refresh_token(
        user=family.user, family_id=str(family.pk), auth_time=token["auth_time"], jkt=bound_key(token)
    )
    # One transaction, so one commit (one WAL flush) per refresh: the audit event commits with
    # the rotation it records.
    with transaction.atomic():
        won = TokenFamily.objects.filter(pk=family.pk, current_jti=token["jti"], revoked_at__isnull=True).update(
            current_jti=new["jti"],
            previous_jti=token["jti"],
            rotated_at=new.current_time,
            last_used_at=timezone.now(),
            expires_at=expires_at(new),
        )
        if won:
            _outstand(new, user=family.user)
            _blacklist_outstanding(family.presented_id)
            accounts_services.record_event(kind=AuditEvent.Kind.TOKEN_REFRESHED, request=request, user=family.user)
    if not won:  # another request rotated it first, or the family was revoked meanwhile
        return _replayed(_family(token), token, request=request)
    return _pair(new)


def _replayed(family: TokenFamily, token, *, request: HttpRequest) -> TokenPair:
    """Answer a refresh token that is no longer the family's live one.

    The reuse interval (JWT_REFRESH_REUSE_INTERVAL): only the token the last rotation
    replaced, only until that long after the rotation, gets the family's current pair (the
    live refresh token built again, and a new access token); no new token of the family is
    minted, so a thief in the window holds what the client holds and the next rotation
    makes one of them a replayer. Any older token, or later, revokes the family.
    """
    window = settings.JWT_REFRESH_REUSE_INTERVAL
    fresh = family.rotated_at is not None and timezone.now() - family.rotated_at <= window
    if not (fresh and family.previous_jti == token["jti"]):
        _reuse_detected(family, request=request)
    current = remint_refresh_token(
        user=family.user,
        family_id=str(family.pk),
        auth_time=token["auth_time"],
        jti=family.current_jti,
        issued_at=family.rotated_at,
        expires=family.expires_at,
        jkt=bound_key(token),
    )
    accounts_services.record_event(
        kind=AuditEvent.Kind.TOKEN_REFRESHED, request=request, user=family.user, reuse_interval=True
    )
    return _pair(current)


def _check_binding(token, jkt: str | None) -> None:
    """Refuse a DPoP-bound refresh token unless this request's proof is by its key (RFC 9449
    5), before any family is read: a thief holding the token alone revokes nothing."""
    bound = bound_key(token)
    if bound is not None and (jkt is None or not constant_time_compare(bound, jkt)):
        raise dpop.Refused("This refresh token is bound to a DPoP key; send a proof signed by it.")


def end_family(*, raw: str, request: HttpRequest) -> None:
    """Log out one API login: blacklist its live refresh token and revoke the family."""
    token = parse_refresh_token(raw)
    family = _live_family(token, request=request)
    accounts_services.revoke_family(family=family, reason="logout", actor=family.user, request=request)
    accounts_services.record_event(kind=AuditEvent.Kind.TOKEN_BLACKLISTED, request=request, user=family.user)


def verify_refresh_token(*, raw: str) -> None:
    """Raise unless `raw` is the live refresh token of a live family; change nothing.

    Verifying is a read: a token already rotated is refused (`token_not_valid`) without the
    reuse detection a refresh or a logout with it sets off, so a client that checks a token
    it just rotated in another tab does not revoke its own login.
    """
    token = parse_refresh_token(raw)
    if _family(token).current_jti != token["jti"]:
        raise invalid("Token has been rotated; only the login's newest refresh token verifies.", "token_not_valid")
    _refuse_blacklisted(token)


def _live_family(token, *, request: HttpRequest) -> TokenFamily:
    family = _family(token)
    if family.current_jti != token["jti"]:
        _reuse_detected(family, request=request)
    _refuse_blacklisted(token)
    return family


def _family(token) -> TokenFamily:
    family = TokenFamily.objects.select_related("user").filter(pk=token["fam"]).first()
    if family is None or family.user_id != token[api_settings.USER_ID_CLAIM]:
        raise invalid("Token is invalid.", "token_not_valid")
    if family.revoked_at is not None:
        raise invalid("Token has been revoked.", "token_revoked")
    return family


def _family_with_presented(token) -> TokenFamily:
    """`_family`, with what a rotation needs of the presented token: its outstanding row's id
    (`presented_id`, to blacklist it) and whether it is blacklisted (`presented_blacklisted`).

    Two plain queries, the token's row first. A rotation that blacklisted the token committed
    before that read, so the family, read after it, shows the rotation (the token is no longer
    the live one) and the flag is never taken for a revocation by hand. (One query with both as
    subqueries read them in one snapshot, but Django spent 6.4 M instructions building and reading
    it, against 4.9 M for these two; the extra round trip included, a refresh takes 5% less time.)
    """
    presented = OutstandingToken.objects.filter(jti=token["jti"]).order_by().values_list("pk", "blacklistedtoken")
    presented_id, blacklist_id = next(iter(presented), (None, None))  # jti is unique: one row or none
    family = _family(token)
    family.presented_id, family.presented_blacklisted = presented_id, blacklist_id is not None
    return family


def _blacklisted(token) -> bool:
    return BlacklistedToken.objects.filter(token__jti=token["jti"]).exists()


def _refuse_blacklisted(token) -> None:
    if _blacklisted(token):
        raise invalid("Token has been revoked.", "token_revoked")


def _reuse_detected(family: TokenFamily, *, request: HttpRequest):
    accounts_services.revoke_family(family=family, reason="reuse", actor=None, request=request)
    accounts_services.record_event(
        kind=AuditEvent.Kind.REUSE_DETECTED, request=request, user=family.user, family=str(family.pk)
    )
    raise invalid("Token was already used; this login has been revoked.", "token_reused")


def _outstand(token, *, user) -> None:
    OutstandingToken.objects.create(
        user=user,
        jti=token["jti"],
        token="",  # the jti identifies it; a stored live refresh token would be readable in the admin
        created_at=token.current_time,
        expires_at=expires_at(token),
    )


def _blacklist_outstanding(token_id: int | None) -> None:
    """Blacklist the outstanding token `token_id` (one INSERT, no savepoint); already
    blacklisted, or never outstanding (None), it is left as it is: its family decides anyway."""
    if token_id is not None:
        BlacklistedToken.objects.bulk_create([BlacklistedToken(token_id=token_id)], ignore_conflicts=True)


def _pair(refresh) -> TokenPair:
    access = refresh.access_token
    stamp_issue_time(access)
    return TokenPair(
        dpop_bound=bound_key(refresh) is not None,
        username=refresh["username"],
        access=str(access),
        refresh=str(refresh),
        access_expires_at=expires_at(access),
        refresh_expires_at=expires_at(refresh),
    )
