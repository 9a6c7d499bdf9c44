"""The backend-for-frontend (RFC 10017's first recommendation): tokens kept on the server.

The browser holds one same-site session cookie for the second site; the tokens and the DPoP
key they are bound to live in that session's server-side record, and every API call is made
from here with a fresh proof (api.dpop, scripts/dpop_demo.py). A script in the page can ask
this backend to call the API while the page is open; it can never read a token or the key.
"""

from __future__ import annotations

import requests
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from accounts import vocabulary
from scripts.dpop_demo import DpopKey

HELD = "crosssite.bff"  # the session key the tokens and the key live under
TIMEOUT = 5


class BffError(Exception):
    """The backend cannot act for the browser; `status` and `code` are the answer to give."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def _require_server_side_sessions() -> None:
    # A signed-cookie session is stored in the browser: the tokens would be handed to it.
    if not vocabulary.session_engine(settings.SESSION_BACKEND).revocable:
        raise BffError(503, "bff_needs_server_sessions", "The backend-for-frontend needs server-side sessions.")


def _call(method: str, path: str, *, key: DpopKey, nonce: str | None, token: str | None = None, body=None):
    """One API call with a proof; on use_dpop_nonce, once more with the nonce just given (RFC 9449 8)."""
    url = f"{settings.CROSS_SITE_API}{path}"
    for attempt in range(2):
        headers = {"DPoP": key.proof(method, url, nonce=nonce, token=token)}
        if token:
            headers["Authorization"] = f"DPoP {token}"
        try:
            response = requests.request(method, url, headers=headers, json=body, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise BffError(502, "api_unreachable", f"The API did not answer: {type(exc).__name__}.") from exc
        nonce = response.headers.get("DPoP-Nonce", nonce)
        if attempt or response.status_code not in (400, 401) or _code(response) != "use_dpop_nonce":
            return response, nonce
    raise AssertionError("unreachable")


def _code(response) -> str | None:
    try:
        return response.json().get("code")
    except ValueError:
        return None


def log_in(*, session, username: str, password: str) -> dict:
    """Obtain a DPoP-bound token pair for the user and keep it, with its key, in `session`."""
    _require_server_side_sessions()
    key = DpopKey.generate()
    response, nonce = _call(
        "POST", "/api/token/", key=key, nonce=None, body={"username": username, "password": password}
    )
    if response.status_code != 200:
        return {"status": response.status_code, "body": _json(response)}
    pair = response.json()
    session.cycle_key()  # a new session id for a new login (session fixation)
    session[HELD] = {"access": pair["access"], "refresh": pair["refresh"], "key": key.pem().decode(),
                     "nonce": nonce, "username": username}  # fmt: skip
    return {"status": 200, "body": {"username": username}}


def call_api(*, session, path: str) -> dict:
    """GET `path` on the API with the session's token and a proof by its key; refresh once on 401."""
    held = session.get(HELD)
    if not held:
        return {
            "status": 401,
            "body": {"detail": "Not logged in to the backend-for-frontend.", "code": "not_logged_in"},
        }
    key = DpopKey(serialization.load_pem_private_key(held["key"].encode(), password=None))
    response, held["nonce"] = _call("GET", path, key=key, nonce=held["nonce"], token=held["access"])
    if response.status_code == 401:
        refreshed, held["nonce"] = _call(
            "POST", "/api/token/refresh/", key=key, nonce=held["nonce"], body={"refresh": held["refresh"]}
        )
        if refreshed.status_code == 200:
            held |= {"access": refreshed.json()["access"], "refresh": refreshed.json()["refresh"]}
            response, held["nonce"] = _call("GET", path, key=key, nonce=held["nonce"], token=held["access"])
    session[HELD] = held
    return {"status": response.status_code, "body": _json(response)}


def log_out(*, session) -> None:
    """End the token family at the API, then the session."""
    held = session.get(HELD)
    if held:
        key = DpopKey(serialization.load_pem_private_key(held["key"].encode(), password=None))
        _call("POST", "/api/token/blacklist/", key=key, nonce=held["nonce"], body={"refresh": held["refresh"]})
    session.flush()


def _json(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {"detail": f"The API answered {response.status_code} without JSON.", "code": "api_error"}
    return (
        body if isinstance(body, dict) else {"detail": "The API answered JSON that is no object.", "code": "api_error"}
    )
