"""Markdown: GitHub-flavoured tables that render in ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

import json
import string
from collections.abc import Sequence

from sandproof.inspector.wire import Verdict
from sandproof.matrix import UNDEFINED
from sandproof.report import aggregate, escaped, fleet
from sandproof.verify import Report

# Every ASCII punctuation character may be backslash-escaped and then stands for itself
# (CommonMark 0.31 §2.4; GFM's table extension also unescapes ``\|`` in a cell): escaping all of
# them is the allow-list. Letters, digits, spaces and other characters are plain text, so no link,
# image, inline HTML (``<img>`` fetching a beacon, ``<b>PASS</b>``), emphasis, ``$math$``,
# autolink (``:``, ``@`` and ``www.`` need punctuation) or cell break can come from a bundle.
_PUNCT = frozenset(string.punctuation) - {"\\"}


def _cell(text: str) -> str:
    """Plain text in a table cell or a line: hidden characters are already escapes (``escaped``);
    every ASCII punctuation character is backslash-escaped, so Markdown reads none of it."""
    text = text.replace("\n", " ").replace("\r", " ").replace("\\", "\\\\")  # the backslash first
    for c in _PUNCT.intersection(text):  # a pass per character present: ~2.5x faster than str.translate
        text = text.replace(c, "\\" + c)
    return text


def _code(text: str) -> str:
    """Text inside a code span in a table: only a backtick would end the span, and a pipe the
    cell (GFM unescapes ``\\|`` even in code spans, so a backslash is doubled first)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ").replace("`", "'")


def _version(report: Report) -> str:
    return f" `{_code(report.runtime_version)}`" if report.runtime_version else ""


def render(report: Report) -> str:
    report = escaped(report)
    out = [
        f"# sandproof verdict: **{report.verdict}**",
        "",
        f"Bundle `{_code(report.source)}` (schema `{_code(report.schema)}`, run on "
        f"`{_code(report.runtime)}`{_version(report)}) judged against profile `{_code(report.profile)}` "
        f"(sha256 `{_code(report.profile_sha256)}`) and matrix `{_code(report.matrix)}`. Every verdict "
        "below was recomputed from the recorded observations; none was copied from the bundle.",
        "",
        "| probe | requirement | verdict | layer | expected | actual | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in report.probes:
        expected = _code(json.dumps(p.expected, sort_keys=True))
        out.append(
            f"| {_cell(p.probe_id)} | {_cell(p.requirement)} | {p.verdict} | {_cell(p.layer)} | `{expected}` "
            f"| {_cell(p.actual)} | {_cell(p.reason)} |"
        )
    if report.checks:
        out += ["", "| check | verdict | detail |", "|---|---|---|"]
        out += [f"| {_cell(c.name)} | {c.verdict} | {_cell(c.reason)} |" for c in report.checks]
    if report.rows:
        out += ["", f"| {_cell(report.matrix)} row | verdict | requirement | why |", "|---|---|---|---|"]
        out += [f"| {_cell(r.row.id)} | {r.verdict} | {_cell(r.row.title)} | {_cell(r.reason)} |" for r in report.rows]
    return "\n".join(out) + "\n"


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def render_many(reports: list[Report], *, unreadable: Sequence[fleet.Unreadable] = ()) -> str:
    reports = [escaped(r) for r in reports]
    _, rows = aggregate(reports)
    many = fleet.build(reports, unreadable)
    out = [f"# sandproof: many bundles, **{many.verdict}**", "", f"{_cell(fleet.summary(many))}."]
    out += ["", "| bundle | runtime | venue | node | verdict |", "|---|---|---|---|---|"]
    out += [
        f"| `{_code(r.source)}` | {_cell(r.runtime)} | {_cell(r.venue)} | {_cell(r.node)} | {r.verdict} |"
        for r in reports
    ]
    out += [f"| `{_code(u.source)}` | | | | unreadable: {_cell(u.why)} |" for u in many.unreadable]
    for table in (fleet.rows(many), fleet.place_rows(many)):
        out += ["", _row(table[0]), "|" + "---|" * len(table[0])]
        out += [_row(r) for r in table[1:]]
    out += ["", "| requirement | PASS | FAIL | UNVERIFIED | UNDEFINED |", "|---|---|---|---|---|"]
    counted = (Verdict.PASS, Verdict.FAIL, Verdict.UNVERIFIED, UNDEFINED)
    out += [f"| {_cell(k)} | {' | '.join(str(c[v]) for v in counted)} |" for k, c in rows.items()]
    return "\n".join(out) + "\n\n" + "\n".join(render(r) for r in reports)
