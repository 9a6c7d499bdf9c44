"""The harness's arithmetic and its outputs, from made-up rounds."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from authdemo.chart import chart_svg
from bench.report import STEADY_SPREAD, check_operations_targets, check_targets, markdown, spread, steady
from tests.bench.sample_results import sample_results
from tests.support import ROOT


def test_summarize_ratio_is_against_the_same_rounds_baseline():
    results = sample_results()
    assert results["empty"]["healthz"]["ratio"] == pytest.approx(1.0)
    assert results["empty"]["session_db"]["ratio"] == pytest.approx(2.5)


def test_summarize_drift_of_the_whole_machine_cancels_out():
    results = sample_results()
    assert results["empty"]["jwt_stateless"]["ratio_range"] == pytest.approx([1.25, 1.25])


def test_summarize_reports_store_calls_per_request():
    row = sample_results()["empty"]["session_db"]
    assert row["sql_per_request"] == 2
    assert row["redis_per_request"] == 0


def test_targets_name_each_issue_target():
    names = [t["target"] for t in sample_results()["targets"]]
    assert len(names) == 13
    assert names[0].startswith("/healthz <= 1.3x the bare Django ping")
    assert names[-1].startswith("1,000,000 stored")


def test_targets_without_the_other_servers_leave_their_two_out():
    """Results of a run that measured no other server kind: the targets that need them are not judged."""
    results = sample_results()
    names = [t["target"] for t in check_targets(results["empty"], results["full"], results["scalability"])]
    assert len(names) == 11 and not [name for name in names if "gunicorn sync" in name]


def test_targets_are_judged_against_their_limit():
    targets = {t["target"]: t for t in sample_results()["targets"]}
    assert targets["session on PostgreSQL <= 2.0x /healthz"]["met"] is False
    assert targets["session on Redis <= 1.15x stateless JWT"]["met"] is False
    assert targets["JWT cut-off <= 1.05x stateless JWT"]["met"] is True
    assert targets["/healthz <= 1.3x the bare Django ping (both on granian)"]["met"] is True  # 1140 / 950 req/s
    assert targets["stateless JWT costs <= 1/1.2 of the Express JWT example"]["met"] is True
    assert targets["/accounts/profile/ on db sessions <= 2.5x /healthz"]["met"] is False  # 1000 / 300 req/s
    assert targets["/accounts/profile/ on Redis sessions (local tier) <= 2.5x /healthz"]["met"] is True  # 1000 / 420


@pytest.mark.parametrize(
    ("target", "value", "met"),
    [
        ("stateless JWT costs <= 1/2 of the Express JWT example (string secret)", 0.75, False),  # 800 / 600 req/s
        ("stateless JWT costs <= 1/0.9 of the FastAPI peer's JWT endpoint", 1.062, True),  # 800 / 850 req/s
        ("/healthz on granian costs <= 1/1.6 of /healthz on gunicorn sync", 0.667, False),  # 1.5x, not 1.6x
        ("/healthz <= 1.3x the bare Django ping (both on gunicorn sync)", 1.44, False),  # 633 / 912 req/s
    ],
)
def test_issue_21_targets_are_judged_against_their_limit(target, value, met):
    found = {t["target"]: t for t in sample_results()["targets"]}[target]
    assert (found["value"], found["met"]) == (value, met)


def test_summarize_keeps_each_server_kind_apart():
    results = sample_results()
    assert set(results["servers"]) == {"gunicorn-sync", "gunicorn-gthread"}
    assert not [key for key in results["empty"] if "@" in key]
    sync = results["servers"]["gunicorn-sync"]["healthz"]
    assert (sync["ratio"], sync["server"], sync["label"]) == (pytest.approx(1.5), "gunicorn-sync", "/healthz (no auth)")


def test_spread_counts_the_other_servers_rows():
    results = sample_results()
    results["servers"]["gunicorn-sync"]["jwt_stateless"]["ratio_range"] = [1.0, 1.4]
    assert spread(results) == pytest.approx(1.4)


@pytest.mark.parametrize(
    "line",
    [
        "| scheme | granian | gunicorn-sync | gunicorn-gthread |",
        "| /healthz (no auth) | 950 | 633 | 792 |",
        "### gunicorn-sync (x /healthz: to /healthz on granian, same rounds)",
        "| /healthz (no auth) | 633 | 1583 | 1.50 |",
        "| session: redis | 600 | 900 | 1.50 |",
    ],
    ids=["servers-head", "servers-healthz", "per-kind-title", "per-kind-row", "workers"],
)
def test_markdown_has_a_table_per_server_and_the_workers(line):
    assert line in markdown(sample_results())


def test_markdown_lists_the_microseconds_each_scheme_adds():
    text = markdown(sample_results())
    assert "| JWT: stateless | +264 |" in text  # the median of 1/800 s - 1/1000 s and of the slower round


def test_results_are_json_serializable():
    assert json.loads(json.dumps(sample_results()))["mode"] == "full"


def test_markdown_has_a_row_per_scheme_and_the_targets():
    text = markdown(sample_results())
    assert text.count("| session: db |") == 3  # empty and full stores, and the microseconds added
    assert "## Targets" in text
    assert "Test CPU <2>" in text


def test_a_run_whose_drift_cancels_out_is_steady():
    results = sample_results()
    assert spread(results) == pytest.approx(1.0)  # the whole machine slowed: every ratio kept
    text = markdown(results)
    assert "a steady run." in text and "Not a steady run" not in text


@pytest.mark.parametrize(("burst", "verdict"), [(1.24, True), (1.26, False), (2.0, False)])
def test_a_run_is_steady_while_its_ratios_move_at_most_the_limit(burst, verdict):
    results = sample_results(burst=burst)
    assert spread(results) == pytest.approx(burst)
    assert steady(results) is verdict and (burst <= STEADY_SPREAD) is verdict
    assert ("**Not a steady run.** Per-round ratios to /healthz moved by up to" in markdown(results)) is not verdict


def test_one_round_cannot_tell_how_steady_the_machine_was():
    results = {**sample_results(burst=2.0), "rounds": 1}
    assert steady(results) is None
    assert "One round: this run cannot tell" in markdown(results)


def test_results_written_before_the_rounds_were_recorded_read_them_from_the_settings():
    results = {key: value for key, value in sample_results(burst=2.0).items() if key != "rounds"}
    assert steady({**results, "settings": "wrk -t1 -c4, 4 s per run, 4 interleaved rounds (medians)"}) is False
    assert steady({**results, "settings": "wrk -t1 -c4, 1 s per run, 1 interleaved rounds (medians)"}) is None


def test_in_process_targets_are_judged_against_their_limit():
    targets = sample_results()["in_process"]["targets"]
    assert [(t["value"], t["limit"], t["met"]) for t in targets] == [(260.0, 250.0, False), (1.0, 5.0, True)]
    assert targets[0]["target"].startswith("a DPoP-bound request adds <= 250 µs over a bearer one")
    assert targets[1]["target"].startswith("the hashed session-key lookup")


@pytest.mark.parametrize(
    "line",
    [
        "| bearer request | 400 |\n| DPoP-bound request | 660 |\n| added by DPoP | +260 |",
        "| of which the signature check | 70 |",
        "| of which the replay check (SET NX of the jti) | 50 |",
        "| of which the rest | 140 |",
        "| added, median of paired blocks | +275 |",
        "| ES256 | 1500 | 2300 | 3800 | 130 | 12 |",
        "| RS256 | 1500 | 2300 | 4800 | 130 | 12 |",
        "once every 480 s (DBSC_COOKIE_AGE - 120 s): 7.92 µs (ES256), 10.00 µs (RS256) of CPU",
        "20.8 refreshes/s for 10,000 of them",
        "Hashed session-key lookup (stored_key, once per session read, write or delete): 1.00 µs.",
    ],
    ids=["dpop-added", "signature", "replay", "rest", "median-pair", "dbsc-es256", "dbsc-rs256", "how-often",
         "fleet", "lookup"],
)  # fmt: skip
def test_markdown_shows_each_in_process_figure(line):
    assert line in markdown(sample_results())


@pytest.mark.parametrize(
    "line",
    [
        "(GET /api/dashboard/, ES256) | 260.00 | 250 | missed |",
        "(SHA-256 of a 32-character key) <= 5 µs | 1.00 | 5 | met |",
    ],
    ids=["dpop-missed", "lookup-met"],
)
def test_markdown_gives_each_in_process_target_a_verdict(line):
    assert line in markdown(sample_results())


def test_markdown_of_results_without_in_process_costs_leaves_them_out():
    results = {key: value for key, value in sample_results().items() if key != "in_process"}
    assert "Theft protections" not in markdown(results)  # results written before they were measured


def test_chart_is_well_formed_svg_with_escaped_text():
    svg = chart_svg(sample_results())
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "Test CPU &lt;2&gt;" in svg
    assert len(root.findall("{http://www.w3.org/2000/svg}rect")) == 11 * 2 + 2  # a bar per phase, a legend each


def test_chart_and_vocabulary_import_without_django():
    """The benchmark draws the chart without `django.setup()`: nothing on that path imports Django."""
    code = "import sys, bench.report; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_write_path_targets_read_the_filled_phase():
    operations = {"empty": {"token refresh": 9.0}, "1,000,000-row": {"token refresh": 2.9, "revoke everything": 5.1}}
    targets = {t["target"].split(" <=")[0]: t for t in check_operations_targets(operations, rows=1_000_000)}
    assert (targets["token refresh"]["met"], targets["revoke everything"]["met"]) == (True, False)
    assert targets["token refresh"]["limit"] == 3.0 and targets["revoke everything"]["limit"] == 5.0
