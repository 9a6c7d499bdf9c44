"""DPoP (RFC 9449) for the token endpoint and the resources, opt in per client.

A client that sends a `DPoP` proof when it obtains tokens gets tokens bound to the proof's
key (`cnf.jkt`); each later request with them must carry a fresh proof by that key. The
proof checks themselves are verifier.dpop's (no Django; the verifier service uses them too).
Here: the request's URL, the replay store and the server nonce.

- htu is compared with `request.build_absolute_uri(request.path)`: the host is one that
  ALLOWED_HOSTS admits, the scheme the one the proxy reports (SECURE_PROXY_SSL_HEADER), so
  it is the URL the client used under every name the site answers to (SITE_URL names one).
- Replay: each proof's jti is added to the default cache for the proof's lifetime; the
  cache is Redis in production, shared by every process. If it cannot answer, the request
  is refused with 503 `service_unavailable` (fail closed: no proof is accepted unchecked).
  On Redis the add is one `SET NX EX` through django-redis' own client (`first_use`).
- Nonce (DPOP_NONCE=on, the default): every proof must carry a nonce the server gave in
  `DPoP-Nonce`; a nonce is an HMAC of the current 5-minute window (the previous window's
  is still accepted), so no store is needed. Every answer to a request with a DPoP header
  carries the current one.
"""

from __future__ import annotations

import time
from functools import lru_cache

from django.conf import settings
from django.core.cache import caches
from django.utils.crypto import constant_time_compare, salted_hmac
from django_redis.cache import RedisCache
from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework import exceptions, status

from verifier.dpop import ALGORITHMS, MAX_AGE, MAX_FUTURE, ProofError, check_proof, one_proof, replay_key

NONCE_WINDOW = 300  # seconds; a nonce is accepted in its window and the next
NONCE_SALT = "api.dpop.nonce"


class Refused(exceptions.APIException):
    """A proof refused at the token endpoint: 400 with RFC 9449's code (section 5)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_dpop_proof"


class ReplayStoreUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "DPoP proofs cannot be checked now; try again shortly."
    default_code = "service_unavailable"


def challenge(code: str | None = None, description: str | None = None) -> str:
    """The `WWW-Authenticate` value of a 401 about DPoP (RFC 9449 7.1)."""
    if code is None:
        return f'DPoP algs="{ALGORITHMS}"'
    return f'DPoP error="{code}", error_description="{description}", algs="{ALGORITHMS}"'


def nonce(window: int | None = None) -> str:
    window = int(time.time()) // NONCE_WINDOW if window is None else window
    return _nonce(settings.SECRET_KEY, window)


@lru_cache(maxsize=4)
def _nonce(secret: str, window: int) -> str:
    """One HMAC per window and secret, not three per request."""
    return salted_hmac(NONCE_SALT, str(window), secret=secret, algorithm="sha256").hexdigest()[:32]


def _nonce_is_current(value) -> bool:
    window = int(time.time()) // NONCE_WINDOW
    return isinstance(value, str) and any(constant_time_compare(value, nonce(w)) for w in (window, window - 1))


def verify_request(request, *, access_token: str | None = None) -> str:
    """Check the request's DPoP proof (with `ath` of `access_token` if given) and return its
    key's thumbprint; ProofError if it is missing or refused; ReplayStoreUnavailable."""
    proof = one_proof(request.META.get("HTTP_DPOP"))
    if not proof:
        raise ProofError("A DPoP proof is required.")
    claims = check_proof(
        proof, method=request.method, url=request.build_absolute_uri(request.path), access_token=access_token
    )
    if settings.DPOP_NONCE == "on" and not _nonce_is_current(claims.get("nonce")):
        raise ProofError("Sign the proof again with the nonce in the DPoP-Nonce header.", "use_dpop_nonce")
    try:
        fresh = first_use(f"dpop-jti:{replay_key(claims)}", seconds=MAX_AGE + MAX_FUTURE + 1)
    except (ConnectionInterrupted, RedisError) as exc:
        raise ReplayStoreUnavailable() from exc
    if not fresh:
        raise ProofError("This DPoP proof was used already.")
    return claims["jkt"]


def first_use(key: str, *, seconds: int) -> bool:
    """Add `key` to the default cache for `seconds`; False if it was there already.

    On Redis, the SET NX EX that django-redis' add() sends, under the key add() would use,
    sent through django-redis' own client without add()'s layers (value pickling, the
    wrappers): 30-40 µs less on every DPoP request, most of the replay check's Python. Any
    other cache (a development server without Redis; django-redis's herd or shard clients,
    which store or route keys their own way) gets add(). Here an unreachable Redis raises, and
    the caller answers 503, even where django-redis's IGNORE_EXCEPTIONS would have add() return
    None, which would read as "used already".
    """
    backend = caches["default"]
    if isinstance(backend, RedisCache) and type(backend.client) is DefaultClient:  # not Herd's or Shard's
        client = backend.client.get_client(write=True)
        return bool(client.set(backend.make_key(key), b"1", nx=True, ex=seconds))
    return backend.add(key, 1, timeout=seconds)


def key_of_token_request(request) -> str | None:
    """The key a token request asks its tokens to be bound to: None without a DPoP header,
    else its proof's thumbprint; a refused proof is a 400 (RFC 9449 5)."""
    if "HTTP_DPOP" not in request.META:
        return None
    try:
        return verify_request(request)
    except ProofError as exc:
        raise Refused(exc.description, exc.code) from None


def add_nonce(request, response) -> None:
    """Hand a client that uses DPoP the current nonce (RFC 9449 8, 9)."""
    if settings.DPOP_NONCE == "on" and "HTTP_DPOP" in request.META:
        response["DPoP-Nonce"] = nonce()
