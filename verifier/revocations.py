"""Follow authdemo's signed revocation feed: the per-user cut-offs of the last minutes.

The feed is a JWS signed with authdemo's active key (header `typ: revocations+jwt`, audience
`authdemo-revocations`, so it can never pass as an access token, nor an access token as a
feed). It is polled every REVOCATION_POLL seconds by one background thread; a revocation
therefore reaches the verifier within one poll interval plus one fetch. While authdemo
cannot be reached the last feed is kept for at most REVOCATION_MAX_STALE seconds; after
that the verifier refuses every token (503) rather than accept ones that may be revoked.

The feed also carries the kids that may still verify (a key removed at authdemo is dropped
here at poll speed, not after the key set's max-age) and authdemo's leeway (the verifier
never uses a larger one).
"""

from __future__ import annotations

import logging
import threading
import time

import jwt

from verifier.keyset import FetchError, KeySet, Unavailable, http_get

FEED_TYPE = "revocations+jwt"
FEED_AUDIENCE = "authdemo-revocations"
log = logging.getLogger("verifier")


class RevocationFeed:
    def __init__(self, *, url: str | None, keyset: KeySet, issuer: str, poll: float, timeout: float,
                 max_stale: float = float("inf")):  # fmt: skip
        self.url, self.keyset, self.issuer, self.poll, self.timeout = url, keyset, issuer, poll, timeout
        self.max_stale = max_stale
        self.started_at = time.time()
        self.cutoffs: dict[str, float] = {}
        self.kids: frozenset[str] | None = None  # None until a feed says which keys still verify
        self.leeway: float | None = None
        self.issued_at = 0.0  # of the feed in use; an older one is never taken (no rollback)
        self.received_at: float | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()

    def cutoff(self, user_id: object) -> float:
        return self.cutoffs.get(str(user_id), 0.0)

    def usable(self, now: float | None = None) -> bool:
        """False once no feed was received for REVOCATION_MAX_STALE seconds (since start-up at first)."""
        if self.url is None:
            return True
        since = self.received_at if self.received_at is not None else self.started_at
        return (time.time() if now is None else now) - since <= self.max_stale

    def still_verifies(self, kid: str) -> bool:
        """False for a key the last feed no longer lists (removed at authdemo), unless the key
        set was fetched after that feed was issued (a key published since then)."""
        fetched_at = self.keyset.fetched_at or 0.0
        return self.kids is None or kid in self.kids or fetched_at > self.issued_at

    def check(self) -> None:
        """Unavailable if the revocation feed is too old to rely on."""
        if not self.usable():
            raise Unavailable(f"no revocation feed from {self.url} for more than {self.max_stale:g} s")

    def refresh(self) -> None:
        """Fetch and verify the feed once; FetchError (feed kept) if it cannot be used."""
        got = http_get(self.url, timeout=self.timeout, accept="application/jwt")
        try:
            header = jwt.get_unverified_header(got.body)
            key = self.keyset.get(header.get("kid")) if isinstance(header.get("kid"), str) else None
            if key is None or header.get("typ") != FEED_TYPE or header.get("alg") != key.algorithm_name:
                raise FetchError(f"{self.url} is not a feed signed with a published key")
            claims = jwt.decode(got.body, key, algorithms=[key.algorithm_name], audience=FEED_AUDIENCE,
                                issuer=self.issuer, options={"require": ["iat", "exp"]})  # fmt: skip
            cutoffs = {str(uid): float(at) for uid, at in claims["cutoffs"].items()}
            kids, leeway = claims.get("kids"), claims.get("leeway")
            kids = frozenset(kids) if isinstance(kids, list) and all(isinstance(k, str) for k in kids) else None
            leeway = float(leeway) if isinstance(leeway, int | float) and not isinstance(leeway, bool) else None
        except (jwt.PyJWTError, Unavailable, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FetchError(f"{self.url} did not answer a valid revocation feed ({exc})") from None
        if claims["iat"] >= self.issued_at:
            self.cutoffs, self.issued_at, self.received_at = cutoffs, claims["iat"], time.time()
            self.kids, self.leeway = kids, leeway

    def follow(self) -> None:
        """Poll until stopped (run in a daemon thread)."""
        while not self._stop.is_set():
            try:
                self.refresh()
                self.last_error = None
            except FetchError as exc:
                if exc.args[0] != self.last_error:
                    log.warning("revocation feed: %s", exc)
                self.last_error = str(exc)
            self._stop.wait(self.poll)

    def start(self) -> None:
        if self.url is not None:
            threading.Thread(target=self.follow, name="revocation-feed", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
