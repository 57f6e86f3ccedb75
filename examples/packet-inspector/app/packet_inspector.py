"""Packet inspector: the draft's own workload (seed: a packet dropped in /in, a report in /out).

Reads every ``/in/*.json``, validates each packet and writes ``/out/report.json``. Standard
library only, no network, no subprocess: what a sandboxed job that checks untrusted input
looks like. Exit 0: every packet valid; 1: some packet invalid (the report says which and
why); 2: the input or output directory could not be used.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

MAX_BYTES = 64 * 1024
FIELDS = {"packet": str, "source": str, "seq": int, "payload": str}
REQUIRED = ("packet",)
MAX_TEXT = 4096


class Invalid(ValueError):
    """A packet that does not pass; the message says why, for the report."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise Invalid(f"duplicate key {dup[0]!r}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise Invalid(f"non-finite number {name}")


def validate(data: bytes) -> dict[str, Any]:
    """The packet as a dict, or Invalid naming the first problem found."""
    if len(data) > MAX_BYTES:
        raise Invalid(f"{len(data)} bytes, more than {MAX_BYTES}")
    try:
        text = data.decode("utf-8")
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise Invalid(f"not UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise Invalid(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise Invalid("nested too deeply") from None
    if not isinstance(obj, dict):
        raise Invalid(f"a JSON {type(obj).__name__}, not an object")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise Invalid(f"unknown field {unknown[0]!r} (allowed: {', '.join(sorted(FIELDS))})")
    for key in REQUIRED:
        if key not in obj:
            raise Invalid(f"missing field {key!r}")
    for key, value in obj.items():
        want = FIELDS[key]
        if type(value) is not want:  # bool is an int subclass: refuse it for seq
            raise Invalid(f"field {key!r} is {type(value).__name__}, not {want.__name__}")
        if isinstance(value, str) and not (0 < len(value) <= MAX_TEXT and value.isprintable()):
            raise Invalid(f"field {key!r} must be 1..{MAX_TEXT} printable characters")
        if isinstance(value, int) and value < 0:
            raise Invalid(f"field {key!r} is negative")
    return obj


def inspect(in_dir: Path) -> dict[str, Any]:
    results = []
    for path in sorted(in_dir.glob("*.json")):
        try:
            packet = validate(path.read_bytes())
        except Invalid as exc:
            results.append({"file": path.name, "valid": False, "reason": str(exc)})
        else:
            results.append({"file": path.name, "valid": True, "packet": packet["packet"]})
    bad = sum(1 for r in results if not r["valid"])
    return {"schema": "packet-inspector/report/v1", "total": len(results), "invalid": bad, "packets": results}


def write_atomic(dest: Path, data: bytes) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, dest)


def main(argv: list[str]) -> int:
    in_dir = Path(argv[0]) if argv else Path("/in")
    out_dir = Path(argv[1]) if len(argv) > 1 else Path("/out")
    try:
        report = inspect(in_dir)
        write_atomic(out_dir / "report.json", json.dumps(report, indent=2, sort_keys=True).encode() + b"\n")
    except OSError as exc:
        print(f"packet-inspector: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"packet-inspector: {report['total']} packets, {report['invalid']} invalid")
    return 1 if report["invalid"] else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
