"""The verifier's judgement of a token against the feed it holds: by the cut-off the token was
issued under (claim `cutoff`), so no clock is compared; by `iat` only for the feed's fold and
for tokens minted before the claim existed."""

import time

import pytest

from verifier.revocations import RevocationFeed

CUT = 1_800_000_000.123456  # bob's cut-off, as authdemo stored it
LEEWAY = 10


@pytest.fixture
def feed():
    """A feed holding bob's (user 7) cut-off, nothing folded."""
    held = RevocationFeed(url=None, keyset=None, issuer="authdemo", poll=1, timeout=1)
    held.take(time.time() - 1, cutoffs={"7": CUT}, revoked_before=0.0, kids=None, leeway=LEEWAY)
    return held


def test_token_issued_under_an_older_cutoff_is_revoked_whatever_its_iat(feed):
    """Issued before the revocation by an instance whose clock runs ahead: iat after the cut-off."""
    assert feed.revokes(user_id=7, iat=CUT + 2, issued_under=0)


def test_token_issued_under_the_listed_cutoff_is_live_whatever_its_iat(feed):
    """Issued after the revocation by an instance whose clock runs behind: iat before the cut-off."""
    assert not feed.revokes(user_id=7, iat=CUT - 2, issued_under=CUT)


def test_token_of_a_user_not_listed_is_live(feed):
    assert not feed.revokes(user_id=8, iat=CUT - 100, issued_under=0)


def test_token_without_the_claim_is_judged_by_its_iat(feed):
    assert feed.revokes(user_id=7, iat=CUT, issued_under=None)
    assert not feed.revokes(user_id=7, iat=CUT + 0.001, issued_under=None)


def test_fold_revokes_tokens_issued_under_an_older_cutoff_up_to_the_leeway_after_it(feed):
    """The fold names no users: a token issued by a clock up to the leeway ahead is still caught."""
    feed.take(time.time(), cutoffs={}, revoked_before=CUT, kids=None, leeway=LEEWAY)
    assert feed.revokes(user_id=8, iat=CUT + LEEWAY, issued_under=0)
    assert not feed.revokes(user_id=8, iat=CUT + LEEWAY + 0.001, issued_under=0)


def test_fold_spares_a_token_issued_under_a_cutoff_at_or_after_it(feed):
    """A folded user's token issued after their own revocation carries that cut-off."""
    feed.take(time.time(), cutoffs={}, revoked_before=CUT, kids=None, leeway=LEEWAY)
    assert not feed.revokes(user_id=7, iat=CUT - 2, issued_under=CUT)
