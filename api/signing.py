"""SimpleJWT's TokenBackend, signing with the configured algorithm and key ring.

Every token's header names its key (`kid`, the RFC 7638 thumbprint). Validation accepts
only JWT_ALGORITHM, looks the key up by `kid` among our own keys and nowhere else:
never `alg: none`, never an HMAC token made with a public key as its secret
(CVE-2022-29217: the algorithm is pinned and asymmetric keys are key objects, not
strings), never a key the token names itself (`jku`, `x5u`, `jwk`, `x5c`).
"""

from __future__ import annotations

from typing import Any

import jwt
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken

from api import keys

HMAC = "HS256"
FOREIGN_KEY_HEADERS = ("jku", "x5u", "jwk", "x5c")


class KeyRingTokenBackend(TokenBackend):
    """Read the algorithm, keys, audience, issuer and leeway from settings when used."""

    def __init__(self) -> None:  # nothing is captured at import time
        pass

    @property
    def algorithm(self) -> str:
        return settings.SIMPLE_JWT["ALGORITHM"]

    @property
    def audience(self) -> str | None:
        return settings.SIMPLE_JWT.get("AUDIENCE")

    @property
    def issuer(self) -> str | None:
        return settings.SIMPLE_JWT.get("ISSUER")

    @property
    def leeway(self) -> int:
        return settings.SIMPLE_JWT.get("LEEWAY", 0)

    @property
    def json_encoder(self) -> Any:
        return None

    def signing_key(self) -> tuple[str, Any]:
        """The (kid, key) that signs new tokens."""
        if self.algorithm == HMAC:
            secret = settings.SIMPLE_JWT["SIGNING_KEY"]
            return keys.secret_kid(secret), secret
        active = keys.load_ring().active
        if active.algorithm != self.algorithm:  # JWT_ALGORITHM changed under a running ring
            raise keys.KeyFileError(
                f"JWT_ALGORITHM={self.algorithm} but the active key {active.kid} is {active.algorithm}."
            )
        return active.kid, active.private_key

    def verifying_key(self, header: dict) -> Any:
        """The key that must have signed a token with this header, or TokenBackendError."""
        kid = header.get("kid")
        if self.algorithm == HMAC:
            secret = settings.SIMPLE_JWT["SIGNING_KEY"]
            # Tokens minted before `kid` was added carry none; there is only one HS256 key.
            if kid is None or kid == keys.secret_kid(secret):
                return secret
        else:
            key = keys.load_ring().verifying_key(kid)
            if key is not None and key.algorithm == self.algorithm:
                return key.public_key
        raise TokenBackendError(_("Token is invalid"))

    def encode(self, payload: dict[str, Any]) -> str:
        kid, key = self.signing_key()
        claims = {**payload, "aud": self.audience, "iss": self.issuer}
        return jwt.encode(claims, key, algorithm=self.algorithm, headers={"kid": kid})

    def decode(self, token, verify: bool = True) -> dict[str, Any]:
        """Return the payload of a token signed by one of our keys with the configured algorithm."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != self.algorithm or any(name in header for name in FOREIGN_KEY_HEADERS):
                raise TokenBackendError(_("Token is invalid"))
            key = self.verifying_key(header) if verify else None
            return jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"verify_signature": verify, "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken(_("Token is expired")) from exc
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError(_("Token is invalid")) from exc


token_backend = KeyRingTokenBackend()
