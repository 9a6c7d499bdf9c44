"""DBSC in a real browser, for the tests that need one: the site on granian over TLS with a
self-signed certificate made here, and a Chromium with its DBSC features on that trusts that
certificate through its SPKI pin (--ignore-certificate-errors-spki-list).

Chromium 156 takes part only over HTTPS with a certificate it trusts, and only with its
DBSC features on; Linux has no TPM provider, so the software-key flag is needed too.
Used by tests/e2e/test_device_bound.py and tests/e2e/test_theft_lab.py, which import the
fixtures below by name.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.stack import Server
from tests.support import CHROMIUM, CHROMIUM_ARGS, DESKTOP

DBSC_FEATURES = "--enable-features=DeviceBoundSessions,EnableBoundSessionCredentialsSoftwareKeysForManualTesting"
BOUND_COOKIE_AGE = 125  # Chromium refreshes a bound cookie that expires within 120 s: after 5 s here
SESSION_COOKIE = "__Host-sessionid"  # the site runs with secure cookies
BOUND_COOKIE = "__Host-dbsc"


@dataclass
class Certificate:
    cert: Path
    key: Path
    spki: str  # base64 SHA-256 of the SubjectPublicKeyInfo, as Chromium's pin list wants it


def make_certificate(directory: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(directory / "cert.pem", directory / "key.pem", "")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    paths.spki = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    return paths


@dataclass
class TlsServer(Server):
    """The site on granian over TLS (--certfile/--keyfile)."""

    certificate: Certificate | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [*super().command(), "--certfile", str(self.certificate.cert), "--keyfile", str(self.certificate.key)]

    def wait_ready(self, timeout: float = 30) -> Server:
        # requests trusts the certificate made for this server, nothing else
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("REQUESTS_CA_BUNDLE", str(self.certificate.cert))
            return super().wait_ready(timeout)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(server_env, certificate, tmp_path_factory):
    env = {**server_env, "DJANGO_SECURE_COOKIES": "true", "DBSC_COOKIE_AGE": str(BOUND_COOKIE_AGE)}
    log = tmp_path_factory.mktemp("tls-logs") / "server.log"
    server = TlsServer("tls", env, log, app="authdemo.wsgi", access_log=True, certificate=certificate)
    yield server.start().wait_ready()
    server.stop()


@pytest.fixture(scope="module")
def dbsc_chromium(browser, certificate):
    """A second Chromium from the suite's Playwright, with DBSC on and the certificate pinned."""
    pin = f"--ignore-certificate-errors-spki-list={certificate.spki}"
    chromium = browser.browser_type.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, DBSC_FEATURES, pin]
    )
    yield chromium
    chromium.close()


@pytest.fixture
def dbsc_page(dbsc_chromium, tls_server, transactional_db):
    context = dbsc_chromium.new_context(base_url=tls_server.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def cookies_of(page) -> dict[str, str]:
    return {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}


def thief_get(server: TlsServer, cookies: dict[str, str], path: str = "/accounts/profile/") -> requests.Response:
    """A fresh requests.Session elsewhere, holding only `cookies`."""
    thief = requests.Session()
    thief.cookies.update(cookies)
    return thief.get(f"{server.url}{path}", verify=str(server.certificate.cert), allow_redirects=False, timeout=10)
