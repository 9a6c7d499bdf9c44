"""Schemathesis against the OpenAPI schema a real server serves: the answers keep to it.

Every operation in /api/schema/ of a real gunicorn process (started by `start_server`) is
called with generated input that fits the schema and input that does not, as three
clients: anonymous, with a live Bearer token, and with live token cookies plus a valid
CSRF pair (so the cookie transport gets past its CSRF check). What must hold: never a
5xx, a JSON answer from every /api/ path, and only status codes the schema lists. It runs
twice: with the throttle lifted, so the endpoints' own code is reached, and with it on, so
the throttle answers too. A method an operation does not serve is a 405, whoever asks.

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
from schemathesis.checks import not_a_server_error, status_code_conformance
from schemathesis.core.failures import FailureGroup

from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.server]

# The fuzzer sends hundreds of logins and refreshes from one address: servers of their own,
# with local-memory caches (so their throttle history is not the shared server's). With the
# per-address throttle lifted the token endpoints' own code is what gets fuzzed; with a low
# rate the throttle answers most calls, and its 429 must be in the schema too.
FUZZ_SERVER = {"REDIS_URL": "", "SESSION_BACKEND": "db"}
THROTTLE_RATES = {"throttle off": "1000000/minute", "throttle on": "20/minute"}
RUNS = [  # (throttle, mode, examples): with the throttle on, most calls are 429s, so one short run
    ("throttle off", GenerationMode.POSITIVE, 12),
    ("throttle off", GenerationMode.NEGATIVE, 12),
    ("throttle on", GenerationMode.POSITIVE, 6),
]
UNSERVED = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def fuzz_server(start_server):
    """Start (once per module) the server for a throttle setting; return it."""
    started = {}

    def _server(throttle: str = "throttle off"):
        if throttle not in started:
            started[throttle] = start_server(**FUZZ_SERVER, AUTH_THROTTLE_RATE=THROTTLE_RATES[throttle])
        return started[throttle]

    return _server


@pytest.fixture
def identities(transactional_db):
    """(headers, cookies) of three clients on `server`: anonymous, Bearer, JWT cookies with CSRF."""

    def _identities(server) -> list[tuple[dict, dict]]:
        user = UserFactory(username="fuzzer")
        response = requests.post(
            f"{server.url}/api/token/", json={"username": user.username, "password": PASSWORD}, timeout=10
        )
        assert response.status_code == 200, response.text
        pair = response.json()
        csrf = secrets.token_hex(16)  # a 32-character secret: Django accepts it unmasked
        cookies = {"access": pair["access"], "refresh": pair["refresh"], "csrftoken": csrf}
        return [({}, {}), ({"Authorization": f"Bearer {pair['access']}"}, {}), ({"X-CSRFToken": csrf}, cookies)]

    return _identities


def json_from_api(ctx, response, case) -> None:
    """Every answer under /api/ is JSON, errors included: clients read its `code`."""
    content_type = response.headers.get("content-type", [""])[0]
    if case.path.startswith("/api/") and response.content:
        assert content_type.startswith("application/json"), f"Content-Type {content_type!r}"


def fuzz(operation, mode: GenerationMode, session: requests.Session, identities, examples: int) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        for headers, cookies in identities:
            session.cookies.clear()  # each identity sends its own cookies only
            response = case.call(session=session, headers=dict(headers), cookies=dict(cookies), timeout=10)
            case.validate_response(response, checks=[not_a_server_error, json_from_api, status_code_conformance])

    run()


def describe(label: str, group: FailureGroup) -> str:
    return "\n".join([f"{label}: {group.message}", *map(str, group.exceptions), *getattr(group, "__notes__", [])])


@pytest.mark.parametrize("throttle, mode, examples", RUNS, ids=[f"{t}-{m.value}" for t, m, _ in RUNS])
def test_api_operations_keep_to_the_schema(fuzz_server, identities, throttle, mode, examples):
    server = fuzz_server(throttle)
    clients = identities(server)
    schema = schemathesis.openapi.from_url(f"{server.url}/api/schema/")
    failures, operations = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations.append(operation.label)
        try:
            with requests.Session() as session:
                fuzz(operation, mode, session, clients, examples)
        except Unsatisfiable:  # nothing to make invalid: no parameters, no body
            continue
        except FailureGroup as failure:  # every distinct failure, with a curl line to reproduce it
            failures.append(describe(operation.label, failure))
    assert len(operations) >= 10, operations
    assert not failures, "\n\n".join(failures)


def test_api_answers_a_method_it_does_not_serve_with_405(fuzz_server, identities):
    server = fuzz_server()
    clients = identities(server)
    schema = requests.get(f"{server.url}/api/schema/?format=json", timeout=10).json()
    wrong = []
    for path, operations in schema["paths"].items():
        for method in sorted(set(UNSERVED) - {m.upper() for m in operations}):
            for headers, cookies in clients:
                response = requests.request(method, f"{server.url}{path}", headers=headers, cookies=cookies, timeout=10)
                if response.status_code != 405 or "Allow" not in response.headers:
                    wrong.append(f"{method} {path} as {sorted(headers) or 'anonymous'}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
