"""A plain table for the terminal."""

from __future__ import annotations

from sandproof.verify import Report


def render(report: Report) -> str:
    rows = [("PROBE", "REQ", "VERDICT", "LAYER", "WHY")]
    rows += [(p.probe_id, p.requirement, p.verdict, p.layer, p.reason) for p in report.probes]
    rows += [(f"[{c.name}]", "", c.verdict, "", c.reason) for c in report.checks]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:4])) + "  " + r[4] for r in rows]
    counts = report.counts()
    summary = ", ".join(f"{counts[k]} {k}" for k in sorted(counts)) or "no probes"
    lines.append(f"{report.verdict}: {report.source} against profile {report.profile!r} ({summary})")
    for c in report.checks:
        if c.name == "container-started" and c.verdict != "PASS":
            lines.insert(0, f"FAIL: {c.reason}; no evidence, so no probe can PASS")
    return "\n".join(lines) + "\n"
