"""What /compare/ says about this install, each sentence computed from what it states.

A sentence that states a fact about this install is built here from the setting, the
store or the measurement the fact is about (settings read when the page renders, the Redis
this install uses, `make bench` and `make drill` results), so the page cannot go on saying
it after the fact changes; tests/authdemo/test_compare.py changes each source and reads
the sentence again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.utils.html import format_html
from django.utils.safestring import SafeString
from redis.exceptions import ResponseError

from accounts.http import CACHE_ERRORS
from accounts.selectors import CUTOFF_KEY_PREFIX
from accounts.vocabulary import CACHED_DB, DB, REVOCABLE_ENGINE_KEYS, SIGNED_COOKIES
from authdemo.drills import drill_rows
from authdemo.measured import JWT_CUTOFF, SESSION_REDIS
from copies.redis_cache import TrackingRedisCache

PERSISTENCE_TTL = 60.0  # seconds one answer to CONFIG GET is reused: the page must not query Redis per view
REDIS_DRILL = "Redis primary killed"  # deploy.cluster.drill's name for the failover drill

# -- the Redis this install uses ---------------------------------------------------------


@dataclass(frozen=True)
class Persistence:
    """What a Redis keeps on disk: CONFIG GET appendonly and save, or why they are unknown."""

    appendonly: bool = False
    save: str = ""
    unknown: str = ""  # why it could not be read; empty when it was


_answers: dict[str, tuple[float, Persistence]] = {}


def redis_persistence(*, alias: str) -> Persistence | None:
    """Ask the Redis behind cache `alias` what it persists; None when the cache is not Redis.

    The answer is kept PERSISTENCE_TTL seconds per cache configuration (so a test's own Redis,
    or a changed REDIS_URL, is asked anew), an unanswered question included: a Redis that is
    down costs one timeout a minute, never a failed page.
    """
    backend = caches[alias]
    if not type(backend).__module__.startswith("django_redis"):
        return None
    key = json.dumps(settings.CACHES[alias], sort_keys=True, default=str)
    now = time.time()
    kept = _answers.get(key)
    if kept and kept[0] > now:
        return kept[1]
    try:
        client = backend.client.get_client(write=True)  # the primary, found through Sentinel if there is one
        config = {**client.config_get("appendonly"), **client.config_get("save")}
        answer = Persistence(appendonly=config.get("appendonly") == "yes", save=config.get("save", ""))
    except ResponseError:  # CONFIG renamed or forbidden by an ACL
        answer = Persistence(unknown="Redis refused CONFIG GET")
    except CACHE_ERRORS:
        answer = Persistence(unknown="Redis did not answer")
    _answers[key] = (now + PERSISTENCE_TTL, answer)
    return answer


def cutoff_source() -> str:
    """Where an access-token check reads the user's cut-off, as accounts.selectors.get_access_cutoff
    decides: "database" (no shared cache), "local" (this process's copy) or "redis"."""
    backend = caches["default"]
    if isinstance(backend, LocMemCache):
        return "database"
    return "local" if cache_copies(backend, CUTOFF_KEY_PREFIX) else "redis"


def cache_copies(backend, prefix: str) -> bool:
    """Whether cache `backend` (not the `cache` proxy) keeps this process's copies of keys
    under `prefix` (copies.redis_cache)."""
    return isinstance(backend, TrackingRedisCache) and backend.tracks(prefix)


# -- the table's rows ----------------------------------------------------------------------


def session_state(*, engine: str) -> SafeString:
    """The State row, session side: which engines keep state, and whether this one does."""
    kept = ", ".join(f"<code>{key}</code>" for key in REVOCABLE_ENGINE_KEYS)
    if engine == SIGNED_COOKIES:
        return format_html(
            "Not here: this install keeps sessions in signed cookies (<code>SESSION_BACKEND={}</code>), as stateless "
            "as a JWT and as hard to revoke. The server keeps state with {}.",
            engine,
            SafeString(kept),
        )
    return format_html(
        "Here: true, with <code>SESSION_BACKEND={}</code> (as with any of {}). A <code>{}</code> session is as "
        "stateless as a JWT, and as hard to revoke.",
        engine,
        SafeString(kept),
        SIGNED_COOKIES,
    )


def jwt_state() -> SafeString:
    """The State row, JWT side: what the server keeps for tokens, and where the cut-off lives."""
    recorded = "Every refresh token is recorded so it can be rotated and blacklisted"
    if settings.JWT_REVOCATION != "cutoff":
        return format_html(
            "Here: the access token is (<code>JWT_REVOCATION={}</code>: nothing is read to accept one); the "
            "refresh token is not. {}.",
            settings.JWT_REVOCATION,
            recorded,
        )
    copies = {
        "database": "read from there on every check: this install has no shared cache",
        "local": "with a copy in Redis and one in each process, which Redis invalidates",
        "redis": "with a copy in Redis that every check reads",
    }[cutoff_source()]
    return format_html(
        "Here: the access token carries its claims, but with <code>JWT_REVOCATION=cutoff</code> every check also "
        "reads its user's cut-off; the refresh token is not stateless. {}, and the cut-off is one value per user in "
        "the database (<code>User.tokens_valid_after</code>, and <code>AccessCutoff</code> for the revocation "
        "feed), {}.",
        recorded,
        copies,
    )


def restart(*, engine: str) -> SafeString:
    """The Scalability row: whether a restart logs people out, from the engine and the store's persistence."""
    if engine == SIGNED_COOKIES:
        return SafeString("Here the sessions are in the visitors' cookies: no restart logs anyone out.")
    if engine in (DB, CACHED_DB):
        return format_html(
            "Here the sessions are rows in {}: a restart of the app logs nobody out{}.",
            connection.display_name,
            ", and a restart of Redis loses only the copies" if engine == CACHED_DB else "",
        )
    persistence = redis_persistence(alias=settings.SESSION_CACHE_ALIAS)
    said = "Here the sessions are keys in Redis: a restart of the app logs nobody out"
    if persistence is None or persistence.unknown:
        why = persistence.unknown if persistence else "the session cache is not Redis"
        return format_html("{}; whether they survive a restart of Redis could not be read ({}).", said, why)
    if persistence.appendonly:
        return format_html(
            "{}, and this Redis writes every change to its append-only file (<code>appendonly yes</code>): "
            "the sessions survive a restart of Redis.",
            said,
        )
    if persistence.save:
        return format_html(
            "{}, and this Redis only snapshots to disk (<code>save &quot;{}&quot;</code>, <code>appendonly no</code>): "
            "a restart of Redis keeps the sessions of its last snapshot and logs out everyone who logged in since.",
            said,
            persistence.save,
        )
    every = (
        "a restart of the primary alone is a failover and the replica keeps them, but a restart of every Redis node"
        if settings.REDIS_SENTINELS
        else "a restart of Redis"
    )
    return format_html(
        "{}, but this Redis keeps nothing on disk (<code>appendonly no</code>, <code>save &quot;&quot;</code>): "
        "{} logs out every user with a session.",
        said,
        every,
    )


def session_revocation(*, engine: str) -> SafeString:
    """The Revocation row, session side."""
    if engine == SIGNED_COOKIES:
        return format_html(
            "Not here: this install keeps sessions in signed cookies (<code>SESSION_BACKEND={}</code>), where there "
            "is nothing to delete; a stolen cookie works until it expires.",
            engine,
        )
    return format_html(
        "Here: true, through the <code>{}</code> engine's own <code>delete()</code>; try it below. Not for "
        "<code>{}</code>, where there is nothing to delete.",
        engine,
        SIGNED_COOKIES,
    )


def jwt_revocation(*, results: dict | None) -> SafeString:
    """The Revocation row, JWT side: the mode, where the cut-off is read, and what the benchmark measured."""
    mode = format_html("this process runs with <code>JWT_REVOCATION={}</code>: ", settings.JWT_REVOCATION)
    if settings.JWT_REVOCATION != "cutoff":
        minutes = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds() / 60
        return format_html(
            "Here: {}an access token stays valid until it expires ({} minutes); refresh tokens are blacklisted at "
            "once.",
            mode,
            f"{minutes:g}",
        )
    propagation = ((results or {}).get("scalability") or {}).get("propagation") or {}
    within = f"{propagation['p99_ms']:g} ms (p99, measured)" if "p99_ms" in propagation else "milliseconds"
    where = {
        "local": format_html(
            "by every process within {}, at most {} s later: each reads the cut-off from its own copy "
            '(<a href="#local-tier">the local tier</a>), which Redis invalidates',
            within,
            f"{settings.LOCAL_TIER_BOUND:g}",
        ),
        "redis": SafeString("at once: every check reads the cut-off from Redis"),
        "database": SafeString("at once: every check reads the cut-off from the database (no shared cache)"),
    }[cutoff_source()]
    row = ((results or {}).get("empty") or {}).get(JWT_CUTOFF)
    measured = (
        format_html(
            " The benchmark measured {} Redis calls and {} SQL queries per request for it.",
            f"{row['redis_per_request']:.2f}",
            f"{row['sql_per_request']:.2f}",
        )
        if row
        else ""
    )
    return format_html(
        'Here: {}an access token issued before your "log out everywhere" is refused {}.{}', mode, where, measured
    )


# -- the cluster's drills -----------------------------------------------------------------


def redis_drill(cluster: dict | None) -> dict | None:
    """The failover drill of a `make drill` run, if it ran (and the file is shaped as the drill writes it)."""
    drills = cluster.get("drills") if isinstance(cluster, dict) else None
    if not isinstance(drills, list):
        return None
    found = next((d for d in drills if isinstance(d, dict) and d.get("name") == REDIS_DRILL), None)
    if found is None or not all(isinstance(found.get(key), dict) for key in ("requests", "failed")):
        return None
    return found if isinstance(found.get("violations", []), list) else None


def failover_sessions(drill: dict) -> SafeString:
    """What the failover drill showed for Redis sessions: its verdict, not the promise."""
    if drill.get("violations"):
        return format_html(
            "A shared session store is one more thing that can fail, and the drill ({}) found: {}.",
            REDIS_DRILL,
            "; ".join(drill["violations"]),
        )
    failed, total = drill["failed"].get(SESSION_REDIS, 0), drill["requests"].get(SESSION_REDIS, 0)
    return format_html(
        "A shared session store is one more thing that can fail: while Sentinel promoted the replica ({}), {} of {} "
        "Redis-session requests got a 503 with Retry-After and none a silent logout; afterwards every client was "
        "still logged in and every revocation held.",
        REDIS_DRILL,
        failed,
        total,
    )


def failover_tokens(drill: dict) -> SafeString:
    """What the failover drill showed for tokens: how many failed while Redis was away."""
    keys = [key for key in drill["requests"] if key.startswith("jwt")]
    failed = sum(drill["failed"].get(key, 0) for key in keys)
    total = sum(drill["requests"][key] for key in keys)
    if failed:
        return format_html("While the Redis primary was down, {} of {} token requests failed.", failed, total)
    return format_html(
        "Tokens kept working while the Redis primary was down ({} of {} answered): the cut-off falls back to the "
        "database.",
        total,
        total,
    )


def about_this_install(*, results: dict | None, cluster: dict | None) -> dict:
    """Every computed sentence of the page, by the place it goes."""
    engine = settings.SESSION_BACKEND
    drill = redis_drill(cluster)
    return {
        "session_state": session_state(engine=engine),
        "jwt_state": jwt_state(),
        "restart": restart(engine=engine),
        "session_revocation": session_revocation(engine=engine),
        "jwt_revocation": jwt_revocation(results=results),
        "failover_sessions": failover_sessions(drill) if drill and "violations" in drill else "",
        "failover_tokens": failover_tokens(drill) if drill else "",
        **drill_rows(cluster),  # drill_revocation_session, drill_scales_jwt, ...
    }
