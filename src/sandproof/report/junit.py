"""JUnit XML: one testcase per probe, per check and per matrix row; a FAIL is a failure
naming the probe, the expected value, the actual value and the requirement."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from sandproof.inspector.wire import Verdict
from sandproof.matrix import UNDEFINED
from sandproof.report import escaped, visible
from sandproof.report.fleet import Unreadable
from sandproof.verify import Report


def _suite(report: Report) -> ET.Element:
    report = escaped(report)  # XML 1.0 cannot even carry most C0 controls
    suite = ET.Element("testsuite", name=f"sandproof {report.source}")
    cases: list[tuple[str, str, str, str]] = []
    for p in report.probes:
        detail = (
            f"probe {p.probe_id} (requirement {p.requirement}, layer {p.layer}): expected "
            f"{json.dumps(p.expected, sort_keys=True)}; actual {p.actual!r}; {p.reason}"
        )
        cases.append((f"probe.{p.probe_id}", p.probe_id, p.verdict, detail))
    cases += [(f"check.{c.name}", c.name, c.verdict, c.reason) for c in report.checks]
    cases += [(f"matrix.{report.matrix}", r.row.id, r.verdict, f"{r.row.title}: {r.reason}") for r in report.rows]
    failures = skipped = 0
    for classname, name, verdict, detail in cases:
        case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
        if verdict == UNDEFINED:
            skipped += 1
            ET.SubElement(case, "skipped", message=detail)
        elif verdict != Verdict.PASS:
            failures += 1
            ET.SubElement(case, "failure", message=f"{verdict}: {detail}"[:1000], type=verdict).text = detail
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    return suite


def _unread(bundle: Unreadable) -> ET.Element:
    """A bundle that could not be read: a suite of one errored case naming the file and why (never left out)."""
    source, why = visible(bundle.source), visible(bundle.why)
    suite = ET.Element("testsuite", name=f"sandproof {source}", tests="1", failures="0", errors="1", skipped="0")
    case = ET.SubElement(suite, "testcase", classname="bundle", name=source, time="0")
    ET.SubElement(case, "error", message=f"unreadable: {why}"[:1000], type="unreadable").text = why
    return suite


def render_many(reports: list[Report], *, unreadable: Sequence[Unreadable] = ()) -> str:
    root = ET.Element("testsuites", name="sandproof verify")
    for r in reports:
        root.append(_suite(r))
    for u in unreadable:
        root.append(_unread(u))
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def render(report: Report) -> str:
    return render_many([report])
