"""README tables printed from the code, never typed by hand: the probe catalog, and the
mutation suite with the score of a real run (``scripts/readme.py`` writes both between
markers; ``tests/test_readme.py`` checks the README still says what the code says)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sandproof import plan, profile
from sandproof.inspector.catalog import OUTSIDE_PROBES, PROBES
from sandproof.selftest import Outcome
from sandproof.weaken import WEAKENINGS

PROBES_BEGIN, PROBES_END = "<!-- probes:begin (scripts/readme.py) -->", "<!-- probes:end -->"
SCORE_BEGIN, SCORE_END = "<!-- score:begin (scripts/readme.py) -->", "<!-- score:end -->"


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
