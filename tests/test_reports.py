"""Reports: JUnit XML valid against a JUnit schema, Markdown that renders as tables,
JSON with reasons, and every FAIL naming probe, expected, actual and requirement."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import xmlschema
from markdown_it import MarkdownIt

from sandproof import matrix, profile, verify
from sandproof.report import json as json_report
from sandproof.report import junit, markdown, text
from tests.conftest import ASSETS, asset_json

DEFAULT = profile.load("default")
REV4 = matrix.load("b4-prime-rev4")


def _reports() -> list[verify.Report]:
    names = ("docker-default-pass", "runc-default-pass", "docker-weak-host-network", "seed-v1-docker-default")
    return [verify.verify(asset_json(f"{n}.json"), DEFAULT, source=n, matrix=REV4) for n in names]


def test_junit_is_valid_and_names_every_failure() -> None:
    schema = xmlschema.XMLSchema(str(ASSETS / "junit.xsd"))
    xml = junit.render_many(_reports())
    schema.validate(xml)
    root = ET.fromstring(xml)  # noqa: S314 - our own output
    suites = root.findall("testsuite")
    assert len(suites) == 4
    weak = suites[2]
    assert int(weak.get("failures", "0")) >= 1
    failure = next(c for c in weak.iter("testcase") if c.get("name") == "PR-NET-2").find("failure")
    assert failure is not None
    msg = failure.get("message", "")
    assert "PR-NET-2" in msg
    assert "#27" in msg
    assert "interfaces_subset" in msg
    assert "eth0" in msg
    # rev4 rows the source does not define are skipped, never passed
    skipped = [c.get("name") for c in suites[0].iter("testcase") if c.find("skipped") is not None]
    assert skipped == ["#24", "#26", "#30", "#31", "#32"]


def test_markdown_renders_tables() -> None:
    md = MarkdownIt("commonmark").enable("table")
    for report in _reports():
        tokens = md.parse(markdown.render(report))
        assert sum(t.type == "table_open" for t in tokens) == 3  # probes, checks, matrix rows
        assert (
            sum(t.type == "tr_open" for t in tokens) == len(report.probes) + len(report.checks) + len(report.rows) + 3
        )
        for line in markdown.render(report).splitlines():  # every row has its header's cell count
            if line.startswith("| PR-"):
                assert line.replace("\\|", "").count("|") == 8, line
    many = md.parse(markdown.render_many(_reports()))
    assert sum(t.type == "table_open" for t in many) == 4 + 3 * 4  # bundles, runtime x probe, venue/node, requirements


def test_markdown_cells_cannot_break_the_table(docker_pass: dict[str, Any]) -> None:
    report = verify.verify(docker_pass, DEFAULT, source="a|b`c\nd")
    out = markdown.render(report)
    md = MarkdownIt("commonmark").enable("table")
    assert sum(t.type == "table_open" for t in md.parse(out)) == 3


def test_json_report_has_reasons() -> None:
    data = json.loads(json_report.render_many(_reports()))
    assert data["verdict"] == "FAIL"
    weak = data["bundles"][2]
    net2 = next(p for p in weak["probes"] if p["probe_id"] == "PR-NET-2")
    assert net2["verdict"] == "FAIL"
    assert net2["requirement"] == "#27"
    assert "eth0" in net2["reason"]
    assert data["per_requirement"]["#24"] == {"UNDEFINED": 4}
    assert set(data["per_venue"]) == {"local", "unknown"}


def test_text_colour_only_when_asked(docker_pass: dict[str, Any]) -> None:
    report = verify.verify(docker_pass, DEFAULT)
    assert "\033[" not in text.render(report)
    assert "\033[32mPASS\033[0m" in text.render(report, colour=True)
