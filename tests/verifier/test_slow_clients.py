"""The verifier keeps answering while many clients hold connections open without finishing a
request: some send half a request header and stop, some connect and send nothing.

Under a threaded server (gunicorn, four threads) four such clients took every thread, and every
other request waited until they gave up. The site runs on the same server setup (serving.serve),
held to the same in tests/authdemo/test_serving.py. The timeouts below bound a hung test; they
are not a speed target.
"""

from contextlib import ExitStack

import pytest
import requests

from tests.support import open_slow_clients

pytestmark = [pytest.mark.server]

# The verifier's path (the site's is /api/dashboard/): half a request header for it.
HALF_A_HEADER = b"GET /dashboard/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bear"


@pytest.fixture(scope="module")
def site(start_keyed_site):
    return start_keyed_site("EdDSA")[0]


@pytest.mark.parametrize("sent", [HALF_A_HEADER, b""], ids=["half-a-header", "nothing"])
def test_verifier_answers_while_slow_clients_hold_connections(site, start_verifier, sent):
    verifier = start_verifier(site)
    with ExitStack() as stack:
        open_slow_clients(stack, verifier.url, sent)
        health = requests.get(f"{verifier.url}/healthz", timeout=5)
        refused = requests.get(f"{verifier.url}/dashboard/", timeout=5)
    assert health.status_code == 200
    assert (refused.status_code, refused.json()["code"]) == (401, "not_authenticated")


def test_verifier_stops_cleanly_while_slow_clients_hold_connections(site, start_verifier):
    verifier = start_verifier(site)
    with ExitStack() as stack:
        open_slow_clients(stack, verifier.url, HALF_A_HEADER)
        verifier.stop()  # SIGTERM; it kills after 15 s
    assert verifier.process.returncode == 0  # not killed
