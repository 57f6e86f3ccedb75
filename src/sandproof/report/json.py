"""A machine verdict: reasons per probe, per check and per matrix row."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sandproof.report import aggregate, escaped, fleet
from sandproof.verify import Report


def as_dict(report: Report) -> dict[str, object]:
    report = escaped(report)
    return {
        "source": report.source,
        "schema": report.schema,
        "profile": {"name": report.profile, "sha256": report.profile_sha256, "source": report.profile_source},
        "matrix": report.matrix,
        "venue": report.venue,
        "verdict": report.verdict,
        "probes": [
            {
                "probe_id": p.probe_id,
                "requirement": p.requirement,
                "layer": p.layer,
                "verdict": p.verdict,
                "reason": p.reason,
                "expected": p.expected,
                "actual": p.actual,
            }
            for p in report.probes
        ],
        "checks": [{"name": c.name, "verdict": c.verdict, "reason": c.reason} for c in report.checks],
        "rows": [
            {
                "id": r.row.id,
                "title": r.row.title,
                "probes": list(r.row.probes),
                "defined": r.row.defined,
                "verdict": r.verdict,
                "reason": r.reason,
            }
            for r in report.rows
        ],
    }


def render(report: Report) -> str:
    return json.dumps(as_dict(report), indent=2, sort_keys=True) + "\n"


def render_many(reports: list[Report], *, unreadable: Sequence[fleet.Unreadable] = ()) -> str:
    reports = [escaped(r) for r in reports]
    venues, rows = aggregate(reports)
    many = fleet.build(reports, unreadable)
    body = {
        "verdict": many.verdict,
        "bundles": [{**as_dict(r), "runtime": r.runtime, "node": r.node} for r in reports],
        "per_venue": {k: dict(v) for k, v in venues.items()},
        "per_requirement": {k: dict(v) for k, v in rows.items()},
        "fleet": fleet.as_dict(many),
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"
