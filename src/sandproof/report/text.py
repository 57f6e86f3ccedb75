"""A table for the terminal; colour only when writing to a terminal."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence

from sandproof.inspector.wire import Verdict
from sandproof.matrix import UNDEFINED
from sandproof.report import aggregate, escaped, fleet
from sandproof.verify import Report

COLOURS = {Verdict.PASS: "32", Verdict.FAIL: "31", Verdict.ERROR: "31", Verdict.UNVERIFIED: "33", UNDEFINED: "33"}


def _paint(verdict: str, colour: bool) -> str:
    return f"\033[{COLOURS.get(verdict, '0')}m{verdict}\033[0m" if colour else verdict


def width(text: str) -> int:
    """Columns a terminal gives the text: a wide or full-width character takes two, a combining
    mark none (Unicode UAX #11, East_Asian_Width W/F; category Mn/Me). Padding by ``len`` let a
    bundle's node name shift its row's PASS and FAIL counts under the other column."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.category(c) in ("Mn", "Me") else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _pad(text: str, columns: int) -> str:
    return text + " " * (columns - width(text))


def _table(rows: list[tuple[str, ...]], colour: bool, verdict_col: int = 2) -> list[str]:
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    out = []
    for n, r in enumerate(rows):
        cells = [_pad(c, widths[i]) for i, c in enumerate(r[:-1])]
        if n and colour:
            cells[verdict_col] = _paint(r[verdict_col], True) + " " * (widths[verdict_col] - width(r[verdict_col]))
        out.append("  ".join(cells) + "  " + r[-1])
    return out


def render(report: Report, *, colour: bool = False) -> str:
    report = escaped(report)  # no byte of a bundle reaches the terminal as a control sequence
    lines = []
    for c in report.checks:
        if c.name == "container-started" and c.verdict != Verdict.PASS:
            lines.append(f"FAIL: {c.reason}; no evidence, so no probe can PASS")
    rows: list[tuple[str, ...]] = [("PROBE", "REQ", "VERDICT", "LAYER", "WHY")]
    rows += [(p.probe_id, p.requirement, p.verdict, p.layer, p.reason) for p in report.probes]
    rows += [(f"[{c.name}]", "", c.verdict, "", c.reason) for c in report.checks]
    lines += _table(rows, colour)
    for p in report.probes:
        if p.verdict != Verdict.PASS:  # every failure names probe, requirement, expected and actual
            lines.append(
                f"  {p.probe_id} ({p.requirement}): expected {json.dumps(p.expected, sort_keys=True)}; "
                f"actual '{p.actual}'"
            )
    if report.rows:
        lines.append("")
        mrows: list[tuple[str, ...]] = [(f"MATRIX {report.matrix}", "VERDICT", "WHY")]
        mrows += [(r.row.id, r.verdict, f"{r.row.title}: {r.reason}") for r in report.rows]
        lines += _table(mrows, colour, verdict_col=1)
    counts = report.counts()
    summary = ", ".join(f"{counts[k]} {k}" for k in sorted(counts)) or "no probes"
    undefined = sum(r.verdict == UNDEFINED for r in report.rows)
    note = f"; {undefined} matrix rows not defined by the source, not attested" if undefined else ""
    lines.append(
        f"profile: {report.profile} ({report.profile_source or '?'}), sha256 {report.profile_sha256 or '?'}; "
        f"runtime: {report.runtime}" + (f" ({report.runtime_version})" if report.runtime_version else "")
    )
    failed = f" — {what_failed(report)}" if report.verdict != Verdict.PASS else ""
    lines.append(
        f"{_paint(report.verdict, colour)}: {report.source} against profile {report.profile!r} "
        f"(sha256 {report.profile_sha256[:12] or '?'}; {summary}{note}){failed}"
    )
    return "\n".join(lines) + "\n"


WHAT_FAILED_CHARS = 300
"""The last line names what failed, bounded: a terminal line, a CI log's summary."""


def what_failed(report: Report, limit: int = WHAT_FAILED_CHARS) -> str:
    """Each failing check, then each failing probe, as ``name: reason``; the matrix rows only
    when nothing else failed (a row fails because a probe or check did). At most ``limit``
    characters and a count of what did not fit."""
    items = [f"{c.name}: {c.reason}" for c in report.checks if c.verdict != Verdict.PASS]
    items += [f"{p.probe_id}: {p.reason}" for p in report.probes if p.verdict != Verdict.PASS]
    if not items:
        items = [f"{r.row.id}: {r.reason}" for r in report.rows if r.verdict not in (Verdict.PASS, UNDEFINED)]
    out = ""
    for n, item in enumerate(items):
        short = item if len(item) <= limit // 3 else item[: limit // 3 - 1] + "…"
        longer = f"{out}; {short}" if out else short
        if len(longer) > limit:
            return f"{out}; … (+{len(items) - n} more)"
        out = longer
    return out or "no verdict"


def render_many(reports: list[Report], *, colour: bool = False, unreadable: Sequence[fleet.Unreadable] = ()) -> str:
    """Each report, then the fleet: per requirement, the runtime x probe matrix, per venue and
    node, and one verdict for all (``report.fleet``)."""
    reports = [escaped(r) for r in reports]
    out = [render(r, colour=colour) for r in reports]
    _, rows = aggregate(reports)
    req: list[tuple[str, ...]] = [("REQUIREMENT", Verdict.PASS, Verdict.FAIL, Verdict.UNVERIFIED, UNDEFINED, "")]
    req += [
        (k, *(str(c[v]) for v in (Verdict.PASS, Verdict.FAIL, Verdict.UNVERIFIED, UNDEFINED)), "")
        for k, c in rows.items()
    ]
    out.append("\n".join(_table(req, False)))
    many = fleet.build(reports, unreadable)
    for table in (fleet.rows(many), fleet.place_rows(many)):
        out.append("\n" + "\n".join(_table([(*r, "") for r in table], False)))
    out += [f"UNREADABLE {u.source}: {u.why}" for u in many.unreadable]
    out.append(_paint(many.verdict, colour) + fleet.summary(many).removeprefix(str(many.verdict)) + "\n")
    return "\n".join(out)
