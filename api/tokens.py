"""Mint and validate tokens. Every error is an InvalidToken with a stable code.

Codes: `token_not_valid` (malformed, bad signature, wrong type or claims),
`token_expired`, `token_revoked` (cut-off, family revoked or blacklisted),
`token_reused` (a rotated refresh token presented again), `user_inactive`.
Messages never contain the token.
"""

from __future__ import annotations

import math
import uuid
from collections import OrderedDict
from datetime import datetime, timedelta
from threading import Lock

import jwt
from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.exceptions import ExpiredTokenError, InvalidToken, TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken as StockAccessToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import aware_utcnow, datetime_from_epoch

from accounts.selectors import get_access_cutoff
from api import keys
from api.signing import KeyRingTokenBackend, token_backend

MAX_TOKEN_BYTES = 4096  # far above any token we mint; refuse to parse more
CUTOFF_CLAIM = "cutoff"  # the user's cut-off version the token was issued under (verifier/app.py reads it too)
ACCESS_TYP = "at+jwt"  # RFC 9068 2.1; "application/at+jwt" is the same media type (RFC 7515 4.1.9)
LEGACY_TYP = "JWT"  # what PyJWT writes unless told otherwise


class AccessTokenBackend(KeyRingTokenBackend):
    """The key ring's backend, with the JOSE header `typ: at+jwt` on access tokens (RFC 9068).

    The type keeps an access token from passing for any other JWT a client signs (a DPoP
    proof is `dpop+jwt`). PyJWT's default `JWT` still verifies: access tokens minted before
    this carry it, for their ACCESS_TOKEN_LIFETIME (refresh tokens too; their `token_type`
    claim tells them apart). Any other `typ` is refused.
    """

    def encode(self, payload: dict) -> str:
        kid, key = self.signing_key()
        claims = {**payload, "aud": self.audience, "iss": self.issuer}
        return jwt.encode(claims, key, algorithm=self.algorithm, headers={"kid": kid, "typ": ACCESS_TYP})

    def decode(self, token, verify: bool = True) -> dict:
        try:
            typ = jwt.get_unverified_header(token).get("typ", LEGACY_TYP)
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid") from exc
        if not isinstance(typ, str) or typ.lower().removeprefix("application/") not in (ACCESS_TYP, "jwt"):
            raise TokenBackendError("Token is invalid")
        return super().decode(token, verify)


access_token_backend = AccessTokenBackend()


class AccessToken(StockAccessToken):
    """An access token signed and verified with the key ring (api.signing), typed at+jwt."""

    def get_token_backend(self):
        return access_token_backend


class FamilyRefreshToken(RefreshToken):
    """A refresh token that belongs to a login family (claim `fam`).

    Whether it may still be used is decided by its family (see api.services), which
    also tells a blacklisted token from a replayed one; so the constructor checks the
    signature and claims only.
    """

    access_token_class = AccessToken

    def get_token_backend(self):
        return token_backend

    def check_blacklist(self) -> None:  # the family check replaces it (api.services)
        return None


def invalid(message: str, code: str) -> InvalidToken:
    return InvalidToken({"detail": message, "code": code})


def _parse(token_class, raw):
    if not raw or len(raw) > MAX_TOKEN_BYTES:
        raise invalid("Token is missing or too long.", "token_not_valid")
    try:
        token = token_class(raw)
    except ExpiredTokenError as exc:
        raise invalid("Token has expired.", "token_expired") from exc
    except (TokenError, OverflowError, OSError, ValueError) as exc:  # also dates past year 9999
        raise invalid("Token is invalid.", "token_not_valid") from exc
    valid = (
        _is_number(token.get("iat"))
        and _is_int(token.get(api_settings.USER_ID_CLAIM))
        and isinstance(token.get("username"), str)
        and (CUTOFF_CLAIM not in token.payload or _is_number(token[CUTOFF_CLAIM]))
    )
    if not valid:
        raise invalid("Token is invalid.", "token_not_valid")
    return token


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


class VerifiedTokens:
    """A bounded, thread-safe memo of access tokens whose signature and claims verified.

    A client sends the same access token with every request for its five minutes, and
    everything checked at decoding is fixed by the token's bytes except the time. So a
    token seen before is not decoded and HMAC-verified again; only its expiry is checked
    anew (and the cut-off, by the caller). Only tokens that verified are kept, so input
    that fails costs the full check every time. Envoy's JWT filter does the same.
    """

    def __init__(self, size: int = 4096):
        self._size = size
        self._tokens: OrderedDict[tuple, AccessToken] = OrderedDict()
        self._lock = Lock()

    def get(self, raw: tuple) -> AccessToken | None:
        with self._lock:
            token = self._tokens.get(raw)
            if token is not None:
                self._tokens.move_to_end(raw)
        if token is None:
            return None
        try:
            token.check_exp(current_time=aware_utcnow())
        except TokenError:
            return None  # the full check will answer token_expired
        return token

    def put(self, raw: tuple, token: AccessToken) -> None:
        with self._lock:
            self._tokens[raw] = token
            if len(self._tokens) > self._size:
                self._tokens.popitem(last=False)


verified_tokens = VerifiedTokens()


def validate_access_token(raw: str | bytes) -> AccessToken:
    """Return the access token if its signature, claims and the user's cut-off allow it.

    With JWT_REVOCATION=cutoff a token issued under an older cut-off than the user's is refused
    (`revoked`): one cache read buys revocation of tokens that have not expired yet.
    """
    memo_key = (keys.ring_generation(), raw)  # a rotation or removal forgets what verified before
    token = verified_tokens.get(memo_key)
    if token is None:
        token = _parse(AccessToken, raw)
        verified_tokens.put(memo_key, token)
    revocable = settings.JWT_REVOCATION == "cutoff"
    if revocable and revoked(token, get_access_cutoff(user_id=token[api_settings.USER_ID_CLAIM])):
        raise invalid("Token has been revoked.", "token_revoked")
    return token


def revoked(token, cutoff: float) -> bool:
    """True if the user's cut-off moved after `token` was issued.

    The token carries the cut-off version it was issued under (CUTOFF_CLAIM, read from the user
    row the login or refresh already holds), and revocation only ever makes the stored one newer
    (accounts.services.advance_cutoff): no clock is compared, so instances whose clocks differ
    agree. A token without the claim was minted before it existed, at most one access lifetime
    before the upgrade; it is judged by its `iat` against the cut-off as before (versions are
    still times, so that stays true up to the clocks' skew).
    """
    issued_under = token.get(CUTOFF_CLAIM)
    if issued_under is None:
        return token["iat"] <= cutoff
    return issued_under < cutoff


def parse_refresh_token(raw: str | bytes) -> FamilyRefreshToken:
    """Return the refresh token if signature and claims are valid; the family decides the rest."""
    token = _parse(FamilyRefreshToken, raw)
    if not _is_uuid(token.get("fam")) or not _is_login_time(token.get("auth_time")):
        raise invalid("Token is invalid.", "token_not_valid")
    return token


def _is_uuid(value) -> bool:
    """A family id as minted (the family's UUID): anything else would fail the family lookup."""
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _is_login_time(value) -> bool:
    """An `auth_time` a datetime can hold once the absolute lifetime is added (login_expired)."""
    if not _is_int(value):
        return False
    try:
        _login_ends(value)
    except (OverflowError, OSError, ValueError):
        return False
    return True


def mint_refresh_token(*, user, family_id: str, auth_time: int, jkt: str | None = None) -> FamilyRefreshToken:
    """Build a refresh token for `user`, never outliving the login's absolute lifetime.

    With `jkt` (a DPoP key's thumbprint) it is bound to that key, and so is every access
    token made from it: the claim `cnf` is copied (RFC 9449 6.1). So is CUTOFF_CLAIM, the
    user's cut-off as `user` was read by this login or refresh: its access token is void once
    a revocation moves the stored one past it.
    """
    token = FamilyRefreshToken()
    token[api_settings.USER_ID_CLAIM] = user.pk
    token["username"] = user.get_username()
    token[CUTOFF_CLAIM] = user.tokens_valid_after.timestamp() if user.tokens_valid_after else 0
    token["fam"] = family_id
    token["auth_time"] = auth_time
    if jkt is not None:
        token["cnf"] = {"jkt": jkt}
    stamp_issue_time(token)
    absolute_end = _login_ends(auth_time)
    if expires_at(token) > absolute_end:
        token.set_exp(from_time=absolute_end, lifetime=timedelta(0))
    return token


def remint_refresh_token(
    *, user, family_id: str, auth_time: int, jti: str, issued_at: datetime, expires: datetime, jkt: str | None = None
):
    """Build again the refresh token issued at `issued_at` as `jti`: the same claims, and
    with an HMAC algorithm the same bytes (api.services hands it out in the reuse interval)."""
    token = mint_refresh_token(user=user, family_id=family_id, auth_time=auth_time, jkt=jkt)
    token["jti"] = jti
    token["iat"] = issued_at.timestamp()
    token["exp"] = int(expires.timestamp())
    return token


def bound_key(token) -> str | None:
    """The thumbprint of the DPoP key a token is bound to (its `cnf.jkt`), or None."""
    cnf = token.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if cnf is not None and not isinstance(jkt, str):
        raise invalid("Token is invalid.", "token_not_valid")
    return jkt


def stamp_issue_time(token) -> None:
    """Give `iat` microsecond precision (RFC 7519 NumericDate allows fractions).

    SimpleJWT writes whole seconds; a token without CUTOFF_CLAIM is judged by its issue time,
    and with whole seconds one issued just after a revocation, in the same second, would be refused.
    """
    token["iat"] = token.current_time.timestamp()


def expires_at(token) -> datetime:
    return datetime_from_epoch(token["exp"])


def login_expired(auth_time: int) -> bool:
    return _login_ends(auth_time) <= timezone.now()


def _login_ends(auth_time: int) -> datetime:
    """When the login that started at `auth_time` reaches its absolute lifetime."""
    return datetime_from_epoch(auth_time) + settings.JWT_ABSOLUTE_LIFETIME
