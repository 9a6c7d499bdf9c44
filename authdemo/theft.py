"""The /theft/ page: what a stolen credential, or a script in the page, can do on this install.

Every cell comes from bench/results/theft.json, which the browser tests write
(tests/e2e/test_theft_lab.py): a thief is a plain HTTP client (requests, as curl would be),
the injected script is a script run in the page's origin by Playwright. With no file, or a
file that cannot be read, the page says the lab has not been measured here yet.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.views.generic import TemplateView

ROWS = (
    ("session_cookie", "Session cookie", "HttpOnly cookie, Django session"),
    (
        "dbsc_session",
        "Device-bound session (DBSC)",
        "HttpOnly session cookie + short-lived bound cookie, key in the browser",
    ),
    ("bearer_access", "Bearer access token", "the SPA's cookie mode: HttpOnly access cookie"),
    ("dpop_access", "DPoP-bound access token", "the SPA's DPoP mode: page memory, key in IndexedDB"),
    ("refresh_cookie", "Refresh token in an HttpOnly cookie", "the SPA's cookie mode, Path=/api/cookie/"),
    ("refresh_memory", "Refresh token in memory (DPoP-bound)", "the SPA's DPoP mode: page memory"),
)
COLUMNS = (
    ("thief", "A thief with a copy, on another machine (curl)"),
    ("read", "Injected script: read it"),
    ("use", "Injected script: use it while the page is open"),
    ("after_close", "Injected script: keep using it after the tab closes"),
)
OUTCOMES = {"accepted", "refused", "yes", "no"}


def results_path() -> Path:
    return Path(getattr(settings, "THEFT_RESULTS", settings.BASE_DIR / "bench" / "results" / "theft.json"))


def load_theft_results(path: Path) -> tuple[dict | None, bool]:
    """Return (results, readable): (None, True) when no run wrote the file, (None, False) when
    it is there but not a results file; a broken file never breaks the page."""
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError:
        return None, True
    except (OSError, ValueError):
        return None, False
    if not isinstance(results, dict) or not isinstance(results.get("rows"), dict):
        return None, False
    return results, True


def _cell(measured) -> dict | None:
    """A measured cell ({outcome, detail}), or None if absent or malformed."""
    if not isinstance(measured, dict):
        return None
    outcome, detail = measured.get("outcome"), measured.get("detail", "")
    if outcome not in OUTCOMES or not isinstance(detail, str):
        return None
    return {"outcome": outcome, "detail": detail}


def theft_table(results: dict | None) -> list[dict]:
    """Every row and column of the lab, each cell measured or None."""
    rows = (results or {}).get("rows", {})
    table = []
    for key, label, where in ROWS:
        measured = rows.get(key) if isinstance(rows.get(key), dict) else {}
        cells = [{"column": name, "label": title, "cell": _cell(measured.get(name))} for name, title in COLUMNS]
        table.append({"key": key, "label": label, "where": where, "cells": cells})
    return table


class TheftView(TemplateView):
    """The theft lab: the results of the last browser run, or a note that there is none."""

    template_name = "authdemo/theft.html"

    def get_context_data(self, **kwargs):
        results, readable = load_theft_results(results_path())
        meta = {
            name: results[name] for name in ("measured_at", "browser") if results and isinstance(results.get(name), str)
        }
        return {
            **super().get_context_data(**kwargs),
            "results": results,
            "readable": readable,
            "meta": meta,
            "columns": COLUMNS,
            "table": theft_table(results),
        }
