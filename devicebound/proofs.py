"""Check DBSC proof JWTs (`Secure-Session-Response`) as Chromium 156 sends them.

Registration: header `{alg, typ: "dbsc+jwt", jwk}`, payload `{jti: <challenge>, authorization?}`.
Refresh: header `{alg, typ: "dbsc+jwt"}` (no jwk: the key is the one stored), payload `{jti}`.
The server checks `jti` against the challenge it issued; there is no iat, aud or htu.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ALGORITHMS = ("ES256", "RS256")  # what the spec allows besides "none"; never a MAC
PROOF_TYPE = "dbsc+jwt"
MAX_PROOF_LENGTH = 8192  # an RS256 registration proof with a 4096-bit key is about 1.5 KB
MIN_RSA_BITS = 2048
# RFC 7517/7518 private members: a jwk that carries one is not a public key.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
_TOKEN = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
_SESSION_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


class ProofError(ValueError):
    """The proof or a DBSC header is malformed or does not verify; the message says which."""


def header_value(raw: str | None, pattern: re.Pattern[str]) -> str | None:
    """Return a DBSC header's value, quoted (sf-string, the spec) or bare (Chromium 156)."""
    if raw is None:
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if len(value) > MAX_PROOF_LENGTH or not pattern.fullmatch(value):
        raise ProofError("The header is not a well-formed value.")
    return value


def proof_header(raw: str | None) -> str | None:
    return header_value(raw, _TOKEN)


def session_id_header(raw: str | None) -> str | None:
    return header_value(raw, _SESSION_ID)


def _unverified_header(token: str) -> dict:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise ProofError("The proof is not a JWT.") from error
    if header.get("typ") != PROOF_TYPE:
        raise ProofError(f"The proof's typ must be {PROOF_TYPE}.")
    if header.get("alg") not in ALGORITHMS:
        raise ProofError(f"The proof's alg must be one of {', '.join(ALGORITHMS)}.")
    return header


def _public_key(jwk: object, algorithm: str):
    """Load `jwk` as a public key fit for `algorithm`, refusing private parts and weak keys."""
    if not isinstance(jwk, dict) or PRIVATE_MEMBERS & jwk.keys():
        raise ProofError("The jwk must be a public key without private members.")
    kty = "EC" if algorithm == "ES256" else "RSA"
    if jwk.get("kty") != kty or (kty == "EC" and jwk.get("crv") != "P-256"):
        raise ProofError(f"{algorithm} needs a {'P-256 EC' if kty == 'EC' else 'RSA'} key.")
    try:
        key = (ECAlgorithm if kty == "EC" else RSAAlgorithm).from_jwk(jwk)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as error:
        raise ProofError("The jwk is not a valid public key.") from error
    if not hasattr(key, "public_bytes"):  # pragma: no cover  (PRIVATE_MEMBERS already refuses)
        raise ProofError("The jwk must be a public key.")
    if kty == "RSA" and key.key_size < MIN_RSA_BITS:
        raise ProofError(f"RSA keys need at least {MIN_RSA_BITS} bits.")
    return key


def thumbprint(jwk: dict) -> str:
    """RFC 7638 SHA-256 thumbprint: the required members, sorted, without whitespace."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _verified_jti(token: str, key, algorithm: str) -> str:
    try:
        claims = jwt.decode(token, key=key, algorithms=[algorithm], options={"require": ["jti"], "verify_aud": False})
    except jwt.PyJWTError as error:
        raise ProofError("The proof's signature or claims do not verify.") from error
    if not isinstance(claims["jti"], str):
        raise ProofError("The proof's jti must be a string.")
    return claims["jti"]


def check_registration(token: str) -> tuple[str, dict, str]:
    """Return (algorithm, public jwk, jti) of a registration proof signed by its own jwk."""
    header = _unverified_header(token)
    algorithm, jwk = header["alg"], header.get("jwk")
    key = _public_key(jwk, algorithm)
    return algorithm, {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}, _verified_jti(token, key, algorithm)


def check_refresh(token: str, *, algorithm: str, jwk: dict) -> str:
    """Return the jti of a refresh proof signed by the stored key with the stored algorithm."""
    header = _unverified_header(token)
    if "jwk" in header:
        raise ProofError("A refresh proof must not carry a jwk (the key is the one registered).")
    if header["alg"] != algorithm:
        raise ProofError(f"This session's key signs with {algorithm}.")
    return _verified_jti(token, _public_key(jwk, algorithm), algorithm)
