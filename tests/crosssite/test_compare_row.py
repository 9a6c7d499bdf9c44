"""/compare/'s 'Best for' row: the cross-site table drawn from bench/results/crosssite.json."""

import json

import pytest

MEASURED = {
    "measured_at": "2026-12-07T03:46:47+00:00",
    "browser": "Chromium 156 (Debian)",
    "latency_calls": 15,
    "ways": {
        "bearer": {"works_third_party_cookies_blocked": True, "reads_token": True, "latency_ms": 13.1},
        "bff": {"works_third_party_cookies_blocked": True, "reads_token": False, "latency_ms": 25.7},
        "dpop": {"latency_ms": 19.1},
    },
}


@pytest.fixture
def results_file(settings, tmp_path):
    settings.CROSSSITE_RESULTS = tmp_path / "crosssite.json"
    return settings.CROSSSITE_RESULTS


def best_row(client) -> str:
    response = client.get("/compare/")
    assert response.status_code == 200
    html = response.content.decode()
    return html[html.index('id="row-best-measured"') :]


def test_best_row_says_not_measured_without_results(client, db, results_file):
    assert "not measured yet" in best_row(client)


def test_best_row_shows_each_measured_way_and_the_bff_hop(client, db, results_file):
    results_file.write_text(json.dumps(MEASURED))

    row = best_row(client)

    assert '<tr id="cross-site-bearer"><th scope="row">Bearer token in memory' in row
    assert "<td>13.1 ms</td>" in row and "<td>25.7 ms</td>" in row
    assert "+12.6 ms per call over a bearer token" in row
    assert "+6.6 ms over DPoP signed in the browser" in row
    assert "RFC 10017" in client.get("/compare/").content.decode()


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", json.dumps({"ways": []}), json.dumps({"ways": {"bearer": "yes"}}),
     json.dumps({"ways": {"bearer": {"latency_ms": "fast", "reads_token": "maybe"}, "bff": {"latency_ms": True}}})],
)  # fmt: skip
def test_best_row_survives_a_malformed_results_file(client, db, results_file, content):
    results_file.write_text(content)

    row = best_row(client)

    assert "not measured yet" in row or "<td>-</td>" in row
