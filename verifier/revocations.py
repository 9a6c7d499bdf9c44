"""Follow authdemo's signed revocation feed: the per-user cut-offs of the last minutes.

The feed is a JWS signed with authdemo's active key (header `typ: revocations+jwt`, audience
`authdemo-revocations`, so it can never pass as an access token, nor an access token as a
feed). It is polled every REVOCATION_POLL seconds by one background thread, with the
verifier's REVOCATION_FEED_TOKEN as a bearer credential; a revocation therefore reaches the
verifier within one poll interval plus one fetch. A feed counts as fresh for
REVOCATION_MAX_STALE seconds after authdemo issued it (its `iat`, plus REVOCATION_CLOCK_SKEW
for clocks that differ), never after it was received: a replayed copy ages like the original.
Only a feed issued later than the one held is taken. Once the held feed is too old (authdemo
unreachable, or every answer a replay) the verifier refuses every token (503) rather than
accept ones that may be revoked.

A cut-off is a version, not a time: an access token carries, in its claim `cutoff`, the
user's cut-off it was issued under, and is void once the feed lists a newer one for its user
(authdemo makes each revocation's strictly newer whatever its clock says). So no clock is
compared: tokens issued just before a revocation by an instance whose clock runs ahead, or just
after it by one whose clock runs behind, are judged right.

The feed also carries the kids that may still verify (a key removed at authdemo is dropped
here at poll speed, not after the key set's max-age), authdemo's leeway (the verifier never
uses a larger one), and `revoked_before`: after a mass revocation, when more cut-offs fall in
the window than the feed lists one by one, it is the newest of those folded together (see
`revokes`).
"""

from __future__ import annotations

import logging
import threading
import time

import jwt

from verifier.keyset import FetchError, KeySet, Unavailable, http_get

FEED_TYPE = "revocations+jwt"
FEED_AUDIENCE = "authdemo-revocations"
CUTOFF_CLAIM = "cutoff"  # the access token's claim: the user's cut-off when it was issued (api/tokens.py)
log = logging.getLogger("verifier")


class RevocationFeed:
    def __init__(self, *, url: str | None, keyset: KeySet, issuer: str, poll: float, timeout: float,
                 max_stale: float = float("inf"), clock_skew: float = 0.0, token: str | None = None):  # fmt: skip
        self.url, self.keyset, self.issuer, self.poll, self.timeout = url, keyset, issuer, poll, timeout
        self.max_stale, self.clock_skew, self.token = max_stale, clock_skew, token
        self.cutoffs: dict[str, float] = {}
        self.revoked_before = 0.0  # the newest cut-off a mass revocation folded together (see revokes)
        self.kids: frozenset[str] | None = None  # None until a feed says which keys still verify
        self.leeway: float | None = None
        self.issued_at = 0.0  # of the feed in use; an older one is never taken (no rollback)
        self.received_at: float | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()

    def configure(self, *, clock_skew: float, token: str | None) -> None:
        """Set what the service's configuration says (before start())."""
        self.clock_skew, self.token = clock_skew, token

    def revokes(self, *, user_id: int, iat: float, issued_under: float | None) -> bool:
        """True if a token of `user_id` issued at `iat` under the cut-off `issued_under` is void.

        Listed users: void if issued under an older cut-off than the one listed; no clock is
        compared. The fold (`revoked_before`) names no users, so it can only be judged by time:
        a token issued under a cut-off older than it is void if its `iat` is at most the leeway
        after it, the leeway covering clocks that differ by that much (every user then refreshes
        an access token issued in that span; a token issued under a newer cut-off is not touched).
        A token without the claim (minted before it existed, one access lifetime at most) is
        judged by its `iat` alone, as before.
        """
        listed = self.cutoffs.get(str(user_id), 0.0)
        if issued_under is None:
            return iat <= max(self.revoked_before, listed)
        if issued_under < listed:
            return True
        margin = self.leeway or 0.0
        return issued_under < self.revoked_before and iat <= self.revoked_before + margin

    def usable(self, now: float | None = None) -> bool:
        """False once the feed held was issued more than REVOCATION_MAX_STALE + REVOCATION_CLOCK_SKEW
        seconds ago, and until a first feed arrives: a verifier started while the feed is out of
        reach knows of no revocation, and would accept every token revoked before it started
        (`make drill`'s feed drill found it). Counted from the feed's own `iat`, not its receipt:
        a copy replayed by anything between us and authdemo grows old too."""
        if self.url is None:
            return True
        if self.received_at is None:
            return False
        now = time.time() if now is None else now
        return now - self.issued_at <= self.max_stale + self.clock_skew

    def still_verifies(self, kid: str) -> bool:
        """False for a key the last feed no longer lists (removed at authdemo), unless the key
        set was fetched after that feed was issued (a key published since then)."""
        fetched_at = self.keyset.fetched_at or 0.0
        return self.kids is None or kid in self.kids or fetched_at > self.issued_at

    def check(self) -> None:
        """Unavailable if the revocation feed is too old to rely on."""
        if not self.usable():
            raise Unavailable(f"no revocation feed issued by {self.url} in the last {self.max_stale:g} s")

    def refresh(self) -> None:
        """Fetch and verify the feed once; take it if authdemo issued it after the one held.
        FetchError (feed kept) if it cannot be used; a copy of the feed held changes nothing."""
        got = http_get(self.url, timeout=self.timeout, accept="application/jwt", token=self.token)
        try:
            header = jwt.get_unverified_header(got.body)
            kid = header.get("kid")
            key = self.keyset.get(kid, at_once=True) if isinstance(kid, str) else None
            if key is None or header.get("typ") != FEED_TYPE or header.get("alg") != key.algorithm_name:
                raise FetchError(f"{self.url} is not a feed signed with a published key")
            claims = jwt.decode(got.body, key, algorithms=[key.algorithm_name], audience=FEED_AUDIENCE,
                                issuer=self.issuer, options={"require": ["iat", "exp"]})  # fmt: skip
            issued_at, revoked_before = float(claims["iat"]), float(claims.get("revoked_before", 0))
            cutoffs = {str(uid): float(at) for uid, at in claims["cutoffs"].items()}
            kids, leeway = claims.get("kids"), claims.get("leeway")
            kids = frozenset(kids) if isinstance(kids, list) and all(isinstance(k, str) for k in kids) else None
            leeway = float(leeway) if isinstance(leeway, int | float) and not isinstance(leeway, bool) else None
        except (jwt.PyJWTError, Unavailable, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FetchError(f"{self.url} did not answer a valid revocation feed ({exc})") from None
        self.take(issued_at, cutoffs=cutoffs, revoked_before=revoked_before, kids=kids, leeway=leeway)

    def take(self, issued_at: float, *, cutoffs: dict[str, float], revoked_before: float,
             kids: frozenset[str] | None, leeway: float | None) -> None:  # fmt: skip
        """Hold a verified feed if it is newer than the one held (no replay, no rollback)."""
        now = time.time()
        if issued_at > now + self.clock_skew:  # it would stay fresh for longer than REVOCATION_MAX_STALE
            raise FetchError(f"{self.url} issued a feed {issued_at - now:.1f} s ahead of our clock "
                             f"(more than REVOCATION_CLOCK_SKEW={self.clock_skew:g})")  # fmt: skip
        if issued_at <= self.issued_at:
            # Not taken, and not an error: authdemo reuses a signed feed for REVOCATION_FEED_CACHE, and
            # instances behind one name sign theirs at different times. A replay or rollback changes
            # nothing held, so the held feed ages from its own iat and fails closed on time.
            return
        self.cutoffs, self.revoked_before, self.issued_at, self.received_at = cutoffs, revoked_before, issued_at, now
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
