"""Seccomp, judged by behaviour: the sweep of every denied call by argument class and at random,
the foreign syscall ABIs (i386 ``int 0x80``, x32), the denied exec and ptrace, and the thread
that must still start (clone3 must fall back to clone: moby#42681)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from itertools import repeat
from typing import Any

from ..syscalls import TABLES  # noqa: TID252 - the image names the package "inspector"
from . import table
from .common import ERROR, FAIL, PASS, UNVERIFIED, Judge, Judgement, done_as_recorded, errno_in
from .draws import SPACES


def _attempts(obs: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], set[str]]:
    """The attempts, each with a name, a class and a return value, and the names tried."""
    attempts = obs.get("attempts")
    if not isinstance(attempts, list) or not all(map(isinstance, attempts, repeat(dict))):
        raise ValueError("no sweep attempts recorded")
    names = set()
    for a in attempts:
        name = a.get("name")
        if not isinstance(name, str) or not isinstance(a.get("class"), str) or type(a.get("ret")) is not int:
            raise ValueError(f"a sweep attempt without name, class or return value: {str(a)[:120]}")
        names.add(name)
    return attempts, names


def _answer(a: Mapping[str, Any]) -> str:
    err = a.get("errno")
    return err if isinstance(err, str) and a["ret"] < 0 else f"returned {a['ret']}"


def _groups(obs: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    groups = obs.get("groups")
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise ValueError("no exhaustive groups recorded")
    out: dict[str, Mapping[str, Any]] = {}
    for g in groups:
        answers, tried = g.get("answers"), g.get("tried")
        well_formed = (
            isinstance(g.get("group"), str)
            and isinstance(g.get("name"), str)
            and type(tried) is int
            and isinstance(answers, dict)
            and all(isinstance(k, str) and type(v) is int and v >= 0 for k, v in answers.items())
            and sum(answers.values()) == tried
            and isinstance(g.get("first"), list)
            and all(isinstance(f, dict) for f in g["first"])
        )
        if not well_formed or g["group"] in out:
            raise ValueError(f"a malformed or repeated group record: {str(g)[:160]}")
        out[g["group"]] = g
    return out


def _offender(call: str, first: Mapping[str, Any] | None, label: str) -> str:
    if first is None or type(first.get("ret")) is not int:
        return "no offender recorded"
    return f"{label} {call}({first.get('args')}) {_answer(first)}"


def _group_failures(expect: Mapping[str, Any], groups: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Each group with an answer other than the profile's errno, named by its first offender
    (and the first call that ran, when that is a later one)."""
    out = []
    for name, g in sorted(groups.items()):
        want, count = expect["errno"][g["name"]], expect["groups"][name]["count"]
        other = {k: v for k, v in sorted(g["answers"].items()) if k != want}  # the bundle sorts its keys
        if not other:
            continue
        offenders = [f for f in g["first"] if f.get("errno") != want]
        said = [_offender(g["name"], offenders[0] if offenders else None, "first")]
        ran = next((f for f in offenders if type(f.get("ret")) is int and f["ret"] >= 0), None)
        if ran is not None and ran is not offenders[0]:
            said.append(_offender(g["name"], ran, "first that ran"))
        stopped = f" (stopped after {g['tried']} of {count})" if g["tried"] != count else ""
        out.append(
            f"group {name}: {sum(other.values())} of {g['tried']} tried answered {other}, expected {want}"
            f"{stopped}; {'; '.join(said)}"
        )
    return out


KERNEL_ERRNO = {
    "EPERM": 1,
    "ENOENT": 2,
    "ESRCH": 3,
    "EINTR": 4,
    "EIO": 5,
    "ENXIO": 6,
    "E2BIG": 7,
    "ENOEXEC": 8,
    "EBADF": 9,
    "ECHILD": 10,
    "EAGAIN": 11,
    "ENOMEM": 12,
    "EACCES": 13,
    "EFAULT": 14,
    "EBUSY": 16,
    "EEXIST": 17,
    "ENODEV": 19,
    "ENOTDIR": 20,
    "EINVAL": 22,
    "EROFS": 30,
    "ENOSYS": 38,
    "EOPNOTSUPP": 95,
    "EAFNOSUPPORT": 97,
}
"""Linux's errno numbers (asm-generic/errno-base.h, errno.h; x86_64 and aarch64 share them), not
the verifying host's ``errno`` module: a verifier on another system numbers them otherwise."""


def _not_of_class(a: Mapping[str, Any]) -> Judgement:
    said = f"arguments {str(a.get('args'))[:80]}" if "args" in a else "no arguments"
    return Judgement(ERROR, f"{a['name']}({a['class']}) recorded with {said}: not an attempt of that class")


def sweep(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:  # noqa: PLR0911, PLR0912 - one pass over the largest observation: ERROR, FAIL or PASS, each for its cause
    """Every attempt must get the profile's errno; every required class must have been tried,
    every exhaustive group in full."""
    (attempts, names), want, groups = _attempts(obs), expect["errno"], _groups(obs)
    tfail, terror, tsaid = table.judge(expect["table"], obs) if "table" in expect else ([], [], "")
    if terror:
        return Judgement(ERROR, "; ".join(terror))
    planned = expect.get("groups", {})
    unplanned = sorted(names - set(want))
    strays = sorted(g for g, rec in groups.items() if rec["name"] != planned.get(g, {}).get("name"))
    if unplanned or strays:
        return Judgement(
            ERROR, f"attempts on calls the plan does not deny: {unplanned}; groups it does not plan: {strays}"
        )
    if obs.get("arch") not in TABLES:  # the numbers each name was called by are this table's
        return Judgement(ERROR, f"the sweep ran on no architecture sandproof knows: {str(obs.get('arch'))[:40]!r}")
    wrong = []
    tried: set[tuple[str, str]] = set()
    random: Counter[str] = Counter()
    fixed: list[tuple[str, str]] = []
    # the raw answer is -errno (rawsys.call): the errno a record names is its ret's, the number
    # the same on every architecture sandproof knows (include/uapi/asm-generic/errno*.h)
    refused = {n: -KERNEL_ERRNO.get(e, 1 << 20) for n, e in want.items()}
    for a in attempts:  # one pass over the sweep: it is the largest observation of a bundle
        name, cls = a["name"], a["class"]
        if a["ret"] != refused[name] or a.get("errno") != want[name]:
            if a.get("errno") != want[name] or a["ret"] >= 0:
                args = f" {a['args']}" if cls == "random" else ""
                wrong.append(f"{name}({cls}{args}) {_answer(a)}, expected {want[name]}")
            elif want[name] in KERNEL_ERRNO:  # (a name not in the table: its number unknown here)
                bad = f"{name}({cls}) recorded as {want[name]} but the call returned {a['ret']}"
                return Judgement(ERROR, f"{bad}, not -{KERNEL_ERRNO[want[name]]}")
        key = (name, cls)
        tried.add(key)
        # the harness records the arguments of a random draw only (a fixed class's are the plan's)
        if cls == "random":
            random[name] += 1
            space, drawn = SPACES.get(name), a.get("args")  # draws.drawable, inlined: 36 per bundle
            if space is None or type(drawn) is not list or not space(drawn):
                return _not_of_class(a)
        elif "args" in a:
            return _not_of_class(a)
        else:
            fixed.append(key)
    failed = [*_group_failures(expect, groups), *tfail]
    if wrong or failed:
        said = (
            [f"{len(wrong)} of {len(attempts)} attempts not denied as configured: {'; '.join(wrong[:8])}"]
            if wrong
            else []
        )
        return Judgement(FAIL, "; ".join([*failed, *said]))
    missing = [f"{n}/{c}" for n, classes in sorted(expect["classes"].items()) for c in classes if (n, c) not in tried]
    drawn = {n: random[n] for n in expect["random"]}
    short = [f"{n} ({drawn[n]} of {k})" for n, k in sorted(expect["random"].items()) if drawn[n] < int(k)]
    incomplete = [
        f"{g} ({groups[g]['tried'] if g in groups else 'none'} of {spec['count']})"
        for g, spec in sorted(planned.items())
        if g not in groups or groups[g]["tried"] != spec["count"]
    ]
    if missing or short or incomplete:
        return Judgement(ERROR, f"not tried: classes {missing[:8]}, random draws {short}, groups {incomplete}")
    # "name/class": a name has no "/", a class may ("AF_INET/SOCK_STREAM, high bits")
    indistinct = {tuple(str(k).split("/", 1)) for k in expect.get("indistinct", [])}
    proven = sum(1 for key in fixed if key not in indistinct)
    exhaustive = sum(g["tried"] for g in groups.values())
    return Judgement(
        PASS,
        f"{len(want)} syscalls denied as configured in {len(attempts) + exhaustive} attempts ({exhaustive} in "
        f"{len(groups)} exhaustive groups, {len(fixed)} argument classes, {len(attempts) - len(fixed)} drawn "
        f"at random; {proven} classes with arguments the kernel itself would have answered differently, "
        f"{len(fixed) - proven} where it says EPERM first)" + (f"; {tsaid}" if tsaid else ""),
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


def abi(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    """The foreign ABIs the profile's architectures leave out must be refused by the filter."""
    arch = obs.get("arch")
    if arch == "aarch64":
        return Judgement(
            PASS,
            "aarch64: there is no int 0x80 or x32 ABI to try; AArch32 is entered only by executing a 32-bit "
            "binary (denied, see PR-EXEC-1), so the filter's own architecture check is not exercised here",
        )
    if arch != "x86_64":
        return Judgement(ERROR, f"no foreign-ABI observation for architecture {arch!r}")
    results = obs.get("abis")
    if not isinstance(results, dict):
        return Judgement(ERROR, "no foreign-ABI attempts recorded")
    found: dict[str, list[str]] = {PASS: [], FAIL: [], UNVERIFIED: []}
    for name, allowed in sorted(expect["allowed"].items()):
        verdict, how = _refusal(results.get(name))
        if allowed:  # listed in the profile's architectures: it must reach the kernel
            verdict = FAIL if verdict == PASS else PASS if verdict == FAIL else verdict
        found[verdict].append(f"{name} {how} ({'' if allowed else 'not '}in the profile's architectures)")
    for verdict in (FAIL, UNVERIFIED):
        if found[verdict]:
            return Judgement(verdict, "; ".join(found[verdict]))
    return Judgement(PASS, "; ".join(found[PASS]) + "; observed at startup, before the harness's own filter")


def _positive(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    if obs.get("outcome") == expect["outcome"]:
        return done_as_recorded(obs) or Judgement(PASS, f"{expect['outcome']} (positive control)")
    return Judgement(FAIL, f"positive control failed: {obs.get('message') or obs.get('outcome')}")


def _exec(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    """The exec probe records the program it tried (the harness's own interpreter, an
    absolute path: probes/seccomp.py execute); a record naming none is not one it made."""
    target = obs.get("target")
    # the seed's v1 records (verify rebuilds them from an errno) hold no target at all
    if "target" in obs and (not isinstance(target, str) or not target.startswith("/") or target != target.strip()):
        return Judgement(ERROR, f"no absolute path recorded as the program tried ({str(target)[:60]!r})")
    return errno_in(expect, obs)


JUDGES: dict[str, Judge] = {
    "sweep": sweep,
    "abi": abi,
    "thread": _positive,
    "exec": _exec,
    "ptrace": errno_in,
}
