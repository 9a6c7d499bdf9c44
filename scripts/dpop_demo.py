"""Sign DPoP proofs (RFC 9449) as a client would: the README's walkthrough and the tests use it.

    python scripts/dpop_demo.py key client.pem [--alg ES256|EdDSA]   # a new private key
    python scripts/dpop_demo.py proof client.pem POST https://host/api/token/ [--nonce N] [--token ACCESS]

Needs only `cryptography` and PyJWT.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import sys
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519


class DpopKey:
    """A client's DPoP key pair: ES256 (P-256) or EdDSA (Ed25519)."""

    def __init__(self, private_key):
        self.private_key = private_key
        self.alg = "EdDSA" if isinstance(private_key, ed25519.Ed25519PrivateKey) else "ES256"

    @classmethod
    def generate(cls, alg: str = "ES256") -> DpopKey:
        return cls(ed25519.Ed25519PrivateKey.generate() if alg == "EdDSA" else ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load(cls, path: Path) -> DpopKey:
        return cls(serialization.load_pem_private_key(path.read_bytes(), password=None))

    def pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def jwk(self) -> dict:
        """The public JWK, as the proof's header carries it."""
        algorithm = jwt.get_algorithm_by_name(self.alg)
        return json.loads(algorithm.to_jwk(self.private_key.public_key()))

    def proof(self, method: str, url: str, *, nonce: str | None = None, token: str | None = None,
              iat: float | None = None, **overrides) -> str:  # fmt: skip
        """A proof for `method` on `url`; `overrides` replace claims or (as header_*) header fields."""
        claims = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(time.time() if iat is None else iat),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if token is not None:
            claims["ath"] = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
        header = {"typ": "dpop+jwt", "jwk": self.jwk()}
        for name, value in overrides.items():
            target, name = (header, name[7:]) if name.startswith("header_") else (claims, name)
            if value is None:
                target.pop(name, None)
            else:
                target[name] = value
        return jwt.encode(claims, self.private_key, algorithm=self.alg, headers=header)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    key = commands.add_parser("key", help="write a new private key (PEM)")
    key.add_argument("file", type=Path)
    key.add_argument("--alg", choices=("ES256", "EdDSA"), default="ES256")
    proof = commands.add_parser("proof", help="print a proof signed with the key")
    proof.add_argument("file", type=Path)
    proof.add_argument("method")
    proof.add_argument("url")
    proof.add_argument("--nonce")
    proof.add_argument("--token", help="the access token the proof goes with (adds ath)")
    args = parser.parse_args(argv)
    if args.command == "key":
        args.file.write_bytes(DpopKey.generate(args.alg).pem())
        args.file.chmod(0o600)
    else:
        print(DpopKey.load(args.file).proof(args.method, args.url, nonce=args.nonce, token=args.token))


if __name__ == "__main__":
    main(sys.argv[1:])
