"""The fleet view of many verifications: a runtime x probe matrix and a per-venue/per-node table.

Keyed on the strings the bundles record (the evidence's ``runtime``, ``venue`` and
``venue_identity.node``), so a runtime this tool learns later gets its own column without
a list here; a bundle that names none is "unknown". Those strings came from the bundles:
reports are built from ``escaped`` reports only. The fleet PASSes only when every bundle
given was read and PASSes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sandproof.inspector.wire import Verdict
from sandproof.report import visible
from sandproof.verify import Report

BUNDLE_ROW = "[bundle]"
"""The matrix row of whole-bundle verdicts (probes, checks and matrix rows together)."""
ABSENT = "-"
"""A cell no bundle of that runtime records (another runtime's plan, or a bundle that never ran)."""
WORST_FIRST = (Verdict.FAIL, Verdict.ERROR, Verdict.UNVERIFIED, Verdict.PASS)


@dataclass(frozen=True)
class Unreadable:
    """A bundle given that could not be judged: every multi-bundle report names it, with why."""

    source: str
    """The file, as given on the command line or found below a directory."""
    why: str
    """The reading's own message (a BundleError's: not JSON, no known schema, too large ...)."""


@dataclass(frozen=True)
class Place:
    """One venue and node, with what its bundles say."""

    venue: str
    node: str
    runtimes: tuple[str, ...]
    """The runtimes its bundles record, sorted."""
    bundles: int
    passed: int
    """Bundles whose whole verdict is PASS; the rest FAIL."""


@dataclass(frozen=True)
class Fleet:
    runtimes: tuple[str, ...]
    """Every runtime recorded, sorted: the matrix's columns."""
    probes: tuple[str, ...]
    """Every probe judged, in the order the bundles list them: the matrix's rows."""
    cells: Mapping[str, Mapping[str, Mapping[str, int]]]
    """Probe id (or ``BUNDLE_ROW``) -> runtime -> verdict -> how many bundles."""
    places: tuple[Place, ...]
    unreadable: tuple[Unreadable, ...]
    """Bundles given that could not be read (refused before any verdict), each with why."""

    @property
    def failing(self) -> int:
        return sum(p.bundles - p.passed for p in self.places)

    @property
    def verdict(self) -> Verdict:
        every = self.places and not self.unreadable and self.failing == 0
        return Verdict.PASS if every else Verdict.FAIL

    def cell(self, probe: str, runtime: str) -> str:
        return cell_text(self.cells.get(probe, {}).get(runtime, {}))


def cell_text(counts: Mapping[str, int]) -> str:
    """ "PASS" when every bundle agrees, else the worst verdict with its count ("FAIL 1/3")."""
    total = sum(counts.values())
    if not total:
        return ABSENT
    worst = next((str(v) for v in WORST_FIRST if counts.get(v)), "/".join(sorted(counts)))
    n = counts.get(worst, total)
    return worst if n == total else f"{worst} {n}/{total}"


def build(reports: Sequence[Report], unreadable: Sequence[Unreadable] = ()) -> Fleet:
    """The fleet of these (escaped) reports and the bundles that were unreadable (escaped here)."""
    cells: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    probes: dict[str, None] = {}
    places: dict[tuple[str, str], list[Report]] = defaultdict(list)
    for r in reports:
        for p in r.probes:
            probes.setdefault(p.probe_id)
            cells[p.probe_id][r.runtime][str(p.verdict)] += 1
        cells[BUNDLE_ROW][r.runtime][str(r.verdict)] += 1
        places[r.venue, r.node].append(r)
    return Fleet(
        runtimes=tuple(sorted({r.runtime for r in reports})),
        probes=tuple(probes),
        cells={k: {rt: dict(c) for rt, c in v.items()} for k, v in cells.items()},
        places=tuple(
            Place(
                venue,
                node,
                tuple(sorted({r.runtime for r in rs})),
                len(rs),
                sum(r.verdict == Verdict.PASS for r in rs),
            )
            for (venue, node), rs in sorted(places.items())
        ),
        unreadable=tuple(Unreadable(visible(u.source), visible(u.why)) for u in unreadable),
    )


def rows(fleet: Fleet) -> list[tuple[str, ...]]:
    """The matrix as rows of text: a header, one row per probe, then the bundle row."""
    out: list[tuple[str, ...]] = [("PROBE", *fleet.runtimes)]
    out += [(pid, *(fleet.cell(pid, rt) for rt in fleet.runtimes)) for pid in (*fleet.probes, BUNDLE_ROW)]
    return out


def place_rows(fleet: Fleet) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [("VENUE", "NODE", "RUNTIMES", "BUNDLES", Verdict.PASS, Verdict.FAIL)]
    out += [
        (p.venue, p.node, ",".join(p.runtimes), str(p.bundles), str(p.passed), str(p.bundles - p.passed))
        for p in fleet.places
    ]
    return out


def summary(fleet: Fleet) -> str:
    """The fleet's verdict line: "PASS: 2 bundles, 0 failing" (and the unreadable, if any)."""
    n = len(fleet.unreadable)
    total = sum(p.bundles for p in fleet.places) + n
    unread = f", {n} unreadable" if n else ""
    return f"{fleet.verdict}: {total} bundles, {fleet.failing} failing{unread}"


def as_dict(fleet: Fleet) -> dict[str, object]:
    return {
        "verdict": fleet.verdict,
        "summary": summary(fleet),
        "runtimes": list(fleet.runtimes),
        "matrix": {pid: {rt: dict(c) for rt, c in by_rt.items()} for pid, by_rt in fleet.cells.items()},
        "per_node": [
            {
                "venue": p.venue,
                "node": p.node,
                "runtimes": list(p.runtimes),
                "bundles": p.bundles,
                "pass": p.passed,
                "fail": p.bundles - p.passed,
            }
            for p in fleet.places
        ],
        "unreadable": [{"source": u.source, "why": u.why} for u in fleet.unreadable],
    }
