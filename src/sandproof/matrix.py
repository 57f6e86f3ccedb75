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


def _probe(value: str) -> str | None:
    return None if value in PROBES else f"a probe ID of the catalog, got unknown probe {value!r}{hint(value, PROBES)}"


@dataclass(frozen=True)
class Row:
    id: str
    title: str = UNDEFINED_TITLE
    probes: tuple[str, ...] = field(default=(), metadata=key(check=_probe))
    defined: bool = True


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


def load(ref: str) -> Matrix:
    text, source = tomldata.read(ref, package="sandproof.matrices", shipped=SHIPPED, what="matrix", error=MatrixError)
    return parse(text, source)


def parse(text: str, source: str) -> Matrix:
    data = tomldata.loads(text, source=source, what="matrix", error=MatrixError)
    table = Table(data, source, what="matrix", error=MatrixError)
    loaded = tomldata.build(Matrix, table)
    for i, row in enumerate(loaded.rows):
        if row.defined and not row.probes:
            raise MatrixError(f"matrix {source}: key 'row[{i}].probes': expected at least one probe in a defined row")
    return loaded


def judge_rows(matrix: Matrix, verdicts: Mapping[str, str]) -> list[RowResult]:
    """Bind probe verdicts to rows. ``verdicts`` maps probe ID to its recomputed verdict;
    a probe absent from it had no evidence."""
    results = []
    for row in matrix.rows:
        if not row.defined:
            # the title says "not defined by the source" unless the matrix gave one: never twice
            said = "" if row.title == UNDEFINED_TITLE else "not defined by the source: "
            results.append(RowResult(row, UNDEFINED, f"{said}not attested, not counted as PASS"))
            continue
        missing = [p for p in row.probes if p not in verdicts]
        bad = [f"{p} {verdicts[p]}" for p in row.probes if p in verdicts and verdicts[p] != judge.PASS]
        if missing:
            results.append(RowResult(row, judge.FAIL, f"no evidence for {', '.join(missing)}"))
        elif bad:
            worst = judge.FAIL if any(v.endswith((judge.FAIL, judge.ERROR)) for v in bad) else judge.UNVERIFIED
            results.append(RowResult(row, worst, "; ".join(bad)))
        else:
            results.append(RowResult(row, judge.PASS, f"{', '.join(row.probes)} PASS"))
    return results
