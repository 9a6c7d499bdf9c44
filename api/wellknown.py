"""What authdemo publishes for services that verify its tokens without its secret or database."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from threading import Lock

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
    published = [] if settings.JWT_ALGORITHM == "HS256" else keys.load_ring().published()
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


_feed_lock = Lock()
_feed: dict[str, object] = {}  # the last signed feed of this process: body, ring, until


@require_GET
def revocation_feed(request: HttpRequest) -> HttpResponse:
    """Serve the per-user access-token cut-offs that can still matter, signed with the active key.

    A cut-off older than the access lifetime plus leeway voids nothing that has not expired
    anyway, so the feed lists only the recent ones (deleted users' included). Its `typ` and
    audience differ from an access token's, so neither can be passed off as the other. The
    signed body is reused for REVOCATION_FEED_CACHE seconds: one query and one signature per
    interval whatever the request rate. It lists user ids (the `user_id` claim verifiers match
    on) and when they were cut off: it is for verifiers (README "Revocation feed").
    HS256 has no public key to verify it with.
    """
    if settings.JWT_ALGORITHM == "HS256":
        detail = "The revocation feed needs an asymmetric JWT_ALGORITHM (RS256, ES256 or EdDSA)."
        return JsonResponse({"detail": detail, "code": "not_available"}, status=404)
    response = HttpResponse(signed_feed(), content_type="application/jwt")
    patch_cache_control(response, no_store=True)
    return response


def signed_feed() -> bytes:
    """The feed's JWS, signed again once the cached one is older than REVOCATION_FEED_CACHE."""
    active, ring = keys.load_ring().active, keys.ring_generation()  # a changed ring: signed again at once
    with _feed_lock:
        now = time.monotonic()
        if _feed.get("ring") == ring and now < _feed.get("until", 0):
            return _feed["body"]
        _feed.update(body=sign_feed(active), ring=ring, until=now + settings.REVOCATION_FEED_CACHE)
        return _feed["body"]


def sign_feed(active: keys.SigningKey) -> bytes:
    now = time.time()
    jwt_settings = settings.SIMPLE_JWT
    window = cutoff_window().total_seconds()
    cutoffs = list_recent_cutoffs(since=datetime.fromtimestamp(now - window, tz=UTC))
    claims = {
        "iss": jwt_settings["ISSUER"], "aud": FEED_AUDIENCE, "iat": now, "exp": now + FEED_LIFETIME,
        "window": window, "leeway": jwt_settings["LEEWAY"], "kids": sorted(keys.load_ring().verifying_kids()),
        "cutoffs": {str(user_id): at for user_id, at in cutoffs.items()},
    }  # fmt: skip
    headers = {"kid": active.kid, "typ": FEED_TYPE}
    return jwt.encode(claims, active.private_key, algorithm=active.algorithm, headers=headers).encode()
