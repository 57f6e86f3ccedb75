"""Judges of the seccomp filter by behaviour: the sweep of every denied call by argument
class and at random, and the foreign syscall ABIs (i386 ``int 0x80``, x32)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .verdicts import ERROR, FAIL, PASS, UNVERIFIED, Verdict


def _attempts(obs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    attempts = obs.get("attempts")
    if not isinstance(attempts, list) or not all(isinstance(a, dict) for a in attempts):
        raise ValueError("no sweep attempts recorded")
    for a in attempts:
        if not isinstance(a.get("name"), str) or not isinstance(a.get("class"), str) or type(a.get("ret")) is not int:
            raise ValueError(f"a sweep attempt without name, class or return value: {str(a)[:120]}")
    return attempts


def _answer(a: Mapping[str, Any]) -> str:
    err = a.get("errno")
    return err if isinstance(err, str) and a["ret"] < 0 else f"returned {a['ret']}"


def sweep(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Verdict:
    """Every attempt must get the profile's errno; every required class must have been tried."""
    attempts, want = _attempts(obs), expect["errno"]
    unplanned = sorted({a["name"] for a in attempts} - set(want))
    if unplanned:
        return Verdict(ERROR, f"attempts on calls the plan does not deny: {unplanned}")
    wrong = []
    for a in attempts:
        if a["ret"] >= 0 or a.get("errno") != want[a["name"]]:
            args = f" {a['args']}" if a["class"] == "random" else ""
            wrong.append(f"{a['name']}({a['class']}{args}) {_answer(a)}, expected {want[a['name']]}")
    if wrong:
        return Verdict(
            FAIL, f"{len(wrong)} of {len(attempts)} attempts not denied as configured: {'; '.join(wrong[:8])}"
        )
    tried = {(a["name"], a["class"]) for a in attempts}
    missing = [f"{n}/{c}" for n, classes in sorted(expect["classes"].items()) for c in classes if (n, c) not in tried]
    drawn = {n: sum(1 for a in attempts if a["name"] == n and a["class"] == "random") for n in expect["random"]}
    short = [f"{n} ({drawn[n]} of {k})" for n, k in sorted(expect["random"].items()) if drawn[n] < int(k)]
    if missing or short:
        return Verdict(ERROR, f"not tried: classes {missing[:8]}, random draws {short}")
    fixed = [a for a in attempts if a["class"] != "random"]
    indistinct = set(expect.get("indistinct", []))
    proven = sum(1 for a in fixed if f"{a['name']}/{a['class']}" not in indistinct)
    return Verdict(
        PASS,
        f"{len(want)} syscalls denied as configured in {len(attempts)} attempts ({len(fixed)} argument classes, "
        f"{len(attempts) - len(fixed)} drawn at random; {proven} classes with arguments the kernel itself "
        f"would have answered differently, {len(fixed) - proven} where it says EPERM first)",
    )


def _refusal(entry: object) -> tuple[str, str]:
    """(PASS, FAIL or UNVERIFIED as if refusal were wanted, how) for one foreign-ABI attempt."""
    if not isinstance(entry, dict):
        raise ValueError("no attempt recorded")
    sig, ret = entry.get("signal"), entry.get("ret")
    if sig == "SIGSYS":
        return PASS, "killed by SIGSYS"
    if isinstance(sig, str):  # e.g. SIGSEGV: this kernel has no 32-bit entry at all (ia32_emulation=0)
        return UNVERIFIED, f"killed by {sig}: the kernel refused it before any filter could be seen"
    if type(ret) is not int:
        raise ValueError(f"neither a signal nor a return value: {str(entry)[:120]}")
    if ret >= 0:
        return FAIL, f"returned {ret}: the call ran"
    err = entry.get("errno")
    if err == "ENOSYS":  # what the kernel itself answers for an ABI it lacks: the filter let it through
        return FAIL, "ENOSYS: it reached the kernel, which lacks this ABI; the filter let it through"
    return PASS, f"refused with {err}"


def abi(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Verdict:
    """The foreign ABIs the profile's architectures leave out must be refused by the filter."""
    arch = obs.get("arch")
    if arch == "aarch64":
        return Verdict(
            PASS,
            "aarch64: there is no int 0x80 or x32 ABI to try; AArch32 is entered only by executing a 32-bit "
            "binary (denied, see PR-EXEC-1), so the filter's own architecture check is not exercised here",
        )
    if arch != "x86_64":
        return Verdict(ERROR, f"no foreign-ABI observation for architecture {arch!r}")
    results = obs.get("abis")
    if not isinstance(results, dict):
        return Verdict(ERROR, "no foreign-ABI attempts recorded")
    found: dict[str, list[str]] = {PASS: [], FAIL: [], UNVERIFIED: []}
    for name, allowed in sorted(expect["allowed"].items()):
        verdict, how = _refusal(results.get(name))
        if allowed:  # listed in the profile's architectures: it must reach the kernel
            verdict = FAIL if verdict == PASS else PASS if verdict == FAIL else verdict
        found[verdict].append(f"{name} {how} ({'' if allowed else 'not '}in the profile's architectures)")
    for verdict in (FAIL, UNVERIFIED):
        if found[verdict]:
            return Verdict(verdict, "; ".join(found[verdict]))
    return Verdict(PASS, "; ".join(found[PASS]) + "; observed at startup, before the harness's own filter")


SECCOMP_JUDGES: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], Verdict]] = {"sweep": sweep, "abi": abi}
