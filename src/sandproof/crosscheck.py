"""Cross-checks of a bundle's raw evidence against the observations derived from it, and
the shape every recorded string and number must have. Both are about input the verifier
must not trust: a one-field edit of an honest bundle must never leave every verdict PASS.

Rule: every ``raw`` field is compared with the observation of the probe that reports it
(the harness read both, see ``inspector/harness.py`` and ``probes_system.snapshot``);
a contradiction is charged to that probe, or to the ``raw`` check when no probe reports it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from sandproof.inspector.catalog import PSEUDO_FS, SHAREABLE
from sandproof.inspector.judges import mounts
from sandproof.inspector.judges.common import strict_int
from sandproof.inspector.wire import STATUS_KEYS

# Control characters that kernel texts legitimately hold: /proc/self/status separates ids
# with tabs, multi-line files (mountinfo, /proc/net/dev, cgroup files) end lines with \n.
TEXT_CONTROLS = frozenset("\n\t")
# /proc/net/dev: "  name: 16 counters" (net/core/net-procfs.c dev_seq_printf_stats)
NET_DEV_LINE = re.compile(r"\s*([^\s:]+):((?:\s+[0-9]{1,20}){16})\s*")
# fields the in-process guard changes after the startup snapshot (inspector/guard.py sets
# no-new-privs and stacks one filter); every other status field must read the same later
GUARD_FIELDS = ("NoNewPrivs", "Seccomp", "Seccomp_filters")


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> Iterator[str | float]:
    """Every string (keys too) and every float in a JSON value, without recursion limits
    of its own (the JSON reader bounds the depth)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str | float):
            yield v
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def text_problem(s: str) -> str | None:
    """Why a recorded string cannot be believed as written, or None. A path (it starts with
    "/") is compared exactly, so it may hold no control or format character and no blank
    at either end: "/run/docker.sock\\u200b" is not "/run/docker.sock", and a report would
    show the two alike."""
    path = s.startswith("/")
    for ch in s:
        cat = unicodedata.category(ch)
        if cat in ("Cf", "Zl", "Zp") or (cat == "Cc" and (path or ch not in TEXT_CONTROLS)):
            return f"{ascii(s)[:80]} holds the {cat} character {ch!a}"
    if path and s != s.strip():
        return f"path {ascii(s)[:80]} has blanks at an end"
    return None


def shape_problem(value: Any) -> str | None:
    """Observations and raw evidence hold integers, never floats (1.0 would compare equal
    to 1), and strings without hidden characters."""
    for s in _strings(value):
        if isinstance(s, float):
            return f"the number {s!r} where only integers are recorded"
        if (why := text_problem(s)) is not None:
            return why
    return None


def same(a: Any, b: Any) -> bool:
    """Equal as JSON, so 1 and 1.0 or true and 1 differ."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _net_dev(text: object) -> list[str] | None:
    if not isinstance(text, str):
        return None
    lines = text.splitlines()
    if len(lines) < 3:
        return None
    names = []
    for line in lines[2:]:
        m = NET_DEV_LINE.fullmatch(line)
        if m is None:
            return None
        names.append(m.group(1))
    return names


def _status_contradictions(startup: Mapping[str, Any], later: object, guard: Mapping[str, Any]) -> list[str]:
    """raw.proc_self_status is read at the end, after the guard: it must be the startup status
    but for what the guard itself changes."""
    first = startup.get("status")
    if not isinstance(first, dict) or not isinstance(later, dict):
        return ["raw.startup.status or raw.proc_self_status is missing"]
    if set(first) != set(STATUS_KEYS) or set(later) != set(STATUS_KEYS):
        return [f"the status fields recorded are not exactly {list(STATUS_KEYS)}"]
    out = [k for k in STATUS_KEYS if k not in GUARD_FIELDS and first[k] != later[k]]
    installed = guard.get("installed") is True
    try:
        filters = strict_int(first["Seccomp_filters"]) + (1 if installed else 0)
    except ValueError:
        return ["Seccomp_filters is not a number"]
    want = {
        "NoNewPrivs": "1" if installed else first["NoNewPrivs"],
        "Seccomp": "2" if installed else first["Seccomp"],
        "Seccomp_filters": str(filters),
    }
    out += [k for k, v in want.items() if later[k] != v]
    return [f"raw.proc_self_status contradicts raw.startup.status in {k}" for k in out]


def _walk_skipped(raw: Mapping[str, Any]) -> list[str] | None:
    """The walk skips exactly the pseudo filesystems of the mount table (probes_system.walk)."""
    try:
        visible = mounts.visible(str(raw.get("mountinfo")))
    except (ValueError, IndexError):
        return None
    return sorted(mp for mp, m in visible.items() if m.fstype in PSEUDO_FS)


def _startup(  # noqa: PLR0911 - one answer per kind of probe
    kind: str, params: Mapping[str, Any], o: Mapping[str, Any], startup: Mapping[str, Any]
) -> str | None:
    """The probes that report what the harness noted at startup (probes_system.snapshot)."""
    status = _obj(startup.get("status"))
    if kind in ("identity", "status"):
        want = {"status": {k: status.get(k) for k in params.get("fields", [])}}
        return None if same(o, want) else "raw.startup.status contradicts the probe's observation"
    if kind == "fds":
        fds, targets = startup.get("fds"), startup.get("fd_targets")
        if not same(o, {"fds": fds, "targets": targets}):
            return "raw.startup.fds contradicts the probe's observation"
        if not isinstance(targets, dict) or not isinstance(fds, list) or sorted(targets) != sorted(map(str, fds)):
            return "raw.startup.fd_targets does not name exactly the descriptors of raw.startup.fds"
        return None  # what each may point at is PR-FD-1's to judge (runtime_defaults.STDIO_TARGETS)
    if kind == "rlimits" and not same(o, {"limits": startup.get("rlimits")}):
        return "raw.startup.rlimits contradicts the probe's observation"
    want_procs = {"self": startup.get("self_pid"), "processes": startup.get("processes")}
    if kind == "procs" and not same(o.get("startup"), want_procs):
        return "raw.startup.processes or self_pid contradicts the probe's observation"
    if kind == "abi" and not same(o, startup.get("abis")):
        return "raw.startup.abis contradicts the probe's observation"
    return None


def _texts(kind: str, o: Mapping[str, Any], raw: Mapping[str, Any], skipped: list[str] | None) -> str | None:
    """The probes that report what the harness read again at the end (harness.run_plan)."""
    if kind == "env" and not same(o.get("keys"), raw.get("env_keyset")):
        return "raw.env_keyset contradicts the probe's observation"
    if kind == "ifaces":
        names, raw_names = _net_dev(o.get("proc_net_dev")), _net_dev(raw.get("proc_net_dev"))
        # counters may move between the two reads; the interfaces may not
        if names is None or raw_names is None or names != raw_names:
            return "raw.proc_net_dev contradicts the probe's observation (or does not parse)"
    if kind == "mounts" and o.get("mountinfo") != raw.get("mountinfo"):
        # one mount namespace read twice by the harness: the two texts must be identical
        return "raw.mountinfo contradicts the probe's observation"
    if kind == "walk" and (skipped is None or o.get("skipped") != skipped):
        return "the walk's skipped list is not the pseudo filesystems of raw.mountinfo"
    return None


def contradictions(
    records: Mapping[str, Mapping[str, Any]],
    rows: Mapping[str, Mapping[str, Any]],
    raw: Mapping[str, Any],
    guard: Mapping[str, Any],
) -> tuple[dict[str, str], list[str]]:
    """(probe id -> why its raw evidence contradicts it, problems charged to no probe)."""
    per_probe: dict[str, str] = {}
    startup, skipped = _obj(raw.get("startup")), _walk_skipped(raw)
    shared: dict[str, Any] = {}
    for pid, rec in records.items():
        kind, params, o = rows[pid]["kind"], rows[pid].get("params", {}), _obj(rec.get("observation"))
        found = [_startup(kind, params, o, startup), _texts(kind, o, raw, skipped)]
        if kind in SHAREABLE:  # one run of the probe, judged for several claims: one observation
            key = json.dumps([kind, params], sort_keys=True)
            if not same(shared.setdefault(key, o), o):
                found.append("differs from the observation it shares with another probe")
        if found := [w for w in found if w]:
            per_probe[pid] = "; ".join(found)
    general = _status_contradictions(startup, raw.get("proc_self_status"), guard)
    if (shape := shape_problem(raw)) is not None:
        general.append(f"raw evidence: {shape}")
    return per_probe, general
