"""`python -m bench.secrets_cost`: what storing sessions under the SHA-256 of their key costs.

Every session read, write and delete on a server-side engine hashes the cookie's key once
(accounts.session_engines.keys.stored_key: the row, the cache key, the registry). Times one
hash of a 32-character key, as Django makes them, with timeit: the best of REPEATS runs of
CALLS calls, per call. The budget is 5 µs; the per-request path gains no query.
"""

from __future__ import annotations

import secrets
import string
import timeit

from accounts.session_engines.keys import stored_key

BUDGET_US = 5.0
REPEATS, CALLS = 5, 100_000


def measure(*, repeats: int = REPEATS, calls: int = CALLS) -> float:
    """Microseconds per stored_key() of a 32-character session key (best of `repeats` runs)."""
    key = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
    runs = timeit.repeat(
        "stored_key(key)", globals={"stored_key": stored_key, "key": key}, repeat=repeats, number=calls
    )
    return min(runs) / calls * 1e6


def main() -> None:
    cost = measure()
    print(f"stored_key(32-char key): {cost:.3f} µs per call (budget {BUDGET_US} µs)")
    if cost > BUDGET_US:
        raise SystemExit(f"over budget: {cost:.3f} µs > {BUDGET_US} µs")


if __name__ == "__main__":
    main()
