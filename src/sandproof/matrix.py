"""Requirement matrices as data: rows bound to probes.

A row the source does not define is kept and shown as such; it is never dropped and
never counted as PASS. A row whose probes are missing from the evidence FAILs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sandproof import contract, tomldata
from sandproof.errors import Error
from sandproof.inspector import judge
from sandproof.inspector.catalog import PROBES
from sandproof.tomldata import Table, hint, key

SHIPPED = contract.SHIPPED_MATRICES
UNDEFINED = "UNDEFINED"
UNDEFINED_TITLE = "not defined by the source"


class MatrixError(Error):
    """A matrix file is missing or malformed."""


BOUND_CHECKS = ("engine-view", "rendered")
"""Bundle-level checks a row may be bound to beside its probes (verify's check names)."""


def _probe(value: str) -> str | None:
    return None if value in PROBES else f"a probe ID of the catalog, got unknown probe {value!r}{hint(value, PROBES)}"


def _check(value: str) -> str | None:
    known = ", ".join(BOUND_CHECKS)
    return None if value in BOUND_CHECKS else f"one of {known}, got unknown check {value!r}{hint(value, BOUND_CHECKS)}"


@dataclass(frozen=True)
class Row:
    id: str
    title: str = UNDEFINED_TITLE
    probes: tuple[str, ...] = field(default=(), metadata=key(check=_probe))
    defined: bool = True
    checks: tuple[str, ...] = field(default=(), metadata=key(check=_check))
    """Bundle-level checks that prove the row from outside (the engine's own view)."""


@dataclass(frozen=True)
class Matrix:
    name: str
    rows: tuple[Row, ...] = field(metadata=key(toml="row", nonempty=True))
    description: str = ""


@dataclass(frozen=True)
class RowResult:
    row: Row
    verdict: str
    reason: str

    def __init__(self, row: Row, verdict: str, reason: str) -> None:
        # as verify.ProbeResult's: one dict update, not object.__setattr__ per field (a row each)
        self.__dict__.update(row=row, verdict=verdict, reason=reason)


def load(ref: str) -> Matrix:
    text, source = tomldata.read(ref, package="sandproof.matrices", shipped=SHIPPED, what="matrix", error=MatrixError)
    return parse(text, source)


def parse(text: str, source: str) -> Matrix:
    data = tomldata.loads(text, source=source, what="matrix", error=MatrixError)
    table = Table(data, source, what="matrix", error=MatrixError)
    loaded = tomldata.build(Matrix, table)
    for i, row in enumerate(loaded.rows):
        if row.defined and not row.probes and not row.checks:
            raise MatrixError(f"matrix {source}: key 'row[{i}].probes': expected at least one probe in a defined row")
    return loaded


def judge_rows(matrix: Matrix, verdicts: Mapping[str, str], checks: Mapping[str, str] | None = None) -> list[RowResult]:
    """Bind probe verdicts to rows. ``verdicts`` maps probe ID to its recomputed verdict;
    a probe absent from it had no evidence. ``checks`` maps a bundle-level check's name to
    its verdict; a row bound only to checks the verification did not make (an older bundle
    without the engine's view) is not attested and not counted, as an undefined row."""
    results = []
    checks = checks or {}
    bound = {**verdicts, **{c: checks[c] for c in BOUND_CHECKS if c in checks}}
    for row in matrix.rows:
        if not row.defined:
            # the title says "not defined by the source" unless the matrix gave one: never twice
            said = "" if row.title == UNDEFINED_TITLE else "not defined by the source: "
            results.append(RowResult(row, UNDEFINED, f"{said}not attested, not counted as PASS"))
            continue
        made = [c for c in row.checks if c in checks] if row.checks else []
        if row.checks and not row.probes and not made:
            why = f"no {', '.join(row.checks)} in this bundle (it predates it): not attested, not counted as PASS"
            results.append(RowResult(row, UNDEFINED, why))
            continue
        names = (*row.probes, *made)
        missing = [p for p in names if p not in bound]
        bad = [f"{p} {bound[p]}" for p in names if p in bound and bound[p] != judge.PASS]
        if missing:
            results.append(RowResult(row, judge.FAIL, f"no evidence for {', '.join(missing)}"))
        elif bad:
            worst = judge.FAIL if any(v.endswith((judge.FAIL, judge.ERROR)) for v in bad) else judge.UNVERIFIED
            results.append(RowResult(row, worst, "; ".join(bad)))
        else:
            results.append(RowResult(row, judge.PASS, f"{', '.join(names)} PASS"))
    return results
