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


# The ways in the order the table shows them, with what the page calls them.
WAYS = (
    ("bearer", "Bearer token in memory, CORS without credentials"),
    ("token-cookie-lax", "Access token in an HttpOnly cookie, SameSite=Lax"),
    ("token-cookie-none", "Access token cookie, SameSite=None; Secure"),
    ("token-cookie-partitioned", "Access token cookie, SameSite=None; Secure; Partitioned (CHIPS)"),
    ("session-cookie-lax", "Session cookie, SameSite=Lax"),
    ("session-cookie-none", "Session cookie, SameSite=None; Secure"),
    ("session-cookie-partitioned", "Session cookie, SameSite=None; Secure; Partitioned"),
    ("bff", "Backend-for-frontend (same-site session; the backend holds DPoP-bound tokens)"),
    ("dpop", "DPoP in the browser (tokens in memory, a key the page cannot export)"),
)
COLUMNS = (
    "works_third_party_cookies_allowed",
    "works_third_party_cookies_blocked",
    "works_without_cors_credentials",
    "reads_token",
    "stolen_token_works_elsewhere",
    "acts_as_user_in_page",
    "sent_by_another_site",
    "survives_reload",
)


def _shown(value) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "-"


def cross_site_table(results: dict | None) -> dict | None:
    """The measured ways as rows of shown cells, and what the backend-for-frontend's hop costs."""
    if results is None:
        return None
    ways = results["ways"]
    rows = []
    for key, label in WAYS:
        cells = ways.get(key, {})
        latency = cells.get("latency_ms")
        latency = f"{latency:.1f} ms" if isinstance(latency, int | float) and not isinstance(latency, bool) else "-"
        rows.append({"key": key, "label": label, "cells": [_shown(cells.get(name)) for name in COLUMNS],
                     "latency": latency})  # fmt: skip
    return {"rows": rows, "measured_at": str(results.get("measured_at", "")),
            "bff_hop": _difference(ways, "bff", "bearer"), "bff_over_dpop": _difference(ways, "bff", "dpop"),
            "browser": str(results.get("browser", "")), "calls": results.get("latency_calls")}  # fmt: skip


def _difference(ways: dict, way: str, than: str) -> str | None:
    """How much longer one call takes `way` than `than` (medians), or None when either is unmeasured."""
    values = [ways.get(key, {}).get("latency_ms") for key in (way, than)]
    if not all(isinstance(value, int | float) and not isinstance(value, bool) for value in values):
        return None
    return f"{values[0] - values[1]:+.1f} ms"
