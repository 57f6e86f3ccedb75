"""README's probe list, mutation table, example output and harness figures are printed by the
code (scripts/readme.py), not typed by hand: they must still be what the code prints; every
other count the prose states is checked against the code here. Whether each weakening is caught
is proven on real engines by tests/test_engine.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sandproof import docs, profile, seccomp
from sandproof.inspector import syscalls
from sandproof.weaken import WEAKENINGS

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
PROSE = " ".join(README.split())  # a figure may wrap at any space


def _block(begin: str, end: str) -> str:
    return README.split(begin, 1)[1].split(end, 1)[0].lstrip("\n")


def test_probe_table_is_the_generated_one() -> None:
    assert _block(docs.PROBES_BEGIN, docs.PROBES_END) == docs.probe_table()


def test_mutation_table_lists_exactly_the_suite_all_caught() -> None:
    block = _block(docs.SCORE_BEGIN, docs.SCORE_END)
    rows = [ln for ln in block.splitlines() if ln.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == [w.name for w in WEAKENINGS]
    assert len(WEAKENINGS) >= 100
    assert "NOT caught" not in block
    assert "NOT settled" not in block
    assert "not run" not in block
    for w, row in zip(WEAKENINGS, rows, strict=True):
        assert f"| {w.probe_id} |" in row


def test_mutation_score_counts_every_weakening_each_runtime_expresses() -> None:
    block = _block(docs.SCORE_BEGIN, docs.SCORE_END)
    runtimes = block.splitlines()[0].strip("| ").split(" | ")[2:]
    assert {"docker", "runc"} <= set(runtimes), runtimes  # the engines CI has, at least
    for rt in runtimes:
        found = re.search(rf"\*\*{rt}: caught (\d+)/(\d+)\*\* single weakenings(?:; (\d+) had no effect)?", block)
        assert found, rt
        caught, counted, idle = int(found[1]), int(found[2]), int(found[3] or 0)
        assert caught == counted
        assert counted + idle == sum(rt in w.runtimes for w in WEAKENINGS), rt


def test_example_output_is_a_recorded_run() -> None:
    raw = (ROOT / docs.EXAMPLE_BUNDLE).read_bytes()
    assert _block(docs.EXAMPLE_BEGIN, docs.EXAMPLE_END) == docs.example_output(raw)


def test_harness_figures_are_the_recorded_runs() -> None:
    recorded = {engine: (ROOT / path).read_bytes() for engine, path in docs.RECORDED.items()}
    assert _block(docs.HARNESS_BEGIN, docs.HARNESS_END) == docs.harness_figures(recorded)


def test_counts_in_the_prose_are_the_code_s() -> None:
    recorded = json.loads((ROOT / docs.EXAMPLE_BUNDLE).read_bytes())
    assert f"{len(recorded['probes'])}-probe bundles" in PROSE  # verify_throughput's copies of it
    learned = profile.load("learned-example")
    names, allowed = len(learned.seccomp.allow["x86_64"]), len(seccomp.allowed(learned, "x86_64"))
    table = len(syscalls.TABLES["x86_64"])
    assert f"| {names} / {allowed} of {table} |" in README
    assert f"`learned-example`: {names} names learned, {allowed} with the runtime's and the harness's floors" in PROSE
    swept = re.findall(r"\| \d+ of (\d+) \(", README)  # Docker's default profile, swept over the same table
    assert swept
    assert all(int(of) == table for of in swept)
    assert f"all {len(profile.load('default').resources.ulimits)} rlimits" in PROSE
    examples = re.findall(r"max_examples=([\d_]+)", (ROOT / "tests" / "test_verify_property.py").read_text())
    tampered, edits = (int(n) for n in examples)
    assert f"generates {tampered:,} tampered or malformed bundles" in PROSE
    assert f"and {edits:,} one-field edits" in PROSE


def test_speed_table_is_a_benchmark_run() -> None:
    # written by `scripts/readme.py --speed` from the raw times of benchmarks/attest_vs_bare.py --json
    run = json.loads((ROOT / docs.SPEED_RECORD).read_bytes())
    assert _block(docs.SPEED_BEGIN, docs.SPEED_END) == docs.speed_table(run)
