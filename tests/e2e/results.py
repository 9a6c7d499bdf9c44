"""Browser tests that measure something for a page (the theft lab, the cross-site ways) merge
their cells into a results file of bench/results/, which the page then draws."""

from __future__ import annotations

import datetime
import json
from pathlib import Path


def merge_into(path: Path, key: str, rows: dict[str, dict], browser, *, per_cell: bool = False, **extra) -> None:
    """Write `rows` into the results file at `path` under `key`, keeping what an earlier run
    measured for the rows (or, with `per_cell`, the cells of a row) this run did not."""
    try:
        previous = json.loads(path.read_text())[key]
    except (OSError, ValueError, KeyError, TypeError):
        previous = {}
    previous = previous if isinstance(previous, dict) else {}
    if per_cell:
        merged = {name: {**previous.get(name, {}), **cells} for name, cells in {**previous, **rows}.items()}
    else:
        merged = {**previous, **rows}
    results = {
        "measured_at": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
        "browser": f"Chromium {browser.version} (Debian), headless, driven by Playwright",
        **extra,
        key: merged,
    }
    path.write_text(json.dumps(results, indent=2) + "\n")
