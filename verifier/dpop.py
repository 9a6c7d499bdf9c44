"""DPoP proofs (RFC 9449): the checks every resource and the token endpoint make, on PyJWT alone.

No Django and nothing from authdemo, so the verifier runs without the site; authdemo's
api.dpop imports these checks from here rather than keeping a second copy of them.
The server-side state (a store of used `jti`s, nonces) is each side's own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from functools import lru_cache
from threading import Lock
from urllib.parse import urlsplit

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

# The algorithms a proof may use, each with the one key type and curve it may use
# (RFC 9449 4.3 item 5: asymmetric and on our allowlist; never `none`, never HMAC).
KEY_TYPES = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519")}
ALGORITHMS = " ".join(KEY_TYPES)
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")  # RFC 9449 4.2: the jwk holds no private part
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}  # RFC 7638 3.2
MAX_PROOF_BYTES = 4096
MAX_JTI_CHARS = 256
MAX_AGE = 60  # seconds a proof is accepted after its iat (RFC 9449 11.1)
MAX_FUTURE = 5  # seconds its iat may be ahead of our clock
DEFAULT_PORTS = {"http": 80, "https": 443}
COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class ProofError(Exception):
    """A proof was refused; `code` is RFC 9449's error (`invalid_dpop_proof`, `use_dpop_nonce`)."""

    def __init__(self, description: str, code: str = "invalid_dpop_proof"):
        super().__init__(description)
        self.description, self.code = description, code


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict) -> str:
    """Return the RFC 7638 SHA-256 thumbprint of a public EC or OKP key, base64url."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def access_token_hash(token: str) -> str:
    """The `ath` claim of a proof sent with `token` (RFC 9449 4.2)."""
    return b64url(hashlib.sha256(token.encode("ascii", "replace")).digest())


@lru_cache(maxsize=256)
def normalize_url(url: str) -> str:
    """Return `url` without query and fragment, scheme and host lowercased, default port
    dropped, percent-escapes uppercased, empty path as `/` (RFC 3986 6.2.2, 6.2.3).

    Kept per URL: every proof for an endpoint names it, and each request's own URL is one of
    the few the site answers to; a refused URL raises and is not kept."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    port = parts.port  # ValueError for a port that is not a number
    host = f"[{host}]" if ":" in host else host
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    path = re.sub(r"%[0-9a-fA-F]{2}", lambda match: match.group().upper(), parts.path) or "/"
    return f"{scheme}://{netloc}{path}"


def one_proof(value: str | None) -> str | None:
    """The proof of a request's `DPoP` header; a repeated header is refused (RFC 9449 4.3
    item 1). WSGI servers join repeated headers with commas, which no JWT contains."""
    if value is None:
        return None
    if "," in value:
        raise ProofError("Send exactly one DPoP header.")
    return value.strip()


def _segments(proof: str) -> tuple[str, dict, bytes, bytes]:
    """Split a compact JWS (RFC 7515 7.1) into its header segment, claims, signing input and
    signature.

    Read here rather than by jwt.decode, whose check of the base64url alphabet runs a Python
    loop per character: about 70 µs of a proof's 100. The header is read by _verifier.
    """
    if not COMPACT_JWS.fullmatch(proof):
        raise ProofError("The DPoP proof is not a valid signed JWT.")
    header, claims, signature = proof.split(".")
    claims = json.loads(_b64decode(claims))
    if not isinstance(claims, dict):
        raise ProofError("The DPoP proof is not a valid signed JWT.")
    return header, claims, proof[: proof.rindex(".")].encode(), _b64decode(signature)


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@lru_cache(maxsize=1024)
def _verifier(header: str) -> tuple[Callable[[bytes, bytes], None], str]:
    """Read a proof's header segment (base64url JSON) and return a function that checks a
    signature by its jwk (raising InvalidSignature) and the jwk's thumbprint.

    Kept per header for the same client's next proof: its header is the same text each time,
    and reading it (JSON, the typ/alg/jwk checks, the key's JSON for _key) cost about 25 µs.
    Nothing but the segment decides the result; a refused header raises and is not kept.
    """
    members = json.loads(_b64decode(header))
    if not isinstance(members, dict):
        raise ProofError("The DPoP proof is not a valid signed JWT.")
    alg, jwk = members.get("alg"), members.get("jwk")
    if members.get("typ") != "dpop+jwt":
        raise ProofError("The DPoP proof's typ must be dpop+jwt.")
    if alg not in KEY_TYPES:
        raise ProofError(f"The DPoP proof's alg must be one of {ALGORITHMS}.")
    if not isinstance(jwk, dict) or any(name in jwk for name in PRIVATE_MEMBERS):
        raise ProofError("The DPoP proof's jwk must be a public key.")
    if (jwk.get("kty"), jwk.get("crv")) != KEY_TYPES[alg]:
        raise ProofError(f"The DPoP proof's jwk is not a key for {alg}.")
    key, jkt = _key(alg, json.dumps(jwk, sort_keys=True))
    return VERIFIERS[alg](key.key), jkt


@lru_cache(maxsize=1024)
def _key(alg: str, jwk: str) -> tuple[jwt.PyJWK, str]:
    """A key object and thumbprint for a jwk (its JSON), kept for the same client's next
    proof: building the key (an EC point's validation) costs about as much as a signature check."""
    members = json.loads(jwk)
    return jwt.PyJWK(members, algorithm=alg), thumbprint(members)


def _es256(key: ec.EllipticCurvePublicKey) -> Callable[[bytes, bytes], None]:
    """RFC 7518 3.4: the signature is R and S, 32 bytes each; cryptography wants DER."""
    ecdsa = ec.ECDSA(hashes.SHA256())

    def verify(signing_input: bytes, signature: bytes) -> None:
        if len(signature) != 64:
            raise InvalidSignature
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        key.verify(encode_dss_signature(r, s), signing_input, ecdsa)

    return verify


def _eddsa(key: ed25519.Ed25519PublicKey) -> Callable[[bytes, bytes], None]:
    return lambda signing_input, signature: key.verify(signature, signing_input)


# cryptography's own verify, as PyJWT's algorithm objects call it, without their per-call
# type checks; the key objects come from PyJWK, which validates the jwk (_key).
VERIFIERS = {"ES256": _es256, "EdDSA": _eddsa}


def check_proof(
    proof: str, *, method: str, url: str, access_token: str | None = None, now: float | None = None
) -> dict:
    """Return the claims of a valid proof for `method` on `url`, plus `jkt`, its key's thumbprint.

    Checked here: one compact JWT, typ, alg, a public jwk that verifies the signature, htm,
    htu (both sides normalized), iat within MAX_AGE past and MAX_FUTURE ahead, a jti, and
    `ath` when an access token is presented. Left to the caller: jti replay, nonce, cnf.
    """
    if len(proof) > MAX_PROOF_BYTES:
        raise ProofError("The DPoP proof is too long.")
    try:
        header, claims, signing_input, signature = _segments(proof)
        verify, jkt = _verifier(header)
        try:
            verify(signing_input, signature)
        except InvalidSignature:
            raise ProofError("The DPoP proof's signature does not verify with its jwk.") from None
        if any(name not in claims for name in ("iat", "jti", "htm", "htu")):
            raise ProofError("The DPoP proof lacks one of the claims iat, jti, htm, htu.")
        htu = normalize_url(claims["htu"]) if isinstance(claims["htu"], str) else None
    except ProofError:
        raise
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        raise ProofError("The DPoP proof is not a valid signed JWT.") from None
    _check_claims(claims, method=method, htu=htu, url=url, access_token=access_token, now=now)
    return {**claims, "jkt": jkt}


def _check_claims(claims: dict, *, method: str, htu: str | None, url: str, access_token, now) -> None:
    now = time.time() if now is None else now
    iat, jti = claims["iat"], claims["jti"]
    if claims["htm"] != method:
        raise ProofError("The DPoP proof's htm is not this request's method.")
    if htu != normalize_url(url):
        raise ProofError("The DPoP proof's htu is not this request's URL.")
    if not isinstance(iat, int | float) or isinstance(iat, bool) or not now - MAX_AGE <= iat <= now + MAX_FUTURE:
        raise ProofError(f"The DPoP proof's iat must be within {MAX_AGE} s before now and {MAX_FUTURE} s after.")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS or not _is_unicode_text(jti):
        raise ProofError("The DPoP proof's jti must be a string of at most 256 characters.")
    if access_token is not None:
        ath = claims.get("ath")
        # compare_digest takes only ASCII strings: anything else is no base64url hash anyway.
        if (
            not isinstance(ath, str)
            or not ath.isascii()
            or not hmac.compare_digest(ath, access_token_hash(access_token))
        ):
            raise ProofError("The DPoP proof's ath is missing or is not this access token's hash.")


def _is_unicode_text(value: str) -> bool:
    """JSON may carry a lone surrogate ("\\ud800"), which no UTF-8 encoding can hold."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def replay_key(claims: dict) -> str:
    """What a store of used proofs keeps: a fixed-size hash of htu and jti (RFC 9449 11.1)."""
    return hashlib.sha256(f"{claims['htu']}\n{claims['jti']}".encode()).hexdigest()


class UsedProofs:
    """The `jti`s seen in the last MAX_AGE + MAX_FUTURE seconds, in this process's memory.

    The verifier runs as one granian worker process with several threads, so one dict
    behind a lock is shared by every request it serves. With more worker processes a
    proof could be replayed once per process: they would need a shared store (Redis).
    """

    def __init__(self, ttl: float = MAX_AGE + MAX_FUTURE, size: int = 1_000_000):
        self._ttl, self._size = ttl, size
        self._expiry: dict[str, float] = {}  # insertion order is expiry order: ttl is fixed
        self._lock = Lock()

    def add(self, key: str) -> bool:
        """Remember `key`; False if it was seen within the ttl (a replay) or the store is full."""
        now = time.monotonic()
        with self._lock:
            while self._expiry and next(iter(self._expiry.values())) <= now:
                del self._expiry[next(iter(self._expiry))]
            if key in self._expiry or len(self._expiry) >= self._size:
                return False
            self._expiry[key] = now + self._ttl
            return True


def check_binding(*, scheme: str, proof: str | None, method: str, url: str, token: str, claims: dict,
                  used: UsedProofs) -> None:  # fmt: skip
    """Refuse a request whose token's binding and presentation disagree (RFC 9449 7.1, 7.2):
    a bound token (`cnf.jkt`) only as `DPoP` with a fresh proof by its key, an unbound one
    only as `Bearer`. ProofError says why; its code `invalid_token` is about the token."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if scheme == "Bearer":
        if cnf is not None:
            raise ProofError("This token is bound to a DPoP key; send it as Authorization: DPoP with a proof.",
                             "invalid_token")  # fmt: skip
        return
    if not isinstance(jkt, str):
        raise ProofError("This token is not bound to a DPoP key; send it as Authorization: Bearer.", "invalid_token")
    proof = one_proof(proof)
    if not proof:
        raise ProofError("A DPoP proof is required.")
    checked = check_proof(proof, method=method, url=url, access_token=token)
    if not used.add(replay_key(checked)):
        raise ProofError("This DPoP proof was used already.")
    if not hmac.compare_digest(checked["jkt"], jkt):
        raise ProofError("The DPoP proof is not signed by the key this token is bound to.", "invalid_token")
