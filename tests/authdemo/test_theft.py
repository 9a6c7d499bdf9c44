"""/theft/: the theft lab drawn from bench/results/theft.json, or a note that it was not measured."""

import json
import re
from html import unescape

import pytest

from authdemo.theft import COLUMNS, ROWS

NOT_MEASURED = "Not measured on this install yet"


@pytest.fixture
def theft_file(tmp_path, settings):
    """Point the page at a results file of our own (absent until written)."""
    path = tmp_path / "theft.json"
    settings.THEFT_RESULTS = path
    return path


def full_results() -> dict:
    """A results file as the browser tests write it, every cell with a detail of its own."""
    return {
        "measured_at": "2026-12-08T10:00:00+00:00",
        "browser": "Chromium 156.0.8078.129",
        "rows": {
            key: {
                column: {"outcome": "refused" if column == "thief" else "no", "detail": f"detail {key} {column}"}
                for column, _ in COLUMNS
            }
            for key, _, _ in ROWS
        },
    }


def cells(page: str, key: str) -> list[str]:
    """The text of each data cell of the row of credential `key`."""
    row = re.search(rf'<tr id="theft-{key}">(.*?)</tr>', page, re.S)
    assert row, f"no row {key}"
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", "", td)).split())
        for td in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)
    ]


def test_theft_page_renders_every_row_from_the_results_file(client, theft_file):
    theft_file.write_text(json.dumps(full_results()))

    response = client.get("/theft/")

    page = response.content.decode()
    assert response.status_code == 200
    assert NOT_MEASURED not in page
    assert "Chromium 156.0.8078.129" in page
    for key, label, _ in ROWS:
        assert label in page
        want = [f"{'refused' if c == 'thief' else 'no'}: detail {key} {c}" for c, _ in COLUMNS]
        assert cells(page, key) == want
    assert "What none of them stops" in page


def test_theft_page_without_results_says_not_measured(client, theft_file):
    response = client.get("/theft/")

    page = response.content.decode()
    assert response.status_code == 200
    assert NOT_MEASURED in page
    for key, label, _ in ROWS:
        assert label in page
        assert cells(page, key) == ["not measured"] * len(COLUMNS)


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '{"rows": []}', '"rows"', "\xff\xfe", '{"rows": {"session_cookie": 5}}'],
    ids=["garbage", "list", "rows-list", "string", "binary", "row-not-object"],
)
def test_theft_page_with_malformed_file_is_not_a_500(client, theft_file, content):
    theft_file.write_bytes(content.encode("latin-1"))

    response = client.get("/theft/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Theft lab" in page
    assert cells(page, "session_cookie") == ["not measured"] * len(COLUMNS)


def test_theft_page_skips_malformed_cells_and_keeps_the_rest(client, theft_file):
    results = full_results()
    results["rows"]["dpop_access"]["thief"] = {"outcome": "<script>", "detail": "x"}
    results["rows"]["dpop_access"]["read"] = {"outcome": "yes", "detail": ["not", "a", "string"]}
    results["rows"]["bearer_access"]["use"] = "accepted"
    theft_file.write_text(json.dumps(results))

    response = client.get("/theft/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "<script>" not in page.split("<main", 1)[1].split("</main>", 1)[0]
    assert cells(page, "dpop_access")[:2] == ["not measured", "not measured"]
    assert cells(page, "bearer_access")[2] == "not measured"
    assert cells(page, "session_cookie")[0] == "refused: detail session_cookie thief"


def test_compare_page_links_to_the_theft_lab(client):
    response = client.get("/compare/")

    assert 'href="/theft/"' in response.content.decode()
