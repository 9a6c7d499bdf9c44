"""What authdemo publishes for services that verify its tokens without its secret or database."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime
from threading import Event, Lock

import jwt
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from accounts.selectors import cutoff_window, list_recent_cutoffs
from api import keys


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    """Serve the public keys that verify access tokens (RFC 7517 key set), never a private one.

    The next key, the active one and every retired key whose tokens may still be live.
    Verifiers may cache it for JWKS_MAX_AGE seconds and revalidate it with the ETag.
    HS256 has no public key: the set is empty.
    """
    published = [] if settings.SIMPLE_JWT["ALGORITHM"] == "HS256" else keys.load_ring().published()
    body = json.dumps({"keys": published}, separators=(",", ":"), sort_keys=True).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/jwk-set+json")
    response.headers["ETag"] = etag
    patch_cache_control(response, public=True, max_age=settings.JWKS_MAX_AGE)
    return response


FEED_TYPE = "revocations+jwt"  # the verifier checks the same values (verifier/revocations.py)
FEED_AUDIENCE = "authdemo-revocations"
FEED_LIFETIME = 60  # seconds: an old copy replayed later is refused
# Cut-offs the feed lists one by one; older ones in the window fold into `revoked_before`. A listed
# entry takes at most 40 bytes of JSON (a 19-digit id, a 17-character time), 54 once base64url-encoded:
# 10,000 of them make at most 540 kB, about half the verifier's 1 MiB body cap, at any number of revocations.
FEED_MAX_CUTOFFS = 10_000
FEED_REALM = 'Bearer realm="authdemo-revocations"'
log = logging.getLogger(__name__)


_feed_lock = Lock()
_feed: dict[str, object] = {}  # the last signed feed of this process: body, ring, until
_warned_open_feed = Event()


@require_GET
def revocation_feed(request: HttpRequest) -> HttpResponse:
    """Serve the per-user access-token cut-offs that can still matter, signed with the active key,
    to verifiers that present one of REVOCATION_FEED_TOKEN as a bearer credential.

    A cut-off older than accounts.selectors.cutoff_window() (the access lifetime plus twice the
    leeway) voids nothing that has not expired anyway, so the feed lists only the recent ones
    (deleted users' included). Its `typ` and
    audience differ from an access token's, so neither can be passed off as the other. The
    signed body is reused for REVOCATION_FEED_CACHE seconds: one query and one signature per
    interval whatever the request rate. It lists user ids (the `user_id` claim verifiers match
    on) and when they were cut off, which is nobody else's business: anonymous reads get a
    JSON 401 (README "The verifier"). HS256 has no public key to verify it with.
    """
    if settings.SIMPLE_JWT["ALGORITHM"] == "HS256":
        detail = "The revocation feed needs an asymmetric JWT_ALGORITHM (RS256, ES256 or EdDSA)."
        return JsonResponse({"detail": detail, "code": "not_available"}, status=404)
    refusal = refuse_reader(request)
    if refusal is not None:
        patch_cache_control(refusal, no_store=True)
        return refusal
    response = HttpResponse(signed_feed(), content_type="application/jwt")
    patch_cache_control(response, no_store=True)
    return response


def refuse_reader(request: HttpRequest) -> HttpResponse | None:
    """None if the request may read the feed, else the JSON refusal.

    Without REVOCATION_FEED_TOKEN the feed is open in debug (`make run` with `make verifier`),
    with a warning, and refused (503) with debug off: a production site never serves it openly
    because a variable was forgotten, and its verifiers fail closed, saying why, on /healthz.
    """
    tokens = settings.REVOCATION_FEED_TOKENS
    if not tokens:
        if settings.DEBUG:
            if not _warned_open_feed.is_set():
                _warned_open_feed.set()
                log.warning("REVOCATION_FEED_TOKEN is not set: the revocation feed is open to anyone (debug only).")
            return None
        detail = "The revocation feed needs REVOCATION_FEED_TOKEN when DJANGO_DEBUG is off."
        return JsonResponse({"detail": detail, "code": "not_configured"}, status=503)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not given:
        detail, code = "Authentication credentials were not provided.", "not_authenticated"
    elif not matches_any(given.strip(), tokens):
        detail, code = "The revocation feed token is not valid.", "authentication_failed"
    else:
        return None
    response = JsonResponse({"detail": detail, "code": code}, status=401)
    response.headers["WWW-Authenticate"] = FEED_REALM
    return response


def matches_any(given: str, tokens: list[str]) -> bool:
    """Compare with every configured token in constant time (hmac.compare_digest), never stopping early."""
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given.encode(), token.encode())
    return found


def signed_feed() -> bytes:
    """The feed's JWS, signed again once the cached one is older than REVOCATION_FEED_CACHE."""
    active, ring = keys.load_ring().active, keys.ring_generation()  # a changed ring: signed again at once
    with _feed_lock:
        now = time.monotonic()
        if _feed.get("ring") == ring and now < _feed.get("until", 0):
            return _feed["body"]
        _feed.update(body=sign_feed(active), ring=ring, until=now + settings.REVOCATION_FEED_CACHE)
        return _feed["body"]


def recent_cutoffs(*, since: float) -> tuple[dict[int, float], float]:
    """({user id: cut-off} of at most FEED_MAX_CUTOFFS newest cut-offs after `since`, revoked_before).

    When the window holds more, the newest of the rest becomes `revoked_before`. The fold names no
    users, so verifiers judge it by time: a token issued under an older cut-off is void if its `iat`
    is at most the leeway after it (clocks that differ by up to the leeway: verifier/revocations.py).
    It covers each cut-off folded into it (all are at or before it); a user it was not meant for
    loses the access tokens issued up to the leeway after it, and refreshes.
    """
    newest = list_recent_cutoffs(since=datetime.fromtimestamp(since, tz=UTC), limit=FEED_MAX_CUTOFFS + 1)
    if len(newest) <= FEED_MAX_CUTOFFS:
        return newest, 0.0
    revoked_before = min(newest.values())
    return {user_id: at for user_id, at in newest.items() if at > revoked_before}, revoked_before


def sign_feed(active: keys.SigningKey) -> bytes:
    now = time.time()
    jwt_settings = settings.SIMPLE_JWT
    window = cutoff_window().total_seconds()
    cutoffs, revoked_before = recent_cutoffs(since=now - window)
    claims = {
        "iss": jwt_settings["ISSUER"], "aud": FEED_AUDIENCE, "iat": now, "exp": now + FEED_LIFETIME,
        "window": window, "leeway": jwt_settings["LEEWAY"], "kids": sorted(keys.load_ring().verifying_kids()),
        "revoked_before": revoked_before, "cutoffs": {str(user_id): at for user_id, at in cutoffs.items()},
    }  # fmt: skip
    headers = {"kid": active.kid, "typ": FEED_TYPE}
    return jwt.encode(claims, active.private_key, algorithm=active.algorithm, headers=headers).encode()
