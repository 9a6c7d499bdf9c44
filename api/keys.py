"""The signing key ring in JWT_KEYS_DIR: private keys, their states, the published key set.

Layout of JWT_KEYS_DIR (outside the repository, readable by the site only):

    keys.json   {"keys": {kid: {"algorithm", "status", "created_at", "retired_at"}}}
    <kid>.pem   the private key, PKCS #8 PEM, mode 0600

A key is `next` (published so verifiers can fetch it, not signing yet), `active` (signs new
tokens; one at a time) or `retired` (verifies until the last token it signed can have expired,
plus leeway). `kid` is the key's RFC 7638 JWK thumbprint. HS256 has no ring: its one key is
JWT_SIGNING_KEY. `manage.py jwt_keys` is the only writer; the site re-reads the ring when
keys.json changes, so a rotation needs no restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

STATE_FILE = "keys.json"
NEXT, ACTIVE, RETIRED = "next", "active", "retired"
# algorithm -> (private key class, key generator, PyJWT algorithm that writes the JWK)
ALGORITHMS: dict[str, tuple[type, Any, Any]] = {
    "RS256": (rsa.RSAPrivateKey, lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm),
    "ES256": (ec.EllipticCurvePrivateKey, lambda: ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
    "EdDSA": (ed25519.Ed25519PrivateKey, ed25519.Ed25519PrivateKey.generate, OKPAlgorithm),
}
THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


class KeyFileError(ImproperlyConfigured):
    """The key directory or one of its files cannot be used; the message names it."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict) -> str:
    """Return the RFC 7638 JWK thumbprint (SHA-256, base64url): the required members only,
    sorted, no whitespace."""
    members = ("k", "kty") if jwk["kty"] == "oct" else THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def secret_kid(secret: str) -> str:
    """The thumbprint of an HS256 secret as an `oct` JWK (a hash: it reveals nothing usable)."""
    return thumbprint({"kty": "oct", "k": b64url(secret.encode())})


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    status: str
    created_at: float
    retired_at: float | None
    private_key: Any

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()

    def public_jwk(self) -> dict:
        jwk = ALGORITHMS[self.algorithm][2].to_jwk(self.public_key, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def live_until(self) -> float:
        """When the last token this key signed can have expired (plus leeway); inf while it signs."""
        if self.retired_at is None:
            return float("inf")
        jwt = settings.SIMPLE_JWT
        longest = max(jwt["ACCESS_TOKEN_LIFETIME"], jwt["REFRESH_TOKEN_LIFETIME"]).total_seconds()
        return self.retired_at + longest + jwt["LEEWAY"]

    def verifies(self, now: float) -> bool:
        return self.status != RETIRED or now < self.live_until()


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, SigningKey]

    @property
    def active(self) -> SigningKey:
        for key in self.keys.values():
            if key.status == ACTIVE:
                return key
        raise KeyFileError("JWT_KEYS_DIR has no active key: run `manage.py jwt_keys generate --activate`.")

    def verifying_key(self, kid: object, *, now: float | None = None) -> SigningKey | None:
        """The key named `kid` if it may still verify tokens, else None."""
        key = self.keys.get(kid) if isinstance(kid, str) else None
        return key if key is not None and key.verifies(time.time() if now is None else now) else None

    def verifying_kids(self, *, now: float | None = None) -> list[str]:
        """The kids whose tokens may still verify (what the revocation feed announces)."""
        now = time.time() if now is None else now
        return [key.kid for key in self.keys.values() if key.verifies(now)]

    def published(self, *, now: float | None = None) -> list[dict]:
        """Public JWKs of every key a verifier may need: next, active, and still-live retired keys."""
        now = time.time() if now is None else now
        return [key.public_jwk() for key in self.keys.values() if key.verifies(now)]


# -- reading ---------------------------------------------------------------------------------

_cache: dict[str, tuple[tuple, KeyRing]] = {}
_cache_lock = Lock()


def keys_dir() -> Path:
    directory = settings.JWT_KEYS_DIR
    if not directory:
        raise KeyFileError(f"JWT_KEYS_DIR must be set when JWT_ALGORITHM={settings.SIMPLE_JWT['ALGORITHM']}.")
    return Path(directory)


def generation(directory: Path) -> tuple:
    """What changes whenever `jwt_keys` writes (keys.json is replaced atomically)."""
    try:
        stat = (directory / STATE_FILE).stat()
    except FileNotFoundError:
        return (str(directory), None)
    return (str(directory), stat.st_ino, stat.st_mtime_ns, stat.st_size)


def load_ring(directory: Path | None = None) -> KeyRing:
    """Return the ring in `directory` (default JWT_KEYS_DIR), re-read only when it changed."""
    directory = directory or keys_dir()
    current = generation(directory)
    cached = _cache.get(str(directory))
    if cached is not None and cached[0] == current:
        return cached[1]
    with _cache_lock:
        ring = KeyRing({kid: _load_key(directory, kid, meta) for kid, meta in read_state(directory).items()})
        _cache[str(directory)] = (current, ring)
    return ring


def read_state(directory: Path) -> dict[str, dict]:
    if not directory.is_dir():
        raise KeyFileError(f"JWT_KEYS_DIR={directory} is not a directory.")
    path = directory / STATE_FILE
    if not path.exists():
        return {}
    try:
        keys = json.loads(path.read_text())["keys"]
        assert isinstance(keys, dict) and all(isinstance(meta, dict) for meta in keys.values())
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise KeyFileError(f"JWT_KEYS_DIR: {path} is not a key list written by `manage.py jwt_keys`.") from exc
    return keys


def _load_key(directory: Path, kid: str, meta: dict) -> SigningKey:
    path = directory / f"{kid}.pem"
    algorithm = meta.get("algorithm")
    if algorithm not in ALGORITHMS:
        raise KeyFileError(f"JWT_KEYS_DIR: key {kid} has unknown algorithm {algorithm!r}.")
    try:
        private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise KeyFileError(f"JWT_KEYS_DIR: {path.name} is missing (listed in {STATE_FILE}).") from exc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"JWT_KEYS_DIR: {path.name} is not an unencrypted PEM private key.") from exc
    if not isinstance(private_key, ALGORITHMS[algorithm][0]):
        raise KeyFileError(f"JWT_KEYS_DIR: {path.name} is not a {algorithm} key.")
    status, created, retired = meta.get("status", RETIRED), meta.get("created_at", 0), meta.get("retired_at")
    key = SigningKey(kid, algorithm, status, created, retired, private_key)
    if thumbprint(key.public_jwk()) != kid:
        raise KeyFileError(f"JWT_KEYS_DIR: {path.name} does not hold the key its name says (thumbprint differs).")
    return key


# -- writing (manage.py jwt_keys) ------------------------------------------------------------


def _write_state(directory: Path, keys: dict[str, dict]) -> None:
    tmp = directory / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps({"keys": keys}, indent=2, sort_keys=True))
    os.replace(tmp, directory / STATE_FILE)


def generate_key(*, directory: Path, algorithm: str) -> str:
    """Create a `next` key: published in the key set, not signing until activated."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys = read_state(directory)
    private_key = ALGORITHMS[algorithm][1]()
    kid = thumbprint(ALGORITHMS[algorithm][2].to_jwk(private_key.public_key(), as_dict=True))
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = directory / f"{kid}.pem"
    path.touch(mode=0o600)
    path.write_bytes(pem)
    keys[kid] = {"algorithm": algorithm, "status": NEXT, "created_at": time.time(), "retired_at": None}
    _write_state(directory, keys)
    return kid


def activate_key(*, directory: Path, kid: str, algorithm: str) -> None:
    """Make `kid` the signing key; the key it replaces is retired now.

    Refused for a key of another algorithm than `algorithm` (JWT_ALGORITHM): the site could
    not sign with it, and every login and refresh would fail."""
    keys = _known(directory, kid)
    if keys[kid].get("algorithm") != algorithm:
        raise KeyFileError(
            f"key {kid} is {keys[kid].get('algorithm')} but JWT_ALGORITHM={algorithm}: "
            f"activate a key of {algorithm} (`manage.py jwt_keys generate` makes one)."
        )
    for other, meta in keys.items():
        if meta["status"] == ACTIVE and other != kid:
            meta.update(status=RETIRED, retired_at=time.time())
    keys[kid].update(status=ACTIVE, retired_at=None)
    _write_state(directory, keys)


def retire_key(*, directory: Path, kid: str) -> None:
    """Stop publishing a `next` key. The active key is never retired this way (nothing would
    sign): activating its successor retires it."""
    keys = _known(directory, kid)
    if keys[kid]["status"] == ACTIVE:
        raise KeyFileError(
            f"key {kid} is active: it is retired by activating its successor "
            "(`manage.py jwt_keys generate`, then `activate <new kid>`)."
        )
    if keys[kid]["status"] != RETIRED:
        keys[kid].update(status=RETIRED, retired_at=time.time())
    _write_state(directory, keys)


def remove_key(*, directory: Path, kid: str, force: bool = False) -> None:
    """Delete a retired key; its tokens stop verifying. Refused while they may be live, unless forced."""
    keys = _known(directory, kid)
    if keys[kid]["status"] != RETIRED:
        raise KeyFileError(f"key {kid} is {keys[kid]['status']}: retire it before removing it.")
    key = load_ring(directory).keys[kid]
    if not force and key.verifies(time.time()):
        until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(key.live_until()))
        raise KeyFileError(f"key {kid} may still have live tokens until {until}; use --force to remove it now.")
    del keys[kid]
    _write_state(directory, keys)
    (directory / f"{kid}.pem").unlink(missing_ok=True)


def _known(directory: Path, kid: str) -> dict[str, dict]:
    keys = read_state(directory)
    if kid not in keys:
        raise KeyFileError(f"no key {kid} in {directory}; `manage.py jwt_keys list` shows them.")
    return keys


def ring_generation() -> tuple:
    """Changes whenever the keys that verify tokens change (nothing for HS256)."""
    if settings.SIMPLE_JWT["ALGORITHM"] == "HS256":
        return ("HS256", settings.SIMPLE_JWT["SIGNING_KEY"])
    return (settings.SIMPLE_JWT["ALGORITHM"], *generation(keys_dir()))
