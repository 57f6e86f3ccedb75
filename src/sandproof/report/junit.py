"""JUnit XML: one testcase per probe, per check and per matrix row; a FAIL is a failure
naming the probe, the expected value, the actual value and the requirement."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from sandproof.inspector.wire import Verdict
from sandproof.matrix import UNDEFINED
from sandproof.report import escaped
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


def render_many(reports: list[Report]) -> str:
    root = ET.Element("testsuites", name="sandproof verify")
    for r in reports:
        root.append(_suite(r))
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def render(report: Report) -> str:
    return render_many([report])
