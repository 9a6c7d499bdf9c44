"""The verifier's HTTP service (Falcon, WSGI): `/healthz` and `GET /dashboard/`.

`/dashboard/` answers like authdemo's `/api/dashboard/`: the same body
(`{"message": "Access granted to <username>", "data": {...claims}}`), the same JSON errors
(`{"detail": ..., "code": ...}`) and the same `WWW-Authenticate: Bearer realm="authdemo"`.
A DPoP-bound token is taken as `Authorization: DPoP` with a proof (verifier.dpop), and the
challenge is then DPoP's; the verifier issues no nonces (it holds no secret to make them).
"""

from __future__ import annotations

import math
import time

import falcon
import jwt

from verifier import dpop
from verifier.config import Config
from verifier.keyset import KeySet, Unavailable
from verifier.revocations import CUTOFF_CLAIM, RevocationFeed

MAX_TOKEN_BYTES = 4096
CHALLENGE = 'Bearer realm="authdemo"'
FOREIGN_KEY_HEADERS = ("jku", "x5u", "jwk", "x5c")


class Refused(Exception):
    def __init__(self, detail: str, code: str, challenge: str = CHALLENGE):
        super().__init__(detail)
        self.detail, self.code, self.challenge = detail, code, challenge


def credentials(header: str | None) -> tuple[str, str]:
    """The scheme and token of an `Authorization: Bearer|DPoP <token>` header, with the API's error codes."""
    parts = (header or "").split()
    if not parts or parts[0] not in ("Bearer", "DPoP"):  # another scheme is not ours to judge, as in SimpleJWT
        raise Refused("Authentication credentials were not provided.", "not_authenticated")
    if len(parts) != 2:
        raise Refused("Authorization header must contain two space-delimited values", "bad_authorization_header")
    return parts[0], parts[1]


class Verifier:
    """Check a token against the key set, the claims and the revocation feed."""

    def __init__(self, config: Config, keyset: KeySet, feed: RevocationFeed):
        self.config, self.keyset, self.feed = config, keyset, feed

    def verify(self, token: str) -> dict:
        if len(token) > MAX_TOKEN_BYTES:
            raise Refused("Token is missing or too long.", "token_not_valid")
        try:
            header = jwt.get_unverified_header(token)
            kid, alg = header.get("kid"), header.get("alg")
            if not isinstance(kid, str) or alg not in self.config.algorithms:
                raise Refused("Token is invalid.", "token_not_valid")  # kid required; allowlisted alg only
            if any(name in header for name in FOREIGN_KEY_HEADERS) or not access_typed(header):
                raise Refused("Token is invalid.", "token_not_valid")
            self.feed.check()  # fail closed: no verdict without a recent enough feed
            key = self.keyset.get(kid)
            if key is None or key.algorithm_name != alg or not self.feed.still_verifies(kid):
                raise Refused("Token is invalid.", "token_not_valid")
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=self.config.audience, issuer=self.config.issuer,
                leeway=self.leeway(), options={"require": ["exp", "iat", "iss", "aud"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise Refused("Token has expired.", "token_expired") from None
        except jwt.PyJWTError:
            raise Refused("Token is invalid.", "token_not_valid") from None
        self.check_claims(claims)
        return claims

    def leeway(self) -> float:
        """Our JWT_LEEWAY, never more than authdemo's (which the feed carries)."""
        return self.config.leeway if self.feed.leeway is None else min(self.config.leeway, self.feed.leeway)

    def check_claims(self, claims: dict) -> None:
        iat, user_id, issued_under = claims.get("iat"), claims.get("user_id"), claims.get(CUTOFF_CLAIM)
        valid = (
            claims.get("token_type") == "access"
            and number(iat)
            and isinstance(user_id, int)
            and not isinstance(user_id, bool)
            and isinstance(claims.get("username"), str)
            and (issued_under is None or number(issued_under))
        )
        if not valid:
            raise Refused("Token is invalid.", "token_not_valid")
        if self.feed.revokes(user_id=user_id, iat=iat, issued_under=issued_under):
            raise Refused("Token has been revoked.", "token_revoked")


def number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def access_typed(header: dict) -> bool:
    """RFC 9068 2.1: `typ` is at+jwt; PyJWT's default `JWT` is what authdemo wrote before it."""
    typ = header.get("typ", "JWT")
    return isinstance(typ, str) and typ.lower().removeprefix("application/") in ("at+jwt", "jwt")


class Dashboard:
    def __init__(self, verifier: Verifier):
        self.verifier = verifier
        self.used_proofs = dpop.UsedProofs()  # one process, its threads share it (verifier.dpop)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        scheme, token = credentials(req.get_header("Authorization"))
        claims = self.verifier.verify(token)
        url = f"{req.scheme}://{req.netloc}{req.path}"  # the Host header's: see README, "Theft: DPoP"
        try:
            dpop.check_binding(scheme=scheme, proof=req.get_header("DPoP"), method=req.method, url=url,
                               token=token, claims=claims, used=self.used_proofs)  # fmt: skip
        except dpop.ProofError as exc:
            challenge = f'DPoP error="{exc.code}", error_description="{exc.description}", algs="{dpop.ALGORITHMS}"'
            code = "token_not_valid" if exc.code == "invalid_token" else exc.code
            raise Refused(exc.description, code, challenge) from None
        resp.media = {"message": f"Access granted to {claims['username']}", "data": claims}
        resp.cache_control = ["private", "no-store"]


class Health:
    def __init__(self, keyset: KeySet, feed: RevocationFeed):
        self.keyset, self.feed = keyset, feed

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        now = time.time()
        age = lambda at: None if at is None else round(now - at, 3)  # noqa: E731
        problems = [what for what, ok in (("key set too old", self.keyset.usable()),
                                          ("revocation feed too old", self.feed.usable())) if not ok]  # fmt: skip
        if problems:
            resp.status = falcon.HTTP_503
        resp.media = {
            "status": "refusing every token: " + ", ".join(problems) if problems else "ok",
            "keys": sorted(self.keyset.keys),
            "key_set_age": age(self.keyset.fetched_at),
            "key_set_fetches": self.keyset.fetches,
            "key_set_error": self.keyset.last_error,
            "revocation_feed_age": age(self.feed.issued_at or None),  # since authdemo issued it: a replay ages
            "revocation_feed_received_age": age(self.feed.received_at),
            "revocation_feed_issued_at": self.feed.issued_at,
            "revocation_feed_revoked_before": self.feed.revoked_before,
            "revocation_feed_error": self.feed.last_error,
        }


def refused(req, resp, exc: Refused, params) -> None:
    resp.status = falcon.HTTP_401
    resp.media = {"detail": exc.detail, "code": exc.code}
    resp.set_header("WWW-Authenticate", exc.challenge)


def unavailable(req, resp, exc: Unavailable, params) -> None:
    resp.status = falcon.HTTP_503
    resp.media = {"detail": f"Tokens cannot be checked now: {exc}.", "code": "verifier_unavailable"}
    resp.set_header("Retry-After", "5")


def http_error(req, resp, exc: falcon.HTTPError, params) -> None:
    resp.status = exc.status
    reason = exc.title.split(" ", 1)[-1]  # "404 Not Found" -> "Not Found"
    resp.media = {"detail": f"{reason}.", "code": reason.lower().replace(" ", "_")}
    for name, value in (exc.headers or {}).items():
        resp.set_header(name, value)


def server_error(req, resp, exc: Exception, params) -> None:
    resp.status = falcon.HTTP_500
    resp.media = {"detail": "Server error.", "code": "server_error"}


def create_app(config: Config, keyset: KeySet, feed: RevocationFeed) -> falcon.App:
    feed.configure(clock_skew=config.feed_clock_skew, token=config.feed_token)
    app = falcon.App()
    app.add_route("/healthz", Health(keyset, feed))
    app.add_route("/dashboard/", Dashboard(Verifier(config, keyset, feed)))
    app.add_error_handler(Exception, server_error)
    app.add_error_handler(falcon.HTTPError, http_error)
    app.add_error_handler(Refused, refused)
    app.add_error_handler(Unavailable, unavailable)
    return app
