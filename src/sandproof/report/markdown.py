"""Markdown: GitHub-flavoured tables that render in ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

import dataclasses
import json
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sandproof.inspector.wire import Verdict
from sandproof.matrix import UNDEFINED
from sandproof.report import aggregate, escaped, escaped_probe, fleet, visible
from sandproof.verify import ProbeResult, Report

# The characters that open or close Markdown's inline constructs, each backslash-escaped (any
# ASCII punctuation may be, CommonMark 0.31 §2.4; GFM's table extension also unescapes ``\|``):
# code spans, emphasis and strikethrough, links and images, inline HTML (``<img>`` fetching a
# beacon, ``<b>PASS</b>``), entities, GitHub's ``$math$``, and the cell's own edge. Block
# constructs (headings, lists, quotes) start a line, and a cell never does. What is left are
# GFM's autolinks of bare text: ``scheme://`` and ``www.`` are broken by an escape, e-mail
# addresses are not (cmark-gfm finds them after escapes are read). A bundle's text then reads
# as it is written, "engine-view (its own view)" unescaped, and makes no markup.
_MARKUP = "`*_[]<>|!~&$"
_AUTOLINK = re.compile(r"(?<=:)//|(?<=(?<![0-9A-Za-z])www)\.", re.IGNORECASE)
# what makes _cell change a text at all: most cells (ids, verdicts, most reasons) have none of it
_SPECIAL = re.compile("[\n\r\\\\" + re.escape(_MARKUP) + "]|://|www\\.", re.IGNORECASE)


# What GitHub makes of plain text after the Markdown is read: its filters run on the rendered
# text, so no escape stops them, and none runs inside a code span. @user and @org/team (a
# notification to them, when the report is posted as a comment), #123, GH-123 and
# owner/repo#123 (links to issues), and :shortcode: emoji (":white_check_mark:" a green tick
# in a FAIL row). A cell with any of them is code. Left as text: 7-40 hex digits, which GitHub
# links only to a commit of the same repository (harmless), and which every report holds in
# masks and namespace inodes.
_REFERENCE = re.compile(r"@[0-9A-Za-z]|#[0-9]|\b[gG][hH]-[0-9]", re.ASCII)
_EMOJI = re.compile(r":[0-9A-Za-z_+-]+:")


def _github(text: str) -> bool:
    """Whether GitHub would make something of ``text`` (``_REFERENCE``, ``_EMOJI``). Each
    pattern is searched only when its first character is there: the cells of one report took
    ~0.3 ms of regex searches, one pattern over every text."""
    if ("@" in text or "#" in text or "h-" in text or "H-" in text) and _REFERENCE.search(text):
        return True
    return ":" in text and _EMOJI.search(text) is not None


def _cell(text: str) -> str:
    """Plain text in a table cell or a line: hidden characters are already escapes (``escaped``)."""
    if _github(text):
        return f"`{_code(text)}`"
    if _SPECIAL.search(text) is None:
        return text
    text = text.replace("\n", " ").replace("\r", " ").replace("\\", "\\\\")  # the backslash first
    for c in _MARKUP:
        if c in text:
            text = text.replace(c, "\\" + c)
    return _AUTOLINK.sub(lambda m: "\\" + "\\".join(m.group(0)), text)


def _code(text: str) -> str:
    """Text inside a code span in a table: only a backtick would end the span, and a pipe the
    cell (GFM unescapes ``\\|`` even in code spans, so a backslash is doubled first)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ").replace("`", "'")


def _version(report: Report) -> str:
    return f" `{_code(report.runtime_version)}`" if report.runtime_version else ""


@dataclass(frozen=True)
class Rows:
    """The probe table's rows of these very results (``rows``): attest renders them while the
    engine tears the sandbox down, from the probes it judged then (``verify.judge_ahead``)."""

    probes: tuple[ProbeResult, ...]
    lines: tuple[str, ...]


def rows(probes: Sequence[ProbeResult]) -> Rows:
    lines = []
    for p in map(escaped_probe, probes):
        expected = _code(json.dumps(p.expected, sort_keys=True))
        lines.append(
            f"| {_cell(p.probe_id)} | {_cell(p.requirement)} | {p.verdict} | {_cell(p.layer)} | `{expected}` "
            f"| {_cell(p.actual)} | {_cell(p.reason)} |"
        )
    return Rows(tuple(probes), tuple(lines))


def _same(these: tuple[ProbeResult, ...], those: tuple[ProbeResult, ...]) -> bool:
    return len(these) == len(those) and all(map(operator.is_, these, those))


def render(report: Report, *, ahead: Rows | None = None) -> str:
    """``ahead``'s rows are taken only for the report's own results (the same objects: a
    ProbeResult never changes)."""
    table = ahead if ahead is not None and _same(ahead.probes, report.probes) else rows(report.probes)
    verdict = report.verdict
    report = escaped(dataclasses.replace(report, probes=()))
    out = [
        f"# sandproof verdict: **{verdict}**",
        "",
        f"Bundle `{_code(report.source)}` (schema `{_code(report.schema)}`, run on "
        f"`{_code(report.runtime)}`{_version(report)}) judged against profile `{_code(report.profile)}` "
        f"(sha256 `{_code(report.profile_sha256)}`) and matrix `{_code(report.matrix)}`. Every verdict "
        "below was recomputed from the recorded observations; none was copied from the bundle.",
        "",
        "| probe | requirement | verdict | layer | expected | actual | why |",
        "|---|---|---|---|---|---|---|",
    ]
    out += table.lines
    if report.checks:
        out += ["", "| check | verdict | detail |", "|---|---|---|"]
        out += [f"| {_cell(c.name)} | {c.verdict} | {_cell(c.reason)} |" for c in report.checks]
    if report.rows:
        out += ["", f"| {_cell(report.matrix)} row | verdict | requirement | why |", "|---|---|---|---|"]
        out += [f"| {_cell(r.row.id)} | {r.verdict} | {_cell(r.row.title)} | {_cell(r.reason)} |" for r in report.rows]
    return "\n".join(out) + "\n"


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def render_many(
    reports: list[Report],
    *,
    unreadable: Sequence[fleet.Unreadable] = (),
    unattested: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """``unattested``: a DaemonSet's nodes its pods cannot land on (node -> the taints), named
    in the report as not attested: they ran no probe, and no workload with the same
    tolerations lands there either."""
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
    out += [
        f"| | | | {_cell(visible(node))} | not attested: taints {_cell(visible(', '.join(taints)))} |"
        for node, taints in sorted((unattested or {}).items())
    ]
    for table in (fleet.rows(many), fleet.place_rows(many)):
        out += ["", _row(table[0]), "|" + "---|" * len(table[0])]
        out += [_row(r) for r in table[1:]]
    out += ["", "| requirement | PASS | FAIL | UNVERIFIED | UNDEFINED |", "|---|---|---|---|---|"]
    counted = (Verdict.PASS, Verdict.FAIL, Verdict.UNVERIFIED, UNDEFINED)
    out += [f"| {_cell(k)} | {' | '.join(str(c[v]) for v in counted)} |" for k, c in rows.items()]
    return "\n".join(out) + "\n\n" + "\n".join(render(r) for r in reports)
