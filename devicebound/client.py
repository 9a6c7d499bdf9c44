"""The browser's side of DBSC, with `cryptography`: a key that signs proofs as Chromium 156 does.

For the protocol tests, the cost benchmark (bench/dbsc_cost.py) and trying the endpoints by
hand. Chromium keeps its key in the TPM or, with its manual-testing flag, in software.
"""

from __future__ import annotations

import base64
import json
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

_PARAMS = re.compile(r';\s*(\w+)="([^"]*)"')


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def parameters(header: str) -> dict[str, str]:
    """The quoted parameters of a `Secure-Session-Registration` or `-Challenge` header."""
    return dict(_PARAMS.findall(";" + header.split(";", 1)[1])) if ";" in header else {}


def challenge_of(header: str) -> str:
    """The sf-string at the start of `Secure-Session-Challenge: "<challenge>";id="<id>"`."""
    return header.split(";", 1)[0].strip().strip('"')


class DeviceKey:
    """A P-256 (ES256) or 2048-bit RSA (RS256) key and the proofs it signs."""

    def __init__(self, algorithm: str = "ES256"):
        self.algorithm = algorithm
        if algorithm == "ES256":
            self.key = ec.generate_private_key(ec.SECP256R1())
        else:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def jwk(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        if self.algorithm == "ES256":
            x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
            return {"kty": "EC", "crv": "P-256", "x": b64url(x), "y": b64url(y)}
        return {"kty": "RSA", "n": _int(numbers.n), "e": _int(numbers.e)}

    def sign(self, header: dict, payload: dict) -> str:
        """A compact JWS over `header` and `payload`, signed with this key (ES256: raw r||s)."""
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}".encode()
        if self.algorithm == "ES256":
            r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            signature = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode()}.{b64url(signature)}"

    def registration_proof(self, challenge: str, **header: object) -> str:
        return self.sign({"alg": self.algorithm, "typ": "dbsc+jwt", "jwk": self.jwk, **header}, {"jti": challenge})

    def refresh_proof(self, challenge: str) -> str:
        return self.sign({"alg": self.algorithm, "typ": "dbsc+jwt"}, {"jti": challenge})
