"""Seccomp, an allowlist judged whole: every syscall of the architecture outside the list must
get exactly the answer the plan derives from the profile (the default errno; a rule's or the
L2 guard's errno; ENOSYS past the last syscall the filter names), and every one inside it
must not get the default errno. Anything extra allowed or missing FAILs, named."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _answers(obs: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    table = obs.get("table")
    if not isinstance(table, dict):
        raise ValueError("no table sweep recorded")
    arch, answers = table.get("arch"), table.get("answers")
    if not isinstance(arch, str) or not isinstance(answers, dict):
        raise ValueError("a table sweep without its architecture or answers")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in answers.items()):
        raise ValueError(f"a malformed table answer: {str(answers)[:120]}")
    return arch, answers


def judge(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> tuple[list[str], list[str], str]:
    """(failures, errors, what was shown): the caller turns them into one verdict."""
    arch, got = _answers(obs)
    wants: Mapping[str, str | None] | None = expect["arches"].get(arch)
    if wants is None:
        return [], [f"the table sweep ran on {arch}, which the profile does not list"], ""
    default, kernel_eperm = expect["default"], set(expect["kernel_eperm"])
    missing = sorted(set(wants) - set(got))
    extra = sorted(set(got) - set(wants))
    if missing or extra:
        return [], [f"table sweep on {arch}: not tried {missing[:8]}, not planned {extra[:8]}"], ""
    let_in, kept_out = [], []
    denied = unproven = allowed = 0
    for name, want in wants.items():
        answer = got[name]
        if want is not None:
            denied += 1
            if answer != want:
                let_in.append(f"{name} answered {answer}, expected {want}")
            unproven += answer == "EPERM" and name in kernel_eperm
        elif answer == default and name not in kernel_eperm:
            kept_out.append(name)
        else:
            allowed += 1
    fails = []
    if let_in:
        fails.append(
            f"{len(let_in)} syscalls outside the allowlist not refused as the profile says on {arch}: "
            + "; ".join(let_in[:12])
        )
    if kept_out:
        fails.append(
            f"{len(kept_out)} syscalls the profile allows refused with {default} on {arch}: " + ", ".join(kept_out[:12])
        )
    said = (
        f"the whole {arch} table: {denied} syscalls outside the allowlist refused as configured ({unproven} "
        f"where the kernel says EPERM first), {allowed} allowed ones not refused with {default}"
    )
    return fails, [], said
