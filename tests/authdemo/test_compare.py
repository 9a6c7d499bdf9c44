"""/compare/: the table with this install's evidence, the chart, and the live revocation demo."""

import json
import re
import uuid
from datetime import timedelta

import pytest
import redis
import time_machine
from django.contrib.sessions.backends.cache import KEY_PREFIX as SESSION_CACHE_PREFIX
from django.db import connection
from django.test import Client

from accounts import vocabulary
from accounts.selectors import CUTOFF_KEY_PREFIX
from accounts.vocabulary import SIGNED_COOKIES
from authdemo.compare import findings
from authdemo.evidence import PERSISTENCE_TTL
from tests.bench.sample_results import sample_cluster_results, sample_results
from tests.factories import PASSWORD


@pytest.fixture
def results_file(tmp_path, settings):
    """Point the page at a results file of our own; return a function that writes it."""
    path = tmp_path / "latest.json"
    settings.BENCH_RESULTS = path

    def _write(**kwargs) -> dict:
        results = sample_results(**kwargs)
        path.write_text(json.dumps(results))
        return results

    return _write


@pytest.fixture
def cluster_results(tmp_path, settings):
    """Point the page at a `make drill` results file of our own, written."""
    path = tmp_path / "cluster.json"
    settings.CLUSTER_RESULTS = path
    path.write_text(json.dumps(sample_cluster_results()))
    return path


def demo_login(client, user, password=PASSWORD, **extra):
    return client.post("/compare/demo/login/", {"username": user.username, "password": password}, **extra)


def test_compare_without_benchmark_says_so(client, db, results_file):
    body = client.get("/compare/").content.decode()
    assert "No benchmark run yet" in body
    assert "<svg" not in body


def test_compare_has_every_row_of_the_table(client, db, results_file):
    body = client.get("/compare/").content.decode()
    for row in ("Where the data lives", "State", "Scalability", "Performance", "Revocation", "Size", "Best for"):
        assert f'<th scope="row">{row}</th>' in body


def test_compare_renders_benchmark_figures(client, db, results_file):
    results = results_file()
    body = client.get("/compare/").content.decode()
    assert "JWT: stateless: 1319 µs/request (1.25x /healthz)" in body
    assert results["measured_at"] in body
    assert "Test CPU &lt;2&gt;" in body


def test_compare_inlines_the_chart(client, db, results_file):
    results_file()
    body = client.get("/compare/").content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in body
    assert "<script>" not in body.split('id="chart"')[1].split("</article>")[0]


def test_compare_states_where_evidence_contradicts_the_claim(client, db, results_file):
    results_file()
    body = client.get("/compare/").content.decode()
    assert "SimpleJWT&#39;s default JWTAuthentication loads the user from the database" in body
    assert "needs CSRF protection" in body
    # sample_results: session_db at 400 req/s against 1,000 for /healthz, 2 SQL per request
    assert "A session in the database made 2.00 SQL queries per request and cost 2.50x /healthz." in body


def test_compare_says_each_process_keeps_a_copy_when_database_sessions_make_no_query():
    results = sample_results()
    results["empty"]["session_db"]["sql_per_request"] = 0.0  # as the local tier reads them
    assert (
        "A session in the database made 0.00 SQL queries per request and cost 2.50x /healthz: each process keeps a "
        "copy that PostgreSQL's notifications invalidate."
    ) in findings(results)


def test_compare_shows_scalability_from_the_run(client, db, results_file):
    results_file()
    body = client.get("/compare/").content.decode()
    assert "600 req/s with one process, 900 with two" in body  # session on Redis, one and two workers
    assert "JWT with cut-off: 750 req/s with one process, 1100 with two." in body


def test_compare_reads_two_processes_from_a_run_before_the_workers_part(client, db, results_file, settings):
    """Results written before the run measured one and two workers per scheme kept two processes' req/s
    beside the revocation figures; the page still shows them."""
    results = results_file()
    del results["workers"]
    results["scalability"]["session_redis"] = {"one_process_rps": 610, "two_processes_rps": 1190}
    settings.BENCH_RESULTS.write_text(json.dumps(results))
    assert "610 req/s with one process, 1190 with two" in client.get("/compare/").content.decode()


def test_compare_scalability_names_the_verifier_and_what_it_cannot_know(client, db):
    body = client.get("/compare/").content.decode()
    assert "no database, no secret" in body and "What it cannot know by itself" in body


def test_compare_shows_the_verifier_figures_from_the_run(client, db, results_file):
    results_file()
    body = client.get("/compare/").content.decode()
    assert "EdDSA: 450 µs of CPU and 1400 req/s per process, 420-byte token" in body
    assert "reached the verifier in 520 ms (p50), 1010 ms (p99) over 100 revocations" in body


def test_compare_shows_failed_requests_per_scheme_in_the_drills(client, db, results_file, cluster_results):
    body = client.get("/compare/").content.decode()
    assert "Redis primary killed: session: redis 11 of 100 requests failed, session: db 0 of 100" in body
    assert "JWT: stateless 0 of 100 requests failed, JWT: cut-off check 0 of 100" in body


def test_compare_shows_throughput_by_instances_through_nginx(client, db, results_file, cluster_results):
    body = client.get("/compare/").content.decode()
    assert "session: redis 410 / 520 / 530 req/s through nginx with 1 / 2 / 3 instances" in body
    assert "new Redis primary 2.4 s after" in body


def test_compare_without_drill_results_leaves_them_out(client, db, results_file, settings, tmp_path):
    settings.CLUSTER_RESULTS = tmp_path / "none.json"
    assert "make drill" not in client.get("/compare/").content.decode()


def test_compare_shows_visitor_session_record_and_cookie_size(client, alice, login, results_file):
    login(alice)
    size = len(client.cookies["sessionid"].value)
    body = client.get("/compare/").content.decode()
    assert f"a session cookie of <strong>{size} bytes</strong>" in body
    assert "_auth_user_id: " in body
    assert alice.password not in body


def test_compare_shows_visitor_decoded_access_token(client, alice, results_file):
    demo_login(client, alice)
    token = client.cookies["access"].value
    body = client.get("/compare/").content.decode()
    assert f"an access token of <strong>{len(token)} bytes</strong>" in body
    assert "token_type: access" in body


def test_demo_login_needs_csrf(alice):
    client = Client(enforce_csrf_checks=True)
    assert demo_login(client, alice).status_code == 403


def test_demo_login_logs_in_both_ways(client, alice):
    response = demo_login(client, alice, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["csrf"]
    assert client.get("/compare/probe/session/").status_code == 200
    assert client.get("/api/dashboard/").json()["message"] == "Access granted to alice"


def test_demo_login_answer_is_not_stored(client, alice):
    response = demo_login(client, alice, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_demo_login_with_wrong_password_changes_nothing(client, alice):
    response = demo_login(client, alice, password="wrong", HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert "access" not in client.cookies


def test_demo_revoke_refuses_session_and_cutoff_token_at_once(client, alice, settings):
    settings.JWT_REVOCATION = "cutoff"
    demo_login(client, alice)
    access = client.cookies["access"].value
    client.post("/compare/demo/revoke/", HTTP_ACCEPT="application/json")
    assert client.get("/compare/probe/session/").status_code == 403
    client.cookies["access"] = access
    response = client.get("/api/dashboard/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_demo_revoke_leaves_stateless_token_valid_until_expiry(client, alice, settings):
    settings.JWT_REVOCATION = "off"
    demo_login(client, alice)
    client.post("/compare/demo/revoke/", HTTP_ACCEPT="application/json")
    assert client.get("/compare/probe/session/").status_code == 403
    assert client.get("/api/dashboard/").status_code == 200


def test_demo_revoke_without_session_is_refused(client, db):
    response = client.post("/compare/demo/revoke/", HTTP_ACCEPT="application/json")
    assert response.status_code == 403


def test_demo_revoke_is_post_only(client, alice, login):
    login(alice)
    assert client.get("/compare/demo/revoke/").status_code == 405


def test_demo_without_script_redirects_back_with_a_message(client, alice):
    response = demo_login(client, alice, follow=True)
    assert response.redirect_chain[-1][0] == "/compare/#revocation"
    assert "with a session and a token" in response.content.decode()


def test_page_after_revocation_shows_both_refused_in_cutoff_mode(client, alice, settings, results_file):
    settings.JWT_REVOCATION = "cutoff"
    demo_login(client, alice)
    client.post("/compare/demo/revoke/")
    body = client.get("/compare/").content.decode()
    assert '<td id="demo-session">refused</td>' in body
    assert '<td id="demo-token">refused (token_revoked)</td>' in body


def test_compare_explains_the_local_tier_with_its_staleness_bound(client, db, results_file, settings):
    settings.LOCAL_TIER_BOUND = 1.0
    results_file()
    body = client.get("/compare/").content.decode()
    assert "A third answer" in body
    assert "within the last 1.0 s" in body
    assert "9.5 ms at p99 over 100 revocations" in body  # from the run


def test_compare_shows_the_peers_from_the_run(client, db, results_file):
    results_file()
    body = client.get("/compare/").content.decode()
    row = '<th scope="row">Express: JWT, string secret (the example)</th><td data-label="req/s">570</td>'
    assert row in body  # the median of the rounds
    assert '<th scope="row">bare Django: JSON ping</th>' in body
    fastapi = '<th scope="row">FastAPI: JWT stateless (HTTPBearer, PyJWT)</th><td data-label="req/s">808</td>'
    assert fastapi in body  # the median of 850 and 765 req/s


@pytest.mark.postgres
def test_compare_says_database_sessions_are_copied_on_postgresql(client, postgres, settings, locmem_cache):
    settings.SESSION_BACKEND, settings.SESSION_ENGINE = "db", "copies.postgres_sessions"  # as LOCAL_TIER=on
    body = client.get("/compare/").content.decode()
    assert "On here, for database sessions too (while their triggers are in place" in body
    settings.SESSION_ENGINE = vocabulary.session_engine("db").module  # as LOCAL_TIER=off
    assert "Off here" in client.get("/compare/").content.decode()


# -- every sentence about this install follows its source ---------------------------------


def said(client, where: str) -> str:
    """The page's sentence in the paragraph with id `where`, as HTML."""
    found = re.search(rf'<p id="{where}">(.*?)</p>', client.get("/compare/").content.decode(), re.S)
    assert found, f"no paragraph {where} on /compare/"
    return found.group(1)


def redis_at(url: str, *, copies: tuple[str, ...] = ()) -> dict:
    """A cache on `url`, configured unlike any before it: the page's answer from a Redis on a port
    an earlier test used is kept per configuration, and must not be this test's. With `copies`
    (key prefixes), the backend that keeps copies of them: copies.redis_cache, as LOCAL_TIER=on."""
    options = {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1} | ({"COPY_PREFIXES": list(copies)} if copies else {})
    backend = "copies.redis_cache.TrackingRedisCache" if copies else "django_redis.cache.RedisCache"
    return {"BACKEND": backend, "LOCATION": url, "KEY_PREFIX": uuid.uuid4().hex, "OPTIONS": options}


@pytest.fixture
def redis_sessions(settings, own_redis):
    """Redis sessions on a redis-server of this test's own, which it may reconfigure or stop."""
    settings.CACHES = {**settings.CACHES, "default": redis_at(own_redis.url)}
    settings.SESSION_BACKEND, settings.SESSION_ENGINE = "redis", vocabulary.session_engine("redis").module
    own_redis.client = redis.Redis.from_url(own_redis.url)
    yield own_redis
    if own_redis.process.poll() is None:  # Redis will not stop while it writes its first append-only file
        own_redis.client.config_set("appendonly", "no")


@pytest.fixture
def locmem_cache(settings):
    """No shared cache, as without REDIS_URL: the cut-off is read from the database."""
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"compare-{uuid.uuid4().hex}"}
    settings.CACHES = {**settings.CACHES, "default": local}


def test_compare_restart_says_redis_sessions_are_lost_when_redis_keeps_nothing(client, db, redis_sessions):
    sentence = said(client, "restart")
    assert "keeps nothing on disk" in sentence and "a restart of Redis logs out every user with a session" in sentence
    assert "survive" not in sentence


def test_compare_restart_says_redis_sessions_survive_once_redis_appends_to_disk(client, db, redis_sessions):
    said(client, "restart")
    redis_sessions.client.config_set("appendonly", "yes")
    assert "keeps nothing on disk" in said(client, "restart")  # asked once a minute, not per view
    with time_machine.travel(timedelta(seconds=PERSISTENCE_TTL + 1)):
        assert "the sessions survive a restart of Redis" in said(client, "restart")


def test_compare_restart_says_a_snapshot_keeps_only_older_sessions(client, db, redis_sessions):
    redis_sessions.client.config_set("save", "900 1")
    sentence = said(client, "restart")
    assert "only snapshots to disk (<code>save &quot;900 1&quot;</code>" in sentence
    assert "logs out everyone who logged in since" in sentence


def test_compare_restart_with_sentinel_says_every_node(client, db, redis_sessions, settings):
    settings.REDIS_SENTINELS = [("127.0.0.1", 26379)]
    assert "a restart of every Redis node logs out every user with a session" in said(client, "restart")


def test_compare_restart_with_redis_down_says_it_could_not_tell(client, db, redis_sessions):
    redis_sessions.stop()
    response = client.get("/compare/")
    assert response.status_code == 200
    assert "could not be read (Redis did not answer)" in said(client, "restart")


@pytest.mark.parametrize(
    ("engine", "expected"),
    [("db", "rows in {database}: a restart of the app logs nobody out."),
     ("cached_db", "a restart of Redis loses only the copies"),
     (SIGNED_COOKIES, "in the visitors' cookies: no restart logs anyone out")],
)  # fmt: skip
def test_compare_restart_follows_the_session_engine(client, db, use_engine, engine, expected):
    use_engine(engine)
    assert expected.format(database=connection.display_name) in said(client, "restart")


def test_compare_state_and_revocation_follow_the_session_engine(client, db, use_engine):
    use_engine("db")
    assert said(client, "state-session").startswith("Here: true, with <code>SESSION_BACKEND=db</code>")
    assert said(client, "revocation-session").startswith("Here: true, through the <code>db</code> engine")
    use_engine(SIGNED_COOKIES)
    assert said(client, "state-session").startswith("Not here: this install keeps sessions in signed cookies")
    assert said(client, "revocation-session").startswith("Not here:")
    assert "nothing on the server: the data is in your cookie, signed" in client.get("/compare/").content.decode()


def test_compare_state_says_the_cutoff_lives_in_the_database_with_copies(client, db, redis_url, settings):
    settings.CACHES = {**settings.CACHES, "default": redis_at(redis_url, copies=(CUTOFF_KEY_PREFIX,))}
    sentence = said(client, "state-jwt")
    assert "one value per user in the database (<code>User.tokens_valid_after</code>" in sentence
    assert "with a copy in Redis and one in each process" in sentence
    settings.CACHES = {**settings.CACHES, "default": redis_at(redis_url)}
    assert "with a copy in Redis that every check reads" in said(client, "state-jwt")


def test_compare_state_without_a_shared_cache_says_the_database_is_read(client, db, locmem_cache):
    assert "read from there on every check: this install has no shared cache" in said(client, "state-jwt")


def test_compare_state_without_cutoff_says_the_access_token_is_stateless(client, db, settings):
    settings.JWT_REVOCATION = "off"
    sentence = said(client, "state-jwt")
    assert sentence.startswith("Here: the access token is (<code>JWT_REVOCATION=off</code>")
    assert "cut-off" not in sentence


def test_compare_revocation_gives_the_measured_calls_of_the_cutoff(client, db, results_file, redis_url, settings):
    settings.CACHES = {**settings.CACHES, "default": redis_at(redis_url, copies=(CUTOFF_KEY_PREFIX,))}
    results = results_file()
    results["empty"]["jwt_cutoff"] |= {"redis_per_request": 0.0, "sql_per_request": 0.0}  # as the local tier reads it
    settings.BENCH_RESULTS.write_text(json.dumps(results))
    sentence = said(client, "revocation-jwt")
    assert "each reads the cut-off from its own copy" in sentence
    assert "within 9.5 ms (p99, measured), at most 1 s later" in sentence
    assert "measured 0.00 Redis calls and 0.00 SQL queries per request" in sentence
    assert "one Redis read" not in sentence
    results["empty"]["jwt_cutoff"]["redis_per_request"] = 1.0
    settings.BENCH_RESULTS.write_text(json.dumps(results))
    assert "measured 1.00 Redis calls" in said(client, "revocation-jwt")


def test_compare_revocation_names_where_the_cutoff_is_read(client, db, redis_url, settings):
    settings.CACHES = {**settings.CACHES, "default": redis_at(redis_url)}  # as LOCAL_TIER=off
    assert "refused at once: every check reads the cut-off from Redis." in said(client, "revocation-jwt")


def test_compare_revocation_without_a_shared_cache_reads_the_database(client, db, locmem_cache):
    assert "every check reads the cut-off from the database" in said(client, "revocation-jwt")


def test_compare_revocation_without_cutoff_gives_the_access_lifetime(client, db, settings):
    settings.JWT_REVOCATION = "off"
    assert "stays valid until it expires (5 minutes)" in said(client, "revocation-jwt")
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15)}
    assert "stays valid until it expires (15 minutes)" in said(client, "revocation-jwt")


def test_compare_local_tier_is_on_with_a_redis_cache_whatever_redis_url_says(client, db, redis_url, settings):
    settings.CACHES = {**settings.CACHES, "default": redis_at(redis_url, copies=(CUTOFF_KEY_PREFIX,))}
    settings.REDIS_URL, settings.SESSION_BACKEND = "", "redis"
    assert "On here" in client.get("/compare/").content.decode()


def test_compare_failover_gives_the_drills_verdict(client, db, results_file, cluster_results):
    assert "11 of 100 Redis-session requests got a 503 with Retry-After and none a silent logout" in said(
        client, "failover-sessions"
    )
    assert "Tokens kept working while the Redis primary was down (200 of 200 answered)" in said(
        client, "failover-tokens"
    )


def test_compare_failover_names_what_went_wrong(client, db, results_file, cluster_results):
    cluster = sample_cluster_results()
    drill = cluster["drills"][0]
    drill["violations"] = ["session_redis client not served after the drill: 403"]
    drill["failed"]["jwt_cutoff"] = 7
    cluster_results.write_text(json.dumps(cluster))
    assert "found: session_redis client not served after the drill: 403" in said(client, "failover-sessions")
    assert "While the Redis primary was down, 7 of 200 token requests failed." in said(client, "failover-tokens")


def test_compare_says_each_process_keeps_a_copy_of_the_cutoff_only_when_it_measured_none():
    results = sample_results()  # the cut-off check measured at 1 Redis call per request
    assert "A JWT can be revoked: the cut-off check makes 1.00 Redis calls per request and costs" in " ".join(
        findings(results)
    )
    results["empty"]["jwt_cutoff"]["redis_per_request"] = 0.0  # as the local tier reads it
    assert "makes 0.00 Redis calls per request (each process keeps a copy that Redis invalidates)" in " ".join(
        findings(results)
    )


def test_compare_says_where_the_session_lives_and_whether_it_is_copied(
    client, db, redis_sessions, settings, results_file
):
    copied = redis_at(redis_sessions.url, copies=(CUTOFF_KEY_PREFIX, SESSION_CACHE_PREFIX))  # as LOCAL_TIER=on
    settings.CACHES = {**settings.CACHES, "default": copied}
    body = client.get("/compare/").content.decode()
    assert "Here: a key in Redis (the SHA-256 of the session key), nothing in the database" in body
    assert "each process keeps a copy of the sessions it reads" in body
    settings.CACHES = {**settings.CACHES, "default": redis_at(redis_sessions.url)}
    assert "each process keeps a copy of the sessions" not in client.get("/compare/").content.decode()
