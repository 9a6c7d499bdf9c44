"""DBSC end to end: Debian's Chromium registers, refreshes, and a copied cookie is refused.

Chromium 156 takes part only over HTTPS with a certificate it trusts, and only with its
DBSC features on; Linux has no TPM provider, so the software-key flag is needed too.
The site runs on gunicorn over TLS with a self-signed certificate made here, which
Chromium trusts through its SPKI pin (--ignore-certificate-errors-spki-list).
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
from playwright.sync_api import expect

from bench.stack import Server
from devicebound.models import DeviceBinding
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, eventually

pytestmark = [pytest.mark.browser, pytest.mark.server]

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
    """The site on gunicorn over TLS (--certfile/--keyfile)."""

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


def test_chromium_binds_the_session_at_login(dbsc_page, alice, browser_login):
    browser_login(dbsc_page, alice)
    eventually(lambda: DeviceBinding.objects.filter(session__user=alice).exists(), what="Chromium registers a key")
    binding = DeviceBinding.objects.get(session__user=alice)
    assert binding.algorithm == "ES256"
    eventually(lambda: BOUND_COOKIE in cookies_of(dbsc_page), what="the bound cookie")
    dbsc_page.goto("/accounts/sessions/")
    expect(dbsc_page.locator("table").first.locator("tbody tr")).to_contain_text("device-bound")


def test_chromium_refreshes_the_bound_cookie(dbsc_page, alice, browser_login):
    browser_login(dbsc_page, alice)
    eventually(lambda: BOUND_COOKIE in cookies_of(dbsc_page), what="the bound cookie")
    first = cookies_of(dbsc_page)[BOUND_COOKIE]
    registered = DeviceBinding.objects.get(session__user=alice).refreshed_at
    dbsc_page.wait_for_timeout(6_000)  # real time: the browser's own refresh threshold (120 s) must pass
    dbsc_page.goto("/accounts/profile/")
    eventually(
        lambda: DeviceBinding.objects.get(session__user=alice).refreshed_at > registered, what="a signed refresh"
    )
    eventually(lambda: cookies_of(dbsc_page)[BOUND_COOKIE] != first, what="a new bound cookie")
    dbsc_page.goto("/accounts/profile/")
    expect(dbsc_page.locator(".auth-status")).to_have_attribute("data-auth-via", "session")


def test_copied_session_cookie_is_refused_once_bound(dbsc_page, alice, browser_login, tls_server):
    browser_login(dbsc_page, alice)
    eventually(lambda: BOUND_COOKIE in cookies_of(dbsc_page), what="the bound cookie")
    stolen = cookies_of(dbsc_page)
    refused = thief_get(tls_server, {SESSION_COOKIE: stolen[SESSION_COOKIE]})
    assert refused.status_code == 302
    assert refused.headers["Location"] == "/accounts/login/?next=/accounts/profile/"
    # With the bound cookie too, the copy works until that cookie expires (minutes, not days).
    assert thief_get(tls_server, {SESSION_COOKIE: stolen[SESSION_COOKIE], BOUND_COOKIE: stolen[BOUND_COOKIE]}).ok
    dbsc_page.goto("/accounts/profile/")
    expect(dbsc_page.locator(".auth-status")).to_have_attribute("data-auth-via", "session")
