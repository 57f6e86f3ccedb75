"""Pure judging: an observation and an expectation in, a verdict and a reason out.

The harness uses it for its own fail-closed exit code; the verifier outside calls the
same functions on the recorded observations and never trusts a recorded verdict.
Inputs may be hostile (a bundle from elsewhere): anything malformed is ERROR, never PASS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from . import devices, integrity, mounts
from .judge_system import SYSTEM_JUDGES
from .limits import JUDGES as LIMIT_JUDGES
from .verdicts import ERROR, FAIL, PASS, UNVERIFIED, Judgement, Verdict, errno_in

__all__ = ["ERROR", "FAIL", "PASS", "UNVERIFIED", "Judgement", "Verdict", "judge", "parse_net_dev"]


def parse_net_dev(text: str) -> list[str]:
    return [ln.split(":")[0].strip() for ln in text.splitlines()[2:] if ":" in ln]


def _write(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    if expect.get("succeeds") is True:
        if obs.get("outcome") == "wrote":
            return Judgement(PASS, "written (positive control)")
        if obs.get("outcome") == "error":
            return Judgement(FAIL, f"positive control failed: {obs.get('errno')}")
        return Judgement(ERROR, "observation has no outcome")
    return errno_in(expect, obs)


def _ifaces(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    raw, allowed = obs.get("proc_net_dev"), expect.get("interfaces_subset")
    if not isinstance(raw, str) or not isinstance(allowed, list):
        return Judgement(ERROR, "no /proc/net/dev text recorded")
    names = parse_net_dev(raw)
    extra = sorted(set(names) - set(allowed))
    if not names:
        return Judgement(ERROR, "/proc/net/dev lists no interface at all")
    if extra:
        return Judgement(FAIL, f"interfaces beyond {allowed}: {extra}")
    return Judgement(PASS, f"interfaces {sorted(set(names))}")


def _runtime_values(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> list[str]:
    """The runtime's own variables must hold what the runtime sets; the hostname must be one the
    runtime gives (Docker: the container ID's first 12 hex digits; runc: our config's)."""
    if "runtime_values" not in expect:  # a seed bundle: names only
        return []
    matches, hostname = obs.get("runtime_values"), obs.get("hostname")
    if not isinstance(matches, dict) or not isinstance(hostname, str):
        return ["runtime variables not compared"]
    problems = [f"{k} does not hold what the runtime sets" for k, ok in sorted(matches.items()) if ok is not True]
    unchecked = sorted(set(expect["runtime_values"]) - set(matches))
    if unchecked:
        problems.append(f"runtime variables not compared: {unchecked}")
    pattern = expect.get("hostname")
    if pattern is not None and not re.fullmatch(pattern, hostname):
        problems.append(f"hostname {hostname!r} is not one {pattern!r} allows (another UTS namespace?)")
    return problems


def _env(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    """The exact set of names: the profile's plus the runtime's own. A name no pattern
    would call secret (DATABASE_URL, GH_PAT) is as much a leak as GITHUB_TOKEN."""
    keys, allowed = obs.get("keys"), expect.get("names")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or not isinstance(allowed, list):
        return Judgement(ERROR, "no environment key list recorded")
    problems = []
    if len(set(keys)) != len(keys):
        problems.append("a name is listed twice")
    loader = sorted(k for k in keys if k.startswith("LD_"))
    if loader:  # the dynamic loader acts on these before any probe runs
        problems.append(f"loader variables present: {loader}")
    extra = sorted(set(keys) - set(allowed) - set(loader))
    if extra:
        problems.append(f"variables the profile does not declare: {extra}")
    missing = sorted(set(allowed) - set(keys))
    if missing:
        problems.append(f"variables missing: {missing}")
    problems += _runtime_values(expect, obs)
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    return Judgement(PASS, f"exactly {sorted(keys)}")


def _absent(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    present, wanted = obs.get("present"), expect.get("absent")
    if not isinstance(present, list) or not isinstance(wanted, list):
        return Judgement(ERROR, "no presence list recorded")
    checked = obs.get("checked")
    if not isinstance(checked, list):
        return Judgement(ERROR, "no list of checked paths recorded")
    found = sorted(p for p in present if p in checked)
    if found:
        return Judgement(FAIL, f"present: {found}")
    if present:  # compared exactly: "/run/docker.sock " or one with a zero-width space was never looked for
        return Judgement(FAIL, f"present, though not among the paths checked: {sorted(map(ascii, present))[:5]}")
    unchecked = sorted(set(wanted) - set(checked))
    if unchecked:
        return Judgement(UNVERIFIED, f"not looked for: {unchecked}")
    return Judgement(PASS, f"none of {len(wanted)} engine sockets present")


def _listing(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    entries, want = obs.get("entries"), expect["entries"]
    if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
        return Judgement(ERROR, "no directory listing recorded")
    problems = [f"unexpected {name!r}" for name in sorted(set(entries) - set(want))]
    problems += [f"missing {name!r}" for name in sorted(set(want) - set(entries))]
    for name, digest in sorted(want.items()):
        got = entries.get(name)
        if got is not None and (got.get("type") != "file" or (digest is not None and got.get("sha256") != digest)):
            problems.append(f"{name!r} is not the file attest wrote")
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    return Judgement(PASS, f"exactly {sorted(want)}")


def _static(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:  # noqa: ARG001 - one signature
    findings = obs.get("findings")
    if not isinstance(findings, list) or not isinstance(obs.get("files"), int) or obs["files"] < 1:
        return Judgement(ERROR, "no scan result recorded")
    if findings:
        return Judgement(FAIL, f"{len(findings)} dynamic code loading site(s): {findings[:3]}")
    return Judgement(PASS, f"{obs['files']} files scanned, no dynamic import or code loading")


MAX_REASON = 1000
JUDGES: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], Judgement]] = {
    "connect": errno_in,
    "socket": errno_in,
    "exec": errno_in,
    "ptrace": errno_in,
    "write": _write,
    "ifaces": _ifaces,
    "env": _env,
    "absent": _absent,
    "mounts": mounts.judge_inventory,
    "kpaths": mounts.judge_kernel_paths,
    "listing": _listing,
    "devices": devices.judge,
    "maps": integrity.judge,
    "static": _static,
    **SYSTEM_JUDGES,
    **LIMIT_JUDGES,
}


def judge(kind: str, expect: object, obs: object) -> Judgement:
    """Judge one observation; never raises on malformed input."""
    fn = JUDGES.get(kind)
    if fn is None:
        return Judgement(ERROR, f"unknown probe kind {kind!r}")
    if not isinstance(expect, dict) or not isinstance(obs, dict):
        return Judgement(ERROR, "expectation or observation is not an object")
    if "harness_error" in obs:
        return Judgement(ERROR, f"probe did not complete: {obs['harness_error']}")
    try:
        v = fn(expect, obs)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, re.error) as exc:
        return Judgement(ERROR, f"malformed observation: {exc}"[:MAX_REASON])
    # a sandbox with every host device or mount makes long reasons; the bundle caps them
    return v if len(v.reason) <= MAX_REASON else Judgement(v.verdict, v.reason[: MAX_REASON - 20] + " ... (cut)")
