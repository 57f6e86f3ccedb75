"""Reports of verifications: text (terminal), json (machines), markdown (step summaries), junit (CI),
sarif (code scanning); and of doctor runs (``report/lint.py``, ``report/sarif.py``).

Everything a report shows may have come from a bundle, so every renderer starts from
``escaped(report)``: one place where control and format characters become visible text
(ESC as ``\\x1b``), before any of them reaches a terminal, a Markdown table, JUnit XML or
a JSON consumer. A FAIL row cannot repaint itself as PASS.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING

import orjson

from sandproof import matrix
from sandproof.capture import escape, inert
from sandproof.verify import Check, ProbeResult, Report

if TYPE_CHECKING:
    from sandproof import doctor

# Cc: C0/C1 controls (ESC, BEL, CR, NEL); Cf: format (zero-width, bidi overrides);
# Zl/Zp: line and paragraph separators; Cs/Co/Cn: surrogates, private use, unassigned
HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def visible(text: object) -> str:
    """The text with every hidden character shown as its escape, and nothing in it a CI
    runner would take for a workflow command (``capture.inert``)."""
    s = str(text)
    if s.isprintable() and s.isascii() and "#" not in s and s[:1] not in (":", " "):
        return s  # the common case, quickly
    if not (s.isprintable() and s.isascii()):
        s = "".join(escape(ch) if unicodedata.category(ch) in HIDDEN else ch for ch in s)
    return inert(s)


# a string that starts with ":" or a blank, in compact JSON whose every '"' delimits a string
# and that starts with "{" or "[": an opening '"' follows "{", "[", "," or ":"; a closing one
# that these happen to end is only a false alarm, which takes the walk. Written to start with
# its literal '"', which the regex engine finds at C speed (7x the lookbehind first).
_LEADING = re.compile(rb'"[: ](?<=[\[{,:]"[: ])')


def _all_visible(value: object) -> bool:
    """Whether every string in ``value`` (keys too) is one ``visible`` returns as it is, read at
    C speed from its compact JSON: ASCII, no escape at all (so no control character, no '"' or
    backslash in a string), no DEL, no "#", and no string starting with ":" or a blank. A
    plan's expectation is (~0.4 ms of every attest's report walked string by string)."""
    try:
        text = orjson.dumps(value)
    except TypeError:  # a key that is no string, an integer past 64 bits: the walk decides
        return False
    return (
        text[:1] in (b"{", b"[")
        and text.isascii()
        and b"\\" not in text
        and b"\x7f" not in text
        and b"#" not in text
        and _LEADING.search(text) is None
    )


def _deep(value: object) -> object:
    """``value`` with every string made ``visible``; as it is when none needs it."""
    return value if _all_visible(value) else _walk(value)


def _walk(value: object) -> object:
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible(k): _walk(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v) for v in value]
    return value


def escaped_probe(p: ProbeResult) -> ProbeResult:
    """One probe's result with every string made visible."""
    expected = _deep(p.expected)
    assert isinstance(expected, dict)
    return replace(
        p,
        probe_id=visible(p.probe_id),
        requirement=visible(p.requirement),
        layer=visible(p.layer),
        reason=visible(p.reason),
        expected=expected,
        actual=visible(p.actual),
    )


def escaped(report: Report) -> Report:
    """A copy of the report with every string made visible (verdicts are this tool's own)."""
    rows = tuple(
        matrix.RowResult(
            matrix.Row(
                visible(r.row.id),
                visible(r.row.title),
                tuple(map(visible, r.row.probes)),
                r.row.defined,
                tuple(map(visible, r.row.checks)),
            ),
            visible(r.verdict),
            visible(r.reason),
        )
        for r in report.rows
    )
    return replace(
        report,
        source=visible(report.source),
        schema=visible(report.schema),
        profile=visible(report.profile),
        matrix=visible(report.matrix),
        venue=visible(report.venue),
        runtime=visible(report.runtime),
        node=visible(report.node),
        runtime_version=visible(report.runtime_version),
        probes=tuple(map(escaped_probe, report.probes)),
        checks=tuple(Check(visible(c.name), c.verdict, visible(c.reason)) for c in report.checks),
        rows=rows,
    )


def aggregate(reports: list[Report]) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
    """Verdict counts per venue and per requirement (matrix row) across bundles."""
    venues: dict[str, Counter[str]] = defaultdict(Counter)
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for r in reports:
        venues[r.venue][r.verdict] += 1
        for row in r.rows:
            rows[row.row.id][row.verdict] += 1
    return dict(venues), dict(rows)


def escaped_lint(result: doctor.Result) -> doctor.Result:
    """A doctor result with every string that came from the linted files made visible (rule
    texts are this tool's own)."""
    findings = tuple(
        replace(
            f,
            message=visible(f.message),
            subject=visible(f.subject),
            path=visible(f.path),
            uri=visible(f.uri),
            waived=None if f.waived is None else visible(f.waived),
        )
        for f in result.findings
    )
    return replace(
        result,
        target=visible(result.target),
        files=tuple(map(visible, result.files)),
        findings=findings,
        unused_waivers=tuple((visible(r), visible(why)) for r, why in result.unused_waivers),
    )
