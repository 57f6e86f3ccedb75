"""A Markdown report (a table GitHub renders in a step summary)."""

from __future__ import annotations

import json

from sandproof.verify import Report


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: Report) -> str:
    out = [
        f"# sandproof verdict: **{report.verdict}**",
        "",
        f"Bundle `{report.source}` (schema `{report.schema}`) judged against profile `{report.profile}`.",
        "Every verdict below was recomputed from the recorded observations; none was copied from the bundle.",
        "",
        "| probe | requirement | verdict | layer | expected | why |",
        "|---|---|---|---|---|---|",
    ]
    for p in report.probes:
        expected = _cell(json.dumps(p.expected, sort_keys=True))
        out.append(
            f"| {p.probe_id} | {p.requirement} | {p.verdict} | {_cell(p.layer)} | `{expected}` | {_cell(p.reason)} |"
        )
    if report.checks:
        out += ["", "| check | verdict | detail |", "|---|---|---|"]
        out += [f"| {c.name} | {c.verdict} | {_cell(c.reason)} |" for c in report.checks]
    return "\n".join(out) + "\n"
