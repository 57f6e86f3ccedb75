"""Reports of verifications: text (terminal), json (machines), markdown (step summaries), junit (CI)."""

from __future__ import annotations

from collections import Counter, defaultdict

from sandproof.verify import Report


def aggregate(reports: list[Report]) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
    """Verdict counts per venue and per requirement (matrix row) across bundles."""
    venues: dict[str, Counter[str]] = defaultdict(Counter)
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for r in reports:
        venues[r.venue][r.verdict] += 1
        for row in r.rows:
            rows[row.row.id][row.verdict] += 1
    return dict(venues), dict(rows)
