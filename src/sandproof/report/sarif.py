"""SARIF 2.1.0 for code scanning: doctor findings located in the profile or workflow, and
verify's probe and check FAILs located at the profile they were judged against.

What GitHub's upload needs beyond the schema: a location per result, stable ``ruleId``s,
``partialFingerprints`` (here a digest of the rule, the file and what was found, so a
finding keeps its alert when lines move) and rules with ``help``. A waived doctor finding
is a result with a ``suppressions`` entry carrying its reason: shown, never dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Required, TypedDict

from sandproof import __version__
from sandproof.doctor import Result, locate
from sandproof.inspector.catalog import PROBES
from sandproof.inspector.wire import Verdict
from sandproof.matrix import UNDEFINED
from sandproof.report import escaped, escaped_lint, visible
from sandproof.report.fleet import Unreadable
from sandproof.verify import Report

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO = "https://github.com/sandproof/sandproof"
FINGERPRINT = "sandproof/v1"


class _Text(TypedDict):
    text: str


class _Help(TypedDict, total=False):
    text: Required[str]
    markdown: str


class _Level(TypedDict):
    level: str


class Rule(TypedDict, total=False):
    """A ``reportingDescriptor`` (SARIF 2.1.0 §3.49), the fields sandproof writes."""

    id: Required[str]
    name: Required[str]
    shortDescription: Required[_Text]
    fullDescription: _Text
    help: Required[_Help]
    defaultConfiguration: Required[_Level]
    properties: dict[str, list[str]]


class _Artifact(TypedDict):
    uri: str


class _Region(TypedDict):
    startLine: int


class _Physical(TypedDict):
    artifactLocation: _Artifact
    region: _Region


class Location(TypedDict):
    physicalLocation: _Physical


class _Suppression(TypedDict):
    kind: str
    status: str
    justification: str


class Finding(TypedDict, total=False):
    """A ``result`` (SARIF 2.1.0 §3.27), the fields sandproof writes."""

    ruleId: Required[str]
    ruleIndex: int
    level: Required[str]
    message: Required[_Text]
    locations: Required[list[Location]]
    partialFingerprints: Required[dict[str, str]]
    suppressions: list[_Suppression]


def _fingerprint(*parts: str) -> dict[str, str]:
    return {FINGERPRINT: hashlib.sha256("\0".join(parts).encode()).hexdigest()}


def _location(uri: str, line: int) -> Location:
    return {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": max(line, 1)}}}


def _text(message: str) -> str:
    """A plain text message: SARIF 2.1.0 §3.11.6 reads ``[text](target)`` in one as an embedded
    link, which code scanning renders; a literal bracket is written ``\\[``/``\\]``. Every bracket is
    escaped (these messages link nothing), and a backslash before one is shown as ``\\x5c`` so
    that it cannot undo the escape."""
    return re.sub(r"\\(?=[\[\]])", lambda _: "\\x5c", message).replace("[", "\\[").replace("]", "\\]")


def _name(title: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", title))


def _run(rules: list[Rule], results: list[Finding]) -> str:
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {"name": "sandproof", "version": __version__, "informationUri": INFO, "rules": rules}
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def doctor(result: Result) -> str:
    result = escaped_lint(result)
    index = {r.id: i for i, r in enumerate(result.rules)}
    rules: list[Rule] = [
        {
            "id": r.id,
            "name": _name(r.title),
            "shortDescription": {"text": r.title},
            "fullDescription": {"text": r.why},
            "help": {"text": f"{r.why}\nFix: {r.fix}", "markdown": f"{r.why}\n\n**Fix:** {r.fix}"},
            "defaultConfiguration": {"level": str(r.level)},
            "properties": {"tags": ["security", "sandbox"]},
        }
        for r in result.rules
    ]
    results: list[Finding] = []
    for f in result.findings:
        entry: Finding = {
            "ruleId": f.rule.id,
            "ruleIndex": index[f.rule.id],
            "level": str(f.rule.level),
            "message": {"text": _text(f"{f.message}. Fix: {f.rule.fix}")},
            "locations": [_location(f.uri, f.line)],
            "partialFingerprints": _fingerprint(f.rule.id, f.uri, f.subject),
        }
        if f.waived is not None:
            entry["suppressions"] = [{"kind": "inSource", "status": "accepted", "justification": f.waived}]
        results.append(entry)
    return _run(rules, results)


def _profile_place(report: Report) -> tuple[str, int]:
    """Where a verify result is placed: the profile's file, at its ``name`` line."""
    source = report.profile_source
    if source.startswith("shipped:"):
        path = Path(__file__).resolve().parent.parent / "profiles" / f"{source[8:]}.toml"
    else:
        path = Path(source)
    try:
        line = locate.toml_line(path.read_text(encoding="utf-8"), "name")
    except (OSError, UnicodeDecodeError):
        line = 1
    return _uri(path), line


def _uri(path: Path) -> str:
    """A path below the working directory as a relative URI (what code scanning places), else a file URI;
    percent-encoded either way (RFC 3986), so a file named with a space, a newline or ``#`` is still a URI."""
    rel = os.path.relpath(path)
    if rel == ".." or rel.startswith("../"):
        return path.resolve().as_uri()
    return urllib.parse.quote(Path(rel).as_posix(), safe="/", errors="surrogateescape")


UNREADABLE_RULE: Rule = {
    "id": "bundle.unreadable",
    "name": "BundleUnreadable",
    "shortDescription": {"text": "bundle.unreadable: an evidence bundle given could not be read"},
    "help": {
        "text": "sandproof verify could not read this evidence bundle (not JSON, no known schema, too large, "
        "not a regular file): nothing in it was verified. Attest again or give the right file."
    },
    "defaultConfiguration": {"level": "error"},
}


def _unread(bundle: Unreadable) -> Finding:
    source, why = visible(bundle.source), visible(bundle.why)
    uri = _uri(Path(bundle.source))
    return {
        "ruleId": UNREADABLE_RULE["id"],
        "level": "error",
        "message": {"text": _text(f"ERROR: bundle {source} could not be read: {why}")},
        "locations": [_location(uri, 1)],
        "partialFingerprints": _fingerprint(UNREADABLE_RULE["id"], uri),
    }


def _what(rule_id: str) -> str:
    info = PROBES.get(rule_id)
    if info is not None:
        return f"{info.operation} (requirement {info.requirement})"
    if rule_id.startswith("row."):
        return f"the matrix row {rule_id.removeprefix('row.')}"
    return f"the {rule_id.removeprefix('check.')} check"


def verify(reports: list[Report], *, unreadable: Sequence[Unreadable] = ()) -> str:
    """Every probe, check and matrix row that did not PASS, as an error, and every bundle that
    could not be read, as an error at its file. UNVERIFIED is an error too: the verdict is FAIL
    then, and code scanning fails a check on errors only (a warning read as a passing check)."""
    rules: dict[str, Rule] = {}
    results: list[Finding] = [_unread(u) for u in unreadable]
    if unreadable:
        rules[UNREADABLE_RULE["id"]] = UNREADABLE_RULE
    for report in (escaped(r) for r in reports):
        uri, line = _profile_place(report)
        items: list[tuple[str, Verdict, str, object, str]] = [
            (p.probe_id, p.verdict, p.reason, p.expected, p.actual) for p in report.probes
        ]
        items += [(f"check.{c.name}", c.verdict, c.reason, None, "") for c in report.checks]
        items += [
            (f"row.{r.row.id}", Verdict(r.verdict), r.reason, None, "")
            for r in report.rows
            if r.verdict not in (Verdict.PASS, UNDEFINED)
        ]
        for rule_id, verdict, reason, expected, actual in items:
            if verdict == Verdict.PASS:
                continue
            if rule_id not in rules:
                what = _what(rule_id)
                rules[rule_id] = {
                    "id": rule_id,
                    "name": _name(rule_id),
                    "shortDescription": {"text": f"{rule_id}: {what}"},
                    "help": {
                        "text": f"sandproof verify recomputed {rule_id} from the recorded evidence: {what}. "
                        "A FAIL means the sandbox did not hold as the profile says; fix the profile or the "
                        "runtime and attest again. Verify results cannot be waived."
                    },
                    "defaultConfiguration": {"level": "error"},
                }
            want = json.dumps(expected, sort_keys=True)
            want = want if len(want) <= 400 else want[:400] + "…"  # a sweep's expectation is ~10 KB
            detail = f"; expected {want}; actual {actual!r}" if expected else ""
            results.append(
                {
                    "ruleId": rule_id,
                    "level": "error",
                    "message": {
                        "text": _text(f"{verdict}: {reason}{detail} (bundle {report.source}, profile {report.profile})")
                    },
                    "locations": [_location(uri, line)],
                    "partialFingerprints": _fingerprint(rule_id, uri, f"{report.profile} {report.source}"),
                }
            )
    ordered = sorted(rules)
    for r in results:
        r["ruleIndex"] = ordered.index(r["ruleId"])
    return _run([rules[k] for k in ordered], results)
