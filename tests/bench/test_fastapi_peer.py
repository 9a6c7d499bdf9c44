"""The FastAPI peer (bench/peers/fastapi) answers as bench/peers/README.md specifies: a JSON ping,
a stateless JWT endpoint refusing with 401 what it cannot verify, a Redis session or 401.

Run on uvicorn as the benchmark runs it, against the real Redis.
"""

import time

import jwt
import pytest
import redis
import requests

from bench.peers import UvicornServer, access_token, browser_cookies
from harness.stack import REDIS_HOST_URL

SECRET = "a-test-secret-for-the-fastapi-peer-" + "x" * 32  # 64 bytes: HS384 wants 48
REDIS_DB = 13

pytestmark = [pytest.mark.server, pytest.mark.redis]


@pytest.fixture(scope="module")
def peer(tmp_path_factory, harness_stores):
    env = {"JWT_SECRET": SECRET, "REDIS_URL": f"{REDIS_HOST_URL}/{REDIS_DB}", "PYTHONUNBUFFERED": "1"}
    server = UvicornServer("peer-fastapi", env, tmp_path_factory.mktemp("fastapi") / "peer.log").start()
    try:
        yield server.wait_ready()
    finally:
        server.stop()
        client = redis.Redis.from_url(env["REDIS_URL"])
        for key in client.scan_iter("fastapi-peer:*"):
            client.delete(key)


def dashboard(peer, **headers):
    return requests.get(f"{peer.url}/dashboard", headers=headers, timeout=10)


def test_ping_answers_json(peer):
    response = requests.get(f"{peer.url}/ping", timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_dashboard_answers_the_express_examples_shape(peer):
    response = dashboard(peer, Authorization=f"Bearer {access_token(peer)}")
    body = response.json()
    assert response.status_code == 200 and body["message"] == "Access granted to Bob"
    assert {key: body["data"][key] for key in ("id", "username")} == {"id": 123, "username": "Bob"}
    assert body["data"]["exp"] - body["data"]["iat"] == 3600


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer not-a-token",
        "Bearer " + jwt.encode({"id": 123, "username": "Bob"}, "another-secret-" + "y" * 48, "HS256"),
        "Bearer " + jwt.encode({"id": 123, "username": "Bob", "exp": int(time.time()) - 60}, SECRET, "HS256"),
        "Bearer " + jwt.encode({"id": 123, "username": "Bob"}, SECRET, "HS384"),
        "Basic Ym9iOnB3",
    ],
    ids=["missing", "garbage", "other-secret", "expired", "other-algorithm", "not-bearer"],
)
def test_dashboard_refuses_with_401(peer, authorization):
    response = dashboard(peer, **({"Authorization": authorization} if authorization else {}))
    assert response.status_code == 401
    assert "Access granted" not in response.text


def test_profile_welcomes_a_logged_in_session(peer):
    cookies = browser_cookies(peer, "/login")
    response = requests.get(f"{peer.url}/profile", cookies=cookies, timeout=10)
    assert (response.status_code, response.text) == (200, "Welcome back, Alice")


@pytest.mark.parametrize("cookies", [{}, {"session_id": "no-such-session"}], ids=["no-cookie", "unknown"])
def test_profile_refuses_without_a_stored_session(peer, cookies):
    response = requests.get(f"{peer.url}/profile", cookies=cookies, timeout=10)
    assert response.status_code == 401 and "Welcome" not in response.text


def test_profile_refuses_once_redis_forgets_the_session(peer):
    cookies = browser_cookies(peer, "/login")
    redis.Redis.from_url(peer.env["REDIS_URL"]).delete(f"fastapi-peer:session:{cookies['session_id']}")
    assert requests.get(f"{peer.url}/profile", cookies=cookies, timeout=10).status_code == 401


def test_counters_count_requests_and_one_redis_get_per_profile(peer):
    cookies = browser_cookies(peer, "/login")
    before = requests.get(f"{peer.url}/__bench__/counters", timeout=10).json()
    for _ in range(3):
        requests.get(f"{peer.url}/profile", cookies=cookies, timeout=10).raise_for_status()
    after = requests.get(f"{peer.url}/__bench__/counters", timeout=10).json()
    assert (after["requests"] - before["requests"], after["redis"] - before["redis"]) == (3, 3)
