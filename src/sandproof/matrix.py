"""Requirement matrices as data: rows bound to probes.

A row the source does not define is kept and shown as such; it is never dropped and
never counted as PASS. A row whose probes are missing from the evidence FAILs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sandproof import contract, tomldata
from sandproof.errors import Error
from sandproof.inspector import judge
from sandproof.inspector.catalog import PROBES

SHIPPED = contract.SHIPPED_MATRICES
UNDEFINED = "UNDEFINED"


class MatrixError(Error):
    """A matrix file is missing or malformed."""


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    probes: tuple[str, ...]
    defined: bool


@dataclass(frozen=True)
class Matrix:
    name: str
    description: str
    rows: tuple[Row, ...]


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
    rows = data.get("row")
    if not isinstance(data.get("name"), str) or not isinstance(rows, list) or not rows:
        raise MatrixError(f"matrix {source}: expected a 'name' string and a non-empty [[row]] list")
    out = []
    for i, r in enumerate(rows):
        where = f"matrix {source}: row[{i}]"
        if not isinstance(r, dict) or not isinstance(r.get("id"), str):
            raise MatrixError(f"{where}: expected a table with a string 'id'")
        unknown = set(r) - {"id", "title", "probes", "defined"}
        if unknown:
            raise MatrixError(f"{where}: unknown key(s) {sorted(unknown)}; expected id, title, probes, defined")
        defined = r.get("defined", True)
        probes = r.get("probes", [])
        if not isinstance(defined, bool) or not isinstance(probes, list) or not all(isinstance(p, str) for p in probes):
            raise MatrixError(f"{where} ({r['id']}): 'defined' must be true/false and 'probes' a list of probe IDs")
        if defined and not probes:
            raise MatrixError(f"{where} ({r['id']}): a defined row must name at least one probe")
        stray = [p for p in probes if p not in PROBES]
        if stray:
            raise MatrixError(f"{where} ({r['id']}): unknown probe(s) {stray}")
        title = r.get("title", "not defined by the source")
        out.append(Row(r["id"], str(title), tuple(probes), defined))
    return Matrix(data["name"], str(data.get("description", "")), tuple(out))


def judge_rows(matrix: Matrix, verdicts: Mapping[str, str]) -> list[RowResult]:
    """Bind probe verdicts to rows. ``verdicts`` maps probe ID to its recomputed verdict;
    a probe absent from it had no evidence."""
    results = []
    for row in matrix.rows:
        if not row.defined:
            results.append(RowResult(row, UNDEFINED, "not defined by the source: not attested, not counted as PASS"))
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
