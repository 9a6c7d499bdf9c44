"""Concurrent refreshes with one token on PostgreSQL: exactly one wins, the rest get 401."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.factories import PASSWORD, UserFactory


@pytest.mark.postgres
@pytest.mark.server
def test_concurrent_refreshes_exactly_one_succeeds(postgres, transactional_db, app_server):
    UserFactory(username="racer")
    pair = requests.post(
        f"{app_server.url}/api/token/", json={"username": "racer", "password": PASSWORD}, timeout=10
    ).json()

    def attempt(_):
        return requests.post(f"{app_server.url}/api/token/refresh/", json={"refresh": pair["refresh"]}, timeout=10)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(attempt, range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * 7
    assert all(r.headers["Content-Type"] == "application/json" for r in responses)
