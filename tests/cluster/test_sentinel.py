"""The app reaches Redis through Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_SERVICE)."""

import pytest
import requests

from deploy.cluster.launcher import SERVICE
from tests.factories import UserFactory
from tests.support import form_login

pytestmark = [pytest.mark.server, pytest.mark.redis]
TIMEOUT = 10  # a bound on a hung request, not a speed assertion


def sentinel_env(stores) -> dict[str, str]:
    return {"REDIS_URL": "", "REDIS_SENTINELS": stores.sentinel_addresses, "REDIS_SENTINEL_SERVICE": SERVICE}


def test_server_keeps_redis_sessions_on_the_primary_sentinel_names(start_server, sentinel_stores, transactional_db):
    UserFactory(username="alice")
    server = start_server(**sentinel_env(sentinel_stores), SESSION_BACKEND="redis")
    browser = form_login(server.url, "alice")
    assert browser.get(f"{server.url}/accounts/profile/", allow_redirects=False, timeout=TIMEOUT).status_code == 200
    primary = sentinel_stores.client(sentinel_stores.primary())
    assert any(b"session" in key for key in primary.keys("*"))


def test_server_readiness_checks_the_caches_through_sentinel(start_server, sentinel_stores, transactional_db):
    server = start_server(**sentinel_env(sentinel_stores))
    ready = requests.get(f"{server.url}/readyz", timeout=TIMEOUT).json()
    assert ready["checks"]["cache:default"] == "ok"
    assert ready["checks"]["cache:throttle"] == "ok"
