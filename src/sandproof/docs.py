"""README tables printed from the code, never typed by hand: the probe catalog, and the
mutation suite with the score of a real run (``scripts/readme.py`` writes both between
markers; ``tests/test_readme.py`` checks the README still says what the code says)."""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Mapping, Sequence
from typing import TypedDict

from sandproof import evidence, plan, profile, verify
from sandproof.inspector.catalog import OUTSIDE_PROBES, PROBES
from sandproof.report import text
from sandproof.selftest import Outcome
from sandproof.weaken import WEAKENINGS

PROBES_BEGIN, PROBES_END = "<!-- probes:begin (scripts/readme.py) -->", "<!-- probes:end -->"
SCORE_BEGIN, SCORE_END = "<!-- score:begin (scripts/readme.py) -->", "<!-- score:end -->"
EXAMPLE_BEGIN, EXAMPLE_END = "<!-- example:begin (scripts/readme.py) -->", "<!-- example:end -->"
EXAMPLE_BUNDLE = "tests/assets/bundles/docker-default-pass.json"
"""The real Docker run (recorded by tests/assets/record.py) the README's example output shows."""
EXAMPLE_RUN_DATE = "2026-11-28"
EXAMPLE_ROWS = ("PR-NET-1", "PR-ENV-1", "PR-MOUNT-1", "PR-DEV-1", "PR-SECCOMP-SWEEP", "PR-INTEGRITY-1")
EXAMPLE_WIDTH = 140
HARNESS_BEGIN, HARNESS_END = "<!-- harness:begin (scripts/readme.py) -->", "<!-- harness:end -->"
RECORDED = {
    "Docker": "tests/assets/bundles/docker-default-pass.json",
    "runc": "tests/assets/bundles/runc-default-pass.json",
}
"""The recorded real runs the README's harness figures are read from."""


def probe_table() -> str:
    """Every probe of the default plan: what it does, the row it proves, how many weakenings aim at it."""
    default = profile.load("default")
    layers = {p["probe_id"]: p["layer"] for p in plan.probes(default, "docker")}
    aimed = {pid: sum(w.probe_id == pid for w in WEAKENINGS) for pid in PROBES}
    lines = [
        "| probe | requirement | what it observes | enforced by | weakenings aimed at it |",
        "|---|---|---|---|---|",
    ]
    for pid, info in PROBES.items():
        layer = "build time (host)" if pid in OUTSIDE_PROBES else layers.get(pid, "-")
        lines.append(f"| {pid} | {info.requirement} | {info.operation} | {layer} | {aimed[pid]} |")
    return "\n".join(lines) + "\n"


def example_output(raw: bytes) -> str:
    """What ``attest`` prints for a real run (the recorded bundle ``raw``), a few rows of it: every
    count the README's example shows (mounts, devices, syscalls, PASS) is the run's own."""
    name = evidence.file_name("local", EXAMPLE_RUN_DATE)
    lines = text.render(verify.verify_bytes(raw, name, profile.load("default"))).splitlines()
    rows = [ln for ln in lines[1:] if ln.split(" ", 1)[0] in EXAMPLE_ROWS]
    shown = [lines[0], *rows, "...", *lines[-2:]]
    cut = [ln if len(ln) <= EXAMPLE_WIDTH else ln[: EXAMPLE_WIDTH - 4] + " ..." for ln in shown]
    command = f"$ sandproof attest --runtime docker --out out --run-date {EXAMPLE_RUN_DATE}"
    return "\n".join(["```", command, *cut, "```"]) + "\n"


def harness_figures(recorded: Mapping[str, bytes]) -> str:
    """The harness's own time and its largest costs, as the recorded real runs measured them
    (``RECORDED``: re-recorded whenever the inspector changes, so never older than it)."""
    runs = {engine: json.loads(raw) for engine, raw in recorded.items()}
    took = " and ".join(f"{run['harness']['duration_ms']:.0f} ms on {engine}" for engine, run in runs.items())
    engine, first = next(iter(runs.items()))
    probe = {p["probe_id"]: p for p in first["probes"]}
    sweep = probe["PR-SECCOMP-SWEEP"]
    attempts = re.search(r" in (\d+) attempts", sweep["reason"])
    counted = f"{int(attempts.group(1)):,} " if attempts else ""
    return (
        f"In the recorded runs (`tests/assets/bundles/`) the harness itself took\n**{took}** (the aim is "
        "≤ 150 ms). Probes that only read\n(`/proc`, `/sys`, `/dev`, the startup snapshot) run in the "
        "harness itself; the rest fork a child each.\nThe largest single costs "
        f"({engine}): hashing the mapped files for PR-INTEGRITY-1 ({probe['PR-INTEGRITY-1']['duration_ms']:.0f} ms) "
        f"and the {counted}seccomp sweep\nattempts in one child ({sweep['duration_ms']:.0f} ms).\n"
    )


def _cell(outcome: Outcome | None, runtime: str, name: str) -> str:
    w = next(x for x in WEAKENINGS if x.name == name)
    if runtime not in w.runtimes:
        return "not expressible"
    if outcome is None:
        return "not run"
    if outcome.no_effect is not None and not outcome.caught:
        shown = "target PASS" if outcome.started else "the engine refused to run it"
        return f"no effect here ({outcome.no_effect}; {shown})" if outcome.settled else "**NOT settled**"
    return "caught" if outcome.caught else "**NOT caught**"


def score_table(results: Mapping[str, Sequence[Outcome]]) -> str:
    """One row per weakening with its result on each runtime, then the score per runtime."""
    runtimes = sorted(results)
    by = {rt: {o.weakening.name: o for o in results[rt]} for rt in runtimes}
    head = "| weakening | must FAIL | " + " | ".join(runtimes) + " |"
    lines = [head, "|---|---|" + "---|" * len(runtimes)]
    for w in WEAKENINGS:
        cells = " | ".join(_cell(by[rt].get(w.name), rt, w.name) for rt in runtimes)
        lines.append(f"| `{w.name}`: {w.note} | {w.probe_id} | {cells} |")
    lines.append("")
    for rt in runtimes:
        counted = [o for o in results[rt] if o.caught or o.no_effect is None]
        caught = sum(o.caught for o in counted)
        idle = len(results[rt]) - len(counted)
        lines.append(
            f"- **{rt}: caught {caught}/{len(counted)}** single weakenings"
            + (f"; {idle} had no effect on this host (not counted)" if idle else "")
        )
    return "\n".join(lines) + "\n"


def splice(text: str, begin: str, end: str, body: str) -> str:
    """Replace what lies between two marker lines."""
    head, sep, rest = text.partition(begin)
    if not sep or end not in rest:
        raise ValueError(f"README lacks the markers {begin!r} ... {end!r}")
    return f"{head}{begin}\n{body}{end}{rest.split(end, 1)[1]}"


SPEED_BEGIN, SPEED_END = "<!-- speed:begin (scripts/readme.py --speed) -->", "<!-- speed:end -->"
SPEED_RECORD = "benchmarks/speed.json"
"""The raw times of the benchmark run the README's speed table is printed from
(``benchmarks/attest_vs_bare.py --json benchmarks/speed.json``, on a quiet machine)."""


class SpeedRow(TypedDict):
    """One runtime's interleaved pairs, seconds (``benchmarks/attest_vs_bare.py --json``)."""

    runtime: str
    bare_s: list[float]
    attest_s: list[float]
    harness_ms: list[float]
    """``harness.duration_ms`` of each attest's inside bundle: the harness's own time in the sandbox."""


class SpeedRun(TypedDict):
    """One benchmark run: its rows, and what the machine was doing (1, 5, 15 min load averages)."""

    rows: list[SpeedRow]
    load_before: list[float]
    load_after: list[float]
    cpus: int
    not_measured: dict[str, str]
    """runtime -> why it was not measured here (no cluster, not installed)."""


def speed_table(run: SpeedRun) -> str:
    """The benchmark's table: medians of the raw times and the per-pair ratio (attest / the bare run of its pair)."""
    lines = [
        "| runtime | bare run (median ms) | attest (median ms) | ratio (median of pairs, min-max) "
        "| harness inside (median ms) | reps |",
        "|---|---|---|---|---|---|",
    ]
    for row in run["rows"]:
        pairs = [a / b for a, b in zip(row["attest_s"], row["bare_s"], strict=True)]
        lines.append(
            f"| {row['runtime']} | {statistics.median(row['bare_s']) * 1000:.0f} "
            f"| {statistics.median(row['attest_s']) * 1000:.0f} "
            f"| {statistics.median(pairs):.2f}x ({min(pairs):.2f}-{max(pairs):.2f}) "
            f"| {statistics.median(row['harness_ms']):.0f} | {len(pairs)} |"
        )
    load = ", ".join(f"{x:.2f}" for x in run["load_before"]), ", ".join(f"{x:.2f}" for x in run["load_after"])
    lines += ["", f"- load average (1, 5, 15 min) on {run['cpus']} CPUs: {load[0]} before, {load[1]} after"]
    lines += [f"- {rt}: not measured: {why}" for rt, why in sorted(run["not_measured"].items())]
    return "\n".join(lines) + "\n"
