"""Log a plain HTTP client in to a running site, as a browser or an API client does."""

from __future__ import annotations

import requests

TIMEOUT = 30  # a bound on one hung request


def log_in(base: str, username: str, password: str, *, timeout: float = TIMEOUT) -> requests.Session:
    """Log in through the real login form, as a browser does; the session carries the cookie.

    Raises unless the form answered with the redirect of a successful login.
    """
    browser = requests.Session()
    browser.get(f"{base}/accounts/login/", timeout=timeout).raise_for_status()
    response = browser.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/login/"}, allow_redirects=False, timeout=timeout,
    )  # fmt: skip
    if response.status_code != 302:
        raise RuntimeError(f"logging in {username} at {base}: HTTP {response.status_code}")
    return browser


def post_form(browser: requests.Session, base: str, path: str, *, timeout: float = TIMEOUT) -> requests.Response:
    """POST a form of the site (logout, log out everywhere) with the page's CSRF token."""
    return browser.post(
        f"{base}{path}", data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/profile/"}, allow_redirects=False, timeout=timeout,
    )  # fmt: skip


def bearer(base: str, username: str, password: str, *, timeout: float = TIMEOUT) -> requests.Session:
    """A client holding an access token from the token endpoint."""
    response = requests.post(f"{base}/api/token/", json={"username": username, "password": password}, timeout=timeout)
    response.raise_for_status()
    client = requests.Session()
    client.headers["Authorization"] = f"Bearer {response.json()['access']}"
    return client
