"""The mount inventory: every line of /proc/self/mountinfo must be one the plan expects.

The plan lists each mount the profile and the runtime imply (mount point, filesystem type,
root, read-only or not, the nosuid/nodev/noexec flags and, for tmpfs, the exact superblock
options). An extra mount of any kind anywhere, read-only included, FAILs; so does a missing
one, a line that does not parse (proc(5)), or a second mount stacked on one point that the
plan does not stack there. Judged on the host from the recorded text, never on the harness's
word.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from .common import ERROR, FAIL, PASS, Judge, Judgement

ACCESS_FLAGS = frozenset({"nosuid", "nodev", "noexec"})
"""The per-mount flags judged exactly; atime flags (relatime, strictatime) are not a boundary."""
_OCTAL = r"\\([0-7]{3})"


class Mount(NamedTuple):
    mount_id: int
    parent_id: int
    device: str
    """major:minor of the filesystem."""
    root: str
    """The path inside the filesystem that is mounted here (a bind's source)."""
    mountpoint: str
    options: frozenset[str]
    tags: frozenset[str]
    """The propagation tags (proc(5) optional fields): shared, master, propagate_from, unbindable."""
    fstype: str
    source: str
    super_options: frozenset[str]

    @property
    def read_only(self) -> bool:
        return "ro" in self.options or "ro" in self.super_options


class MountinfoError(ValueError):
    """A line of /proc/self/mountinfo that is not what proc(5) says the kernel writes."""


def _unescape(field: str) -> str:
    # show_mountinfo escapes space, tab, newline and backslash as octal (fs/proc_namespace.c)
    return re.sub(_OCTAL, lambda m: chr(int(m.group(1), 8)), field)


def parse_line(line: str) -> Mount:
    """One line, strictly: single spaces, numeric ids, a '-' separator, three fields after it."""
    fields = line.split(" ")
    if "-" not in fields[6:]:
        raise MountinfoError(f"no ' - ' separator: {line!r}")
    sep = fields.index("-", 6)
    head, tail = fields[:sep], fields[sep + 1 :]
    if len(tail) != 3 or any(not f for f in [*head, *tail]):
        raise MountinfoError(f"not 'ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS] - TYPE SOURCE SUPER': {line!r}")
    if not re.fullmatch(r"[0-9]+ [0-9]+ [0-9]+:[0-9]+", " ".join(head[:3])):
        raise MountinfoError(f"ids or device not numeric: {line!r}")
    if any(c in line for c in "\t\r\n\0"):  # the kernel escapes these; raw ones are not its text
        raise MountinfoError(f"raw control character in line: {line!r}")
    root, point = _unescape(head[3]), _unescape(head[4])
    if not root.startswith("/") or not point.startswith("/"):
        raise MountinfoError(f"root or mount point is not absolute: {line!r}")
    return Mount(
        int(head[0]),
        int(head[1]),
        head[2],
        root,
        point,
        frozenset(head[5].split(",")),
        frozenset(tag.split(":")[0] for tag in head[6:]),
        tail[0],
        _unescape(tail[1]),
        frozenset(tail[2].split(",")),
    )


def parse(text: str) -> list[Mount]:
    """Every line, in mount order; raises MountinfoError on the first that does not parse."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise MountinfoError("no mounts at all")
    return [parse_line(line) for line in lines]


def visible(text: str) -> dict[str, Mount]:
    """The mount on top at each point (the last mounted there); lenient, for the harness's
    own use (which filesystems to walk), never for judging."""
    out: dict[str, Mount] = {}
    for line in text.splitlines():
        try:
            m = parse_line(line)
        except MountinfoError:
            continue
        out[m.mountpoint] = m
    return out


def _matches(spec: Mapping[str, Any], m: Mount, by_point: Mapping[str, Mount]) -> list[str]:
    """What differs between one expected mount and the observed one."""
    diffs = []
    fstypes = spec["fstype"]
    if fstypes != "*" and m.fstype not in fstypes:
        diffs.append(f"type {m.fstype}, expected {'/'.join(fstypes)}")
    root = spec["root"]
    if root.startswith("re:"):
        if not re.fullmatch(root[3:], m.root):
            diffs.append(f"root {m.root!r}, expected one matching {root[3:]!r}")
    elif root.startswith("*"):
        if not m.root.endswith(root[1:]):
            diffs.append(f"root {m.root!r}, expected one ending in {root[1:]!r}")
    elif m.root != root:
        diffs.append(f"root {m.root!r}, expected {root!r}")
    if spec["ro"] is not None and m.read_only != spec["ro"]:
        diffs.append("read-only" if m.read_only else "read-write")
    flags = sorted(m.options & ACCESS_FLAGS)
    if spec["flags"] is not None and flags != sorted(spec["flags"]):
        diffs.append(f"flags {','.join(flags) or 'none'}, expected {','.join(sorted(spec['flags'])) or 'none'}")
    if spec["super"] is not None:
        got = sorted(m.super_options - {"rw", "ro"})
        if got != sorted(spec["super"]):
            diffs.append(f"options {','.join(got) or 'none'}, expected {','.join(sorted(spec['super'])) or 'none'}")
    extra_tags = sorted(m.tags - set(spec.get("propagation", [])))
    if extra_tags:  # a shared or slave mount joins a peer group outside the sandbox
        diffs.append(
            f"propagation {','.join(extra_tags)}, expected {','.join(spec.get('propagation', [])) or 'private'}"
        )
    same = spec.get("device_of")
    if same is not None and (same not in by_point or by_point[same].device != m.device):
        diffs.append(f"not a file of the {same} filesystem")
    return diffs


def _expected_at(specs: list[Mapping[str, Any]], point: str) -> list[Mapping[str, Any]]:
    out = [s for s in specs if s["point"] == point]
    if not out:  # a class of mounts the runtime makes, such as one per cgroup v1 controller
        out = [s for s in specs if s["point"].endswith("/*") and os.path.dirname(point) == s["point"][:-2]]
    return out


def judge_inventory(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    raw = obs.get("mountinfo")
    specs = expect.get("mounts")
    if not isinstance(raw, str) or not isinstance(specs, list):
        return Judgement(ERROR, "no mountinfo recorded")
    try:
        mounts = parse(raw)
    except MountinfoError as exc:
        return Judgement(FAIL, f"mountinfo does not parse: {exc}")
    by_point: dict[str, Mount] = {}
    stacks: dict[str, list[Mount]] = {}
    for m in mounts:
        stacks.setdefault(m.mountpoint, []).append(m)
        by_point.setdefault(m.mountpoint, m)
    problems = []
    for point, stack in stacks.items():
        wanted = _expected_at(specs, point)
        if not wanted:
            problems.append(f"unexpected mount at {point} ({stack[0].fstype} {stack[0].root})")
            continue
        if len(stack) > 1 and not wanted[0]["point"].endswith("/*"):
            problems.append(f"{len(stack)} mounts stacked at {point}, expected 1")
        for m in stack:
            diffs = _matches(wanted[0], m, by_point)
            if diffs:
                problems.append(f"{point}: {'; '.join(diffs)}")
    for spec in specs:
        point = spec["point"]
        if not spec["optional"] and not point.endswith("/*") and point not in stacks:
            problems.append(f"missing mount at {point}")
    if problems:
        return Judgement(FAIL, "; ".join(problems[:8]) + (f" (+{len(problems) - 8} more)" if len(problems) > 8 else ""))
    return Judgement(PASS, f"{len(mounts)} mounts, each as the profile and runtime imply")


JUDGES: dict[str, Judge] = {
    "mounts": judge_inventory,
}
