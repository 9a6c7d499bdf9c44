"""Schemathesis against the OpenAPI schema a real server serves: never a 5xx, always JSON.

Every operation in /api/schema/ of a real gunicorn process (started by `start_server`) is
called with generated input that fits the schema and input that does not, as three
clients: anonymous, with a live Bearer token, and with live token cookies plus a valid
CSRF pair (so the cookie transport gets past its CSRF check). What must hold is
`not_a_server_error`, and a JSON answer from every /api/ path. Conformance of status
codes is not asserted: 403 (CSRF), 405, 415 and 429 are answers DRF adds on its own.

The schema is loaded inside the test (schemathesis' lazy `from_fixture` loader does not
work with pytest 9), and each operation runs as its own bounded Hypothesis test.
"""

from __future__ import annotations

import secrets

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup

from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.server]

# The fuzzer sends hundreds of logins and refreshes from one address: a server of its own,
# with local-memory caches (so its throttle history is not the shared server's) and the
# per-address throttle lifted, so the token endpoints' own code is what gets fuzzed.
FUZZ_SERVER = {"AUTH_THROTTLE_RATE": "1000000/minute", "REDIS_URL": "", "SESSION_BACKEND": "db"}
FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzz_server(start_server):
    return start_server(**FUZZ_SERVER)


@pytest.fixture
def identities(fuzz_server, transactional_db) -> list[tuple[dict, dict]]:
    """(headers, cookies) of three clients: anonymous, Bearer, and JWT cookies with CSRF."""
    user = UserFactory(username="fuzzer")
    response = requests.post(
        f"{fuzz_server.url}/api/token/", json={"username": user.username, "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 200, response.text
    pair = response.json()
    csrf = secrets.token_hex(16)  # a 32-character secret: Django accepts it unmasked
    cookies = {"access": pair["access"], "refresh": pair["refresh"], "csrftoken": csrf}
    return [({}, {}), ({"Authorization": f"Bearer {pair['access']}"}, {}), ({"X-CSRFToken": csrf}, cookies)]


def json_from_api(ctx, response, case) -> None:
    """Every answer under /api/ is JSON, errors included: clients read its `code`."""
    content_type = response.headers.get("content-type", [""])[0]
    if case.path.startswith("/api/") and response.content:
        assert content_type.startswith("application/json"), f"Content-Type {content_type!r}"


def fuzz(operation, mode: GenerationMode, session: requests.Session, identities) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @FUZZ
    def run(case):
        for headers, cookies in identities:
            session.cookies.clear()  # each identity sends its own cookies only
            response = case.call(session=session, headers=dict(headers), cookies=dict(cookies), timeout=10)
            case.validate_response(response, checks=[not_a_server_error, json_from_api])

    run()


def describe(label: str, group: FailureGroup) -> str:
    return "\n".join([f"{label}: {group.message}", *map(str, group.exceptions), *getattr(group, "__notes__", [])])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_operations_never_answer_5xx(fuzz_server, identities, mode):
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/api/schema/")
    failures, operations = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations.append(operation.label)
        try:
            with requests.Session() as session:
                fuzz(operation, mode, session, identities)
        except Unsatisfiable:  # nothing to make invalid: no parameters, no body
            continue
        except FailureGroup as failure:  # every distinct failure, with a curl line to reproduce it
            failures.append(describe(operation.label, failure))
    assert len(operations) >= 10, operations
    assert not failures, "\n\n".join(failures)
