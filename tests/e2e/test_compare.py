"""The compare page in a real browser: the chart, and the live revocation demonstration."""

import json

import pytest
from playwright.sync_api import expect

from tests.bench.sample_results import sample_results
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def demo(page, bob):
    """The compare page, logged in both ways through the demo's first button."""
    page.goto("/compare/")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="1. Log in both ways").click()
    expect(page.locator("#demo-note")).to_contain_text("Logged in as bob")
    expect(page.locator("#demo-session")).to_have_text("accepted")
    expect(page.locator("#demo-token")).to_have_text("accepted")
    return page


def test_compare_live_revocation_refuses_session_at_once(demo):
    demo.get_by_role("button", name="2. Revoke both").click()

    expect(demo.locator("#demo-note")).to_contain_text("Revoked")
    expect(demo.locator("#demo-session")).to_contain_text("refused")


def test_compare_live_revocation_refuses_access_token_with_cutoff(demo):
    demo.get_by_role("button", name="2. Revoke both").click()

    expect(demo.locator("#demo-token")).to_contain_text("refused (401")
    demo.reload()
    expect(demo.locator("#row-revocation")).to_contain_text("JWT_REVOCATION=cutoff")


def test_compare_chart_renders_from_benchmark_results(new_context, start_server, tmp_path, transactional_db):
    results = tmp_path / "latest.json"
    results.write_text(json.dumps(sample_results()))
    server = start_server(BENCH_RESULTS=str(results))
    page = new_context(base_url=server.url).new_page()

    page.goto("/compare/")

    chart = page.get_by_role("img", name="Server time per request by scheme")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["height"] > 100


def test_compare_polling_restarts_after_its_window(page, bob):
    page.clock.install()
    page.goto("/compare/")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="1. Log in both ways").click()
    expect(page.locator("#demo-note")).to_contain_text("Logged in as bob")
    page.clock.fast_forward("06:05")  # past the six-minute window
    expect(page.locator("#demo-note")).to_contain_text("Stopped checking")
    with page.expect_response("**/compare/probe/session/"):
        page.get_by_role("button", name="2. Revoke both").click()

    with page.expect_response("**/compare/probe/session/", timeout=5_000):
        page.clock.run_for(2_000)  # one polling interval
