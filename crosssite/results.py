"""The cross-site measurements (bench/results/crosssite.json, written by tests/e2e/test_cross_site.py)."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings


def results_path() -> Path:
    return Path(getattr(settings, "CROSSSITE_RESULTS", settings.BASE_DIR / "bench" / "results" / "crosssite.json"))


def load_results(path: Path) -> dict | None:
    """The measured ways, or None when the file is missing or not what the tests write."""
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(results, dict) or not isinstance(results.get("ways"), dict):
        return None
    if not all(isinstance(cells, dict) for cells in results["ways"].values()):
        return None
    return results
