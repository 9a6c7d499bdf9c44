"""The comparison chart: server time per request by scheme, as SVG.

The benchmark writes it beside its results and /compare/ draws it from the same code, so
the file and the page agree. It imports nothing from Django: the benchmark draws it
without `django.setup()`.
"""

from __future__ import annotations

from html import escape

from authdemo.measured import SCHEME_KEYS


def scheme_rows(results: dict | None, phase: str = "empty", order: tuple[str, ...] = SCHEME_KEYS) -> list[dict]:
    """One row per scheme in display order (authdemo's, or `order`), each with its key."""
    rows = (results or {}).get(phase) or {}
    return [{"key": key, **rows[key]} for key in order if key in rows]


def chart_svg(results: dict) -> str:
    """Draw time per request by scheme as an SVG bar chart; text is escaped, no script."""
    rows, full = scheme_rows(results), {row["key"]: row for row in scheme_rows(results, "full")}
    top = max([row["time_per_request_us"] for row in [*rows, *full.values()]] + [1])
    bar, gap, left, width = 14, 10, 190, 360
    height = 40 + len(rows) * (2 * bar + gap) + 30
    parts = _chart_head(results, left + width + 120, height)
    for index, row in enumerate(rows):
        y = 30 + index * (2 * bar + gap)
        parts.append(f'<text x="{left - 8}" y="{y + bar}" text-anchor="end">{escape(row["label"])}</text>')
        parts += _bar(left, y, width * row["time_per_request_us"] / top, bar, row, "#1e6b3a")
        if row["key"] in full:
            scaled = full[row["key"]]
            parts += _bar(left, y + bar, width * scaled["time_per_request_us"] / top, bar, scaled, "#5b2a86")
    legend = [("#1e6b3a", "empty stores")]
    if full:
        legend.append(("#5b2a86", f"{results.get('scale_rows', 0):,} stored sessions and tokens"))
    for index, (colour, text) in enumerate(legend):
        x = left + index * 110
        parts.append(f'<rect x="{x}" y="{height - 22}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{height - 12}">{escape(text)}</text>')
    return "\n".join([*parts, "</svg>"])


def _chart_head(results: dict, width: int, height: int) -> list[str]:
    machine = results.get("machine", {})
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        'aria-labelledby="chart-title" font-family="sans-serif" font-size="12">',
        '<title id="chart-title">Server time per request by scheme (microseconds; lower is cheaper)</title>',
        f"<desc>Measured {escape(results.get('measured_at', ''))} on {escape(machine.get('cpu', ''))}</desc>",
        f'<text x="0" y="16" font-weight="bold">µs per request, one worker ({escape(results["mode"])} run)</text>',
    ]


def _bar(x: int, y: int, length: float, height: int, row: dict, colour: str) -> list[str]:
    label = f"{row['time_per_request_us']:.0f} µs ({row['ratio']:.2f}x)"
    return [
        f'<rect x="{x}" y="{y}" width="{max(length, 1):.1f}" height="{height - 2}" fill="{colour}"/>',
        f'<text x="{x + length + 4:.1f}" y="{y + height - 4}">{escape(label)}</text>',
    ]
