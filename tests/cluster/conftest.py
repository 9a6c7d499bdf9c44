"""The cluster's app instances behind nginx, on the cluster's stores (tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def running_cluster(cluster_stores, server_env):
    """Two app instances (Redis sessions, cut-off) behind nginx on the suite's database; a login
    throttle low enough to reach in a test (the cluster's Redis is emptied before each one)."""
    cluster_stores.env = {**server_env, "AUTH_THROTTLE_RATE": "10/minute"}
    try:
        yield cluster_stores.start_apps()
    finally:
        cluster_stores.stop_apps()  # before the test database is dropped


@pytest.fixture
def cluster(running_cluster, sentinel_stores, transactional_db):
    """The running cluster, every instance up, its Redis healthy and empty."""
    running_cluster.wait_recovered()
    return running_cluster
