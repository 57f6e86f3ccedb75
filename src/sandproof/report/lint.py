"""Doctor results for a terminal (text) and for machines (json). Waived findings are shown
like any other, marked waived with their reason."""

from __future__ import annotations

import json

from sandproof.doctor import Finding, Result
from sandproof.report import escaped_lint


def _mark(f: Finding) -> str:
    return f"waived ({f.waived})" if f.waived is not None else f.rule.level


def text(result: Result) -> str:
    result = escaped_lint(result)
    lines = []
    for f in sorted(result.findings, key=lambda f: (f.path, f.line, f.rule.id)):
        lines.append(f"{f.path}:{f.line}: {f.rule.id} {_mark(f)}: {f.message}")
        lines.append(f"    fix: {f.rule.fix}")
    for rule, reason in result.unused_waivers:
        lines.append(f"waiver {rule} matches no finding ({reason}): remove it, or it will hide a later one")
    failing = sum(f.fails for f in result.findings)
    waived = sum(f.waived is not None for f in result.findings)
    notes = len(result.findings) - failing - waived
    verdict = "PASS" if result.ok else "FAIL"
    lines.append(
        f"{verdict}: {result.target}: {failing} failing, {waived} waived, {notes} notes "
        f"({len(result.rules)} rules on {', '.join(result.files)})"
    )
    return "\n".join(lines) + "\n"


def as_dict(result: Result) -> dict[str, object]:
    result = escaped_lint(result)
    return {
        "target": result.target,
        "files": list(result.files),
        "verdict": "PASS" if result.ok else "FAIL",
        "findings": [
            {
                "rule": f.rule.id,
                "title": f.rule.title,
                "level": f.rule.level,
                "path": f.path,
                "line": f.line,
                "message": f.message,
                "subject": f.subject,
                "fix": f.rule.fix,
                "waived": f.waived is not None,
                "waiver_reason": f.waived,
            }
            for f in result.findings
        ],
        "unused_waivers": [{"rule": r, "reason": why} for r, why in result.unused_waivers],
        "rules": [{"id": r.id, "title": r.title, "level": r.level, "why": r.why, "fix": r.fix} for r in result.rules],
    }


def json_text(result: Result) -> str:
    return json.dumps(as_dict(result), indent=2, sort_keys=True) + "\n"
