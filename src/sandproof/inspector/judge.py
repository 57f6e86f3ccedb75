"""Pure judging: an observation and an expectation in, a verdict and a reason out.

The harness uses it for its own fail-closed exit code; the verifier outside calls the
same functions on the recorded observations and never trusts a recorded verdict.
Inputs may be hostile (a bundle from elsewhere): anything malformed is ERROR, never PASS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from .judge_system import SYSTEM_JUDGES
from .limits import JUDGES as LIMIT_JUDGES
from .verdicts import ERROR, FAIL, PASS, UNVERIFIED, Verdict, errno_in

__all__ = ["ERROR", "FAIL", "PASS", "UNVERIFIED", "Verdict", "judge", "parse_mountinfo", "parse_net_dev", "top_mounts"]

# character devices that take writes without keeping them: null, zero, full, random, urandom, tty
HARMLESS_CHARDEVS = frozenset({"1:3", "1:5", "1:7", "1:8", "1:9", "5:0"})


class Mount(NamedTuple):
    mountpoint: str
    options: frozenset[str]
    fstype: str
    super_options: frozenset[str]

    @property
    def read_only(self) -> bool:
        return "ro" in self.options or "ro" in self.super_options


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def parse_mountinfo(text: str) -> list[Mount]:
    """Parse /proc/self/mountinfo (proc(5)); lines that do not parse are skipped."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(" "), right.split(" ")
        if not sep or len(fields) < 6 or len(tail) < 3:
            continue
        point = fields[4] if "\\" not in fields[4] else _unescape(fields[4])
        mounts.append(Mount(point, frozenset(fields[5].split(",")), tail[0], frozenset(tail[2].split(","))))
    return mounts


def top_mounts(text: str) -> dict[str, Mount]:
    """The visible mount at each mountpoint (the last one mounted there wins)."""
    return {m.mountpoint: m for m in parse_mountinfo(text)}


def parse_net_dev(text: str) -> list[str]:
    return [ln.split(":")[0].strip() for ln in text.splitlines()[2:] if ":" in ln]


def _write(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Verdict:
    if expect.get("succeeds") is True:
        if obs.get("outcome") == "wrote":
            return Verdict(PASS, "written (positive control)")
        if obs.get("outcome") == "error":
            return Verdict(FAIL, f"positive control failed: {obs.get('errno')}")
        return Verdict(ERROR, "observation has no outcome")
    return errno_in(expect, obs)


def _ifaces(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Verdict:
    raw, allowed = obs.get("proc_net_dev"), expect.get("interfaces_subset")
    if not isinstance(raw, str) or not isinstance(allowed, list):
        return Verdict(ERROR, "no /proc/net/dev text recorded")
    names = parse_net_dev(raw)
    extra = sorted(set(names) - set(allowed))
    if not names:
        return Verdict(ERROR, "/proc/net/dev lists no interface at all")
    if extra:
        return Verdict(FAIL, f"interfaces beyond {allowed}: {extra}")
    return Verdict(PASS, f"interfaces {sorted(set(names))}")


def _env(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Verdict:
    """The exact set of names: the profile's plus the runtime's own. A name no pattern
    would call secret (DATABASE_URL, GH_PAT) is as much a leak as GITHUB_TOKEN."""
    keys, allowed = obs.get("keys"), expect.get("names")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or not isinstance(allowed, list):
        return Verdict(ERROR, "no environment key list recorded")
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
    if problems:
        return Verdict(FAIL, "; ".join(problems))
    return Verdict(PASS, f"exactly {sorted(keys)}")


def _absent(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Verdict:
    present, wanted = obs.get("present"), expect.get("absent")
    if not isinstance(present, list) or not isinstance(wanted, list):
        return Verdict(ERROR, "no presence list recorded")
    checked = obs.get("checked")
    if not isinstance(checked, list):
        return Verdict(ERROR, "no list of checked paths recorded")
    found = sorted(p for p in present if p in checked)
    if found:
        return Verdict(FAIL, f"present: {found}")
    unchecked = sorted(set(wanted) - set(checked))
    if unchecked:
        return Verdict(UNVERIFIED, f"not looked for: {unchecked}")
    return Verdict(PASS, f"none of {len(wanted)} engine sockets present")


def _mounts(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Verdict:  # noqa: PLR0912 - one branch per claim
    raw = obs.get("mountinfo")
    if not isinstance(raw, str):
        return Verdict(ERROR, "no mountinfo recorded")
    mounts = top_mounts(raw)
    if not mounts:
        return Verdict(ERROR, "mountinfo has no mounts")
    problems: list[str] = []
    root = mounts.get("/")
    if expect.get("root_read_only") and (root is None or not root.read_only):
        problems.append("rootfs is not mounted read-only")
    for path in expect.get("read_only", []):
        m = mounts.get(path)
        if m is None or not m.read_only:
            problems.append(f"{path} is not a read-only mount")
    for path in expect.get("read_write", []):
        m = mounts.get(path)
        if m is None or m.read_only:
            problems.append(f"{path} is not a read-write mount")
    for path, flags in dict(expect.get("flags", {})).items():
        m = mounts.get(path)
        missing = [f for f in flags if m is None or f not in m.options]
        if missing:
            problems.append(f"{path} lacks {','.join(missing)}")
    for path, size in dict(expect.get("sizes", {})).items():
        m = mounts.get(path)
        if m is None or f"size={size}" not in m.super_options:
            problems.append(f"{path} is not sized {size}")
    allowed = set(expect.get("writable_allowed", []))
    seen = obs.get("writable")
    unknown = []
    for mp, m in sorted(mounts.items()):
        if m.read_only or mp in allowed:
            continue
        entry = seen.get(mp) if isinstance(seen, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("writable"), bool):
            unknown.append(mp)
        elif entry["writable"] and not (entry.get("kind") == "chardev" and entry.get("rdev") in HARMLESS_CHARDEVS):
            problems.append(f"{mp} is writable but the profile does not allow it")
    if problems:
        return Verdict(FAIL, "; ".join(problems))
    if unknown:
        return Verdict(UNVERIFIED, f"writability not observed for read-write mounts: {unknown}")
    return Verdict(PASS, f"{len(mounts)} mounts; writable only {sorted(allowed)}")


def _static(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Verdict:  # noqa: ARG001 - one signature
    findings = obs.get("findings")
    if not isinstance(findings, list) or not isinstance(obs.get("files"), int) or obs["files"] < 1:
        return Verdict(ERROR, "no scan result recorded")
    if findings:
        return Verdict(FAIL, f"{len(findings)} dynamic code loading site(s): {findings[:3]}")
    return Verdict(PASS, f"{obs['files']} files scanned, no dynamic import or code loading")


JUDGES: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], Verdict]] = {
    "connect": errno_in,
    "socket": errno_in,
    "exec": errno_in,
    "ptrace": errno_in,
    "write": _write,
    "ifaces": _ifaces,
    "env": _env,
    "absent": _absent,
    "mounts": _mounts,
    "static": _static,
    **SYSTEM_JUDGES,
    **LIMIT_JUDGES,
}


def judge(kind: str, expect: object, obs: object) -> Verdict:
    """Judge one observation; never raises on malformed input."""
    fn = JUDGES.get(kind)
    if fn is None:
        return Verdict(ERROR, f"unknown probe kind {kind!r}")
    if not isinstance(expect, dict) or not isinstance(obs, dict):
        return Verdict(ERROR, "expectation or observation is not an object")
    if "harness_error" in obs:
        return Verdict(ERROR, f"probe did not complete: {obs['harness_error']}")
    try:
        return fn(expect, obs)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, re.error) as exc:
        return Verdict(ERROR, f"malformed observation: {exc}")
