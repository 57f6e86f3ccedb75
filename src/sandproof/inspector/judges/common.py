"""What every judge shares: the verdicts, the errno judge of every denial probe, strict integers.

Judges are pure functions on JSON (stdlib only, never raise past ``judge.judge``, never
PASS what they cannot read); nothing under ``judges/`` may import probing code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..wire import Judgement, Verdict  # noqa: TID252 - the image names the package "inspector"

__all__ = ["ERROR", "FAIL", "PASS", "UNVERIFIED", "Judge", "Judgement", "Verdict", "errno_in", "obj", "strict_int"]

PASS = Verdict.PASS
FAIL = Verdict.FAIL
ERROR = Verdict.ERROR
UNVERIFIED = Verdict.UNVERIFIED
Judge = Callable[[Mapping[str, Any], Mapping[str, Any]], Judgement]
"""(expectation, observation) -> Judgement."""


DONE_KEYS = frozenset({"outcome", "errno"})
"""What a probe records of a call that succeeded (probes/filesystem.py write, probes/seccomp.py
thread): its outcome and an errno of None; nothing else."""


def done_as_recorded(obs: Mapping[str, Any]) -> Judgement | None:
    """ERROR when a success is recorded with an errno or more than the probe writes, else None."""
    if obs.get("errno") is not None or not set(obs) <= DONE_KEYS:
        extra = sorted(set(obs) - DONE_KEYS)
        said = f"a success recorded with errno {obs.get('errno')!r} and {extra}"
        return Judgement(ERROR, f"{said}: no record the probe makes")
    return None


def errno_in(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    allowed = expect.get("errno_in")
    outcome, err = obs.get("outcome"), obs.get("errno")
    if not isinstance(allowed, list) or not allowed:
        return Judgement(ERROR, "expectation has no errno set")
    if outcome == "error" and isinstance(err, str):
        if err in allowed:
            return Judgement(PASS, f"denied with {err}")
        return Judgement(FAIL, f"failed with {err}, expected one of {', '.join(allowed)}")
    if isinstance(outcome, str) and outcome != "error":
        return Judgement(FAIL, f"{outcome}: the operation was not denied (expected {', '.join(allowed)})")
    return Judgement(ERROR, "observation has no outcome")


def strict_int(text: object) -> int:
    """An integer as the kernel prints it: ASCII digits with an optional minus sign, nothing
    else. ``int()`` would take " 64", "6_4", "+64" and Arabic-Indic digits; ``float()`` would
    take "nan", which compares unequal to everything and so never looks too large."""
    if type(text) is int:
        return text
    if not isinstance(text, str):
        raise ValueError(f"{str(text)[:40]!r} is not an integer")
    digits = text[1:] if text[:1] == "-" else text
    # isdigit() alone takes "²" and other digits; with isascii() it is [0-9] exactly (at
    # most 20 of them: the widest 64-bit number)
    if not (0 < len(digits) <= 20 and digits.isascii() and digits.isdigit()):
        raise ValueError(f"{str(text)[:40]!r} is not an integer")
    return int(text)


def obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
