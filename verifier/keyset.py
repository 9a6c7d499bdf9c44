"""The published key set, fetched over HTTP and cached the way its headers allow.

PyJWT's PyJWKClient is not used as is: on an unknown `kid` it refetches every time (so a
flood of random kids becomes a flood of fetches), it ignores `Cache-Control: max-age` and
the ETag, and a failed fetch raises instead of falling back to the last good set. PyJWKSet
still parses and checks every key; this class decides when to fetch.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from contextlib import suppress
from dataclasses import dataclass
from threading import Lock

import jwt

MAX_BODY = 1 << 20
DEFAULT_MAX_AGE = 300.0


class FetchError(Exception):
    """authdemo could not be reached, or answered something that is not a key set."""


@dataclass
class Fetched:
    status: int
    body: bytes
    etag: str | None
    max_age: float | None


def http_get(url: str, *, timeout: float, etag: str | None = None, accept: str = "application/json",
             token: str | None = None) -> Fetched:  # fmt: skip
    """GET `url` (with `Authorization: Bearer <token>` when given); FetchError names what went wrong in one line."""
    headers = {"Accept": accept, "User-Agent": "authdemo-verifier"}
    if etag:
        headers["If-None-Match"] = etag
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310  (http(s) only: checked in config)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body, status, got = response.read(MAX_BODY + 1), response.status, response.headers
    except urllib.error.HTTPError as exc:
        if exc.code != 304:
            raise FetchError(f"{url} answered HTTP {exc.code}") from None
        body, status, got = b"", 304, exc.headers
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"{url} is unreachable ({reason})") from None
    if len(body) > MAX_BODY:
        raise FetchError(f"{url} answered more than {MAX_BODY} bytes")
    match = re.search(r"max-age=(\d+)", got.get("Cache-Control", ""))
    return Fetched(status, body, got.get("ETag"), float(match.group(1)) if match else None)


def parse_key_set(body: bytes, *, url: str, algorithms: tuple[str, ...]) -> dict[str, jwt.PyJWK]:
    """Return the usable signing keys by kid; FetchError if the body is not a JWK set."""
    try:
        data = json.loads(body)
        entries = data["keys"]
        assert isinstance(entries, list)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise FetchError(f"{url} did not answer a JSON key set ({{'keys': [...]}})") from None
    keys = {}
    for entry in entries:
        # A key without kid or alg cannot be chosen safely: the token's header must not pick the algorithm.
        if not isinstance(entry, dict) or entry.get("alg") not in algorithms or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig" or "d" in entry:
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue
    return keys


class Unavailable(Exception):
    """The last good key set or feed is too old to be trusted: refuse (503), fail closed."""


class KeySet:
    """The cached key set: fresh within max-age and refetched once stale, refetched on an
    unknown kid at most once per cooldown, and kept (the last good set) while authdemo cannot
    be reached, for at most `max_stale` seconds after its max-age: then nothing verifies."""

    def __init__(self, *, url: str, algorithms: tuple[str, ...], cooldown: float, timeout: float,
                 max_stale: float = float("inf")):  # fmt: skip
        self.url, self.algorithms, self.cooldown, self.timeout = url, algorithms, cooldown, timeout
        self.max_stale = max_stale
        self.keys: dict[str, jwt.PyJWK] = {}
        self.etag: str | None = None
        self.fresh_until = 0.0
        self.last_attempt = float("-inf")
        self.fetched_at: float | None = None
        self.fetches = 0
        self.last_error: str | None = None
        self._lock = Lock()

    def refresh(self) -> None:
        """Fetch now (revalidating with the ETag); raise FetchError and keep the old set on failure."""
        self.last_attempt = time.monotonic()
        self.fetches += 1
        try:
            got = http_get(self.url, timeout=self.timeout, etag=self.etag if self.keys else None)
            if got.status != 304:
                self.keys = parse_key_set(got.body, url=self.url, algorithms=self.algorithms)
                self.etag = got.etag
        except FetchError as exc:
            self.last_error = str(exc)
            raise
        self.last_error = None
        self.fetched_at = time.time()
        self.fresh_until = time.monotonic() + (got.max_age if got.max_age is not None else DEFAULT_MAX_AGE)

    def usable(self, now: float | None = None) -> bool:
        """False once the last good set is more than `max_stale` seconds past its max-age."""
        return (time.monotonic() if now is None else now) < self.fresh_until + self.max_stale

    def get(self, kid: str, *, at_once: bool = False) -> jwt.PyJWK | None:
        """The key named `kid`, fetching when the set is stale (a failed fetch is retried once
        per cooldown) or when the kid is new and the cooldown has passed; Unavailable once the
        last good set is too old. `at_once` skips the cooldown: for the kid that signs the
        revocation feed, whose polls are rate-bounded by REVOCATION_POLL already."""
        now = time.monotonic()
        if now < self.fresh_until and kid in self.keys:
            return self.keys[kid]
        with self._lock:
            now = time.monotonic()
            stale = now >= self.fresh_until
            # A stale set is refetched at once (the rotation runbook counts on max-age alone);
            # only an unknown kid in a fresh set, or a retry after a failure, waits for the cooldown,
            # which anyone can start with one token naming a random kid. The feed's kid never waits:
            # after a leaked key's removal the feed is signed by the new key, and a feed that cannot
            # be verified leaves the previous one, which still lists the leaked kid, in force.
            wait = 0 if at_once else self.cooldown if (self.last_error or not stale) else 0
            if (stale or kid not in self.keys) and now - self.last_attempt >= wait:
                with suppress(FetchError):  # serve with the last good set; the next try waits for the cooldown
                    self.refresh()
            if not self.usable():
                raise Unavailable(f"the key set could not be refreshed from {self.url} for too long")
        return self.keys.get(kid)
