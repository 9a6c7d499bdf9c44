"""A browser that takes part in DBSC: the Django test client plus a DeviceKey (devicebound.client)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.test import Client

from devicebound import services
from devicebound.client import DeviceKey, challenge_of, parameters
from tests.factories import PASSWORD


@dataclass
class DbscBrowser:
    """A test client over HTTPS that logs in and answers DBSC as Chromium would."""

    client: Client = field(default_factory=Client)
    key: DeviceKey = field(default_factory=DeviceKey)
    registration: dict = field(default_factory=dict)
    session_id: str | None = None

    def log_in(self, user) -> None:
        response = self.client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}, secure=True)
        assert response.status_code == 302, response.content
        self.registration = parameters(response[services.REGISTRATION_HEADER])

    def register(self, proof: str | None = None):
        proof = proof or self.key.registration_proof(self.registration["challenge"])
        response = self.post(self.registration["path"], proof=proof)
        if response.status_code == 200:
            self.session_id = response.json()["session_identifier"]
        return response

    def post(self, path: str, *, proof: str | None = None, session_id: str | None = None):
        headers = {"Secure-Session-Response": proof} if proof is not None else {}
        if session_id is not None:
            headers["Sec-Secure-Session-Id"] = session_id
        return self.client.post(path, secure=True, headers=headers)

    def challenge(self, session_id: str | None = None) -> str:
        """Ask the refresh URL without a proof; return the challenge of its 403."""
        response = self.post("/dbsc/refresh/", session_id=session_id or self.session_id)
        assert response.status_code == 403, response.content
        return challenge_of(response[services.CHALLENGE_HEADER])

    def refresh(self, proof: str | None = None, session_id: str | None = None):
        proof = proof or self.key.refresh_proof(self.challenge())
        return self.post("/dbsc/refresh/", proof=proof, session_id=session_id or self.session_id)

    def drop_bound_cookie(self) -> None:
        self.client.cookies.pop(services.cookie_name(), None)

    def page(self, path: str = "/accounts/profile/"):
        return self.client.get(path, secure=True)

    @property
    def session_cookie(self) -> str:
        return self.client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def dbsc_browser(db):
    """Make browsers that take part in DBSC: `dbsc_browser()` or `dbsc_browser("RS256")`."""
    return lambda algorithm="ES256": DbscBrowser(key=DeviceKey(algorithm))


@pytest.fixture
def bound(dbsc_browser, alice) -> DbscBrowser:
    """Alice logged in, her session bound to an ES256 key."""
    browser = dbsc_browser()
    browser.log_in(alice)
    assert browser.register().status_code == 200
    return browser
