"""The filesystem: what may be written (and what not), the input directory's exact listing, the
kernel paths masked or read-only, the /dev inventory and devices cgroup, noexec scratch space,
and the walk for setuid files, device nodes and sockets outside pseudo filesystems."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import ERROR, FAIL, PASS, UNVERIFIED, Judge, Judgement, done_as_recorded, errno_in
from .rootfs import rootfs, unlisted


def _write(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    if expect.get("succeeds") is True:
        if obs.get("outcome") == "wrote":
            return done_as_recorded(obs) or Judgement(PASS, "written (positive control)")
        if obs.get("outcome") == "error":
            return Judgement(FAIL, f"positive control failed: {obs.get('errno')}")
        return Judgement(ERROR, "observation has no outcome")
    return errno_in(expect, obs)


def _listing(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    entries, want = obs.get("entries"), expect["entries"]
    if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
        return Judgement(ERROR, "no directory listing recorded")
    # the probe hashes every regular file it lists (probes/filesystem.py listing): a file's
    # digest is 64 lowercase hex digits, whether or not the plan names the one expected
    unhashed = [n for n, v in sorted(entries.items()) if v.get("type") == "file" and not _hex64(v.get("sha256"))]
    if unhashed:
        return Judgement(ERROR, f"{unhashed[0]!r} is listed as a file with no sha256 digest")
    problems = [f"unexpected {name!r}" for name in sorted(set(entries) - set(want))]
    problems += [f"missing {name!r}" for name in sorted(set(want) - set(entries))]
    for name, digest in sorted(want.items()):
        got = entries.get(name)
        if got is not None and (got.get("type") != "file" or (digest is not None and got.get("sha256") != digest)):
            problems.append(f"{name!r} is not the file attest wrote")
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    return Judgement(PASS, f"exactly {sorted(want)}")


def _hex64(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


NULL_DEVICE = "1:3"


def _refused(o: Mapping[str, Any]) -> bool:
    written = o.get("write")
    return isinstance(written, str) and written != "written"


def _mask_problem(path: str, o: Mapping[str, Any], sentry: bool) -> str | None:
    if o.get("type") == "chr" and o.get("rdev") == NULL_DEVICE:
        return None
    if o.get("type") == "dir" and o.get("entries") == 0 and o.get("read_only") is True:
        return None
    if sentry and o.get("type") == "dir" and o.get("entries") == 0 and _refused(o):
        return None  # empty, and a write refused: gVisor's sysfs shows no flag but nothing leaks

    return f"{path} is not masked"


def _kernel_paths(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    masked, read_only = obs.get("masked"), obs.get("read_only")
    if not isinstance(masked, dict) or not isinstance(read_only, dict):
        return Judgement(ERROR, "no kernel path observations recorded")
    problems, shown = [], 0
    sentry = expect.get("sentry") is True  # gVisor only: a refused write stands in for a flag it hides
    for path in expect["masked"]:
        o = masked.get(path)
        if not isinstance(o, dict) or not isinstance(o.get("exists"), bool):
            return Judgement(ERROR, f"{path} not observed")
        if o["exists"]:
            shown += 1
            if (problem := _mask_problem(path, o, sentry)) is not None:
                problems.append(problem)
    for path in expect["read_only"]:
        o = read_only.get(path)
        if not isinstance(o, dict) or not isinstance(o.get("exists"), bool):
            return Judgement(ERROR, f"{path} not observed")
        if o["exists"]:
            shown += 1
            written = o.get("write")
            if o.get("read_only") is True:
                continue
            if sentry and "read_only" not in o and _refused(o):
                continue  # no statfs here (gVisor's procfs): the write it refused shows it
            problems.append(f"{path} is not read-only" + (f" (a write: {written})" if written else ""))
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    absent = len(expect["masked"]) + len(expect["read_only"]) - shown
    return Judgement(PASS, f"{shown} kernel paths masked or read-only ({absent} absent from this kernel)")


def _devices(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    nodes, cgroup = obs.get("nodes"), obs.get("devices_list")
    if not isinstance(nodes, dict) or not all(isinstance(v, str) for v in nodes.values()):
        return Judgement(ERROR, "no /dev inventory recorded")
    want: dict[str, str] = expect["nodes"]
    optional: dict[str, str] = expect["optional"]
    problems = []
    for path, got in sorted(nodes.items()):
        allowed = want.get(path, optional.get(path))
        if allowed is None:
            problems.append(f"unexpected {path} ({got})")
        elif got != allowed:
            problems.append(f"{path} is {got}, expected {allowed}")
    missing = sorted(set(want) - set(nodes))
    if missing:
        problems.append(f"missing {missing}")
    if obs.get("unreadable"):
        problems.append(f"unlistable {obs.get('unreadable')}")
    if cgroup is not None:
        if not isinstance(cgroup, list) or not all(isinstance(r, str) for r in cgroup):
            return Judgement(ERROR, "devices.list recorded in an unknown shape")
        extra = sorted(set(cgroup) - set(expect["devices_list"]))
        lacking = sorted(set(expect["devices_list"]) - set(cgroup))
        if extra:
            problems.append(f"devices cgroup allows more: {extra}")
        if lacking:
            problems.append(f"devices cgroup lacks {lacking}")
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    cg = f"; devices cgroup exactly {len(cgroup)} rules" if cgroup is not None else "; devices cgroup not readable (v2)"
    return Judgement(PASS, f"{len(nodes)} nodes under /dev, each a default of the runtime{cg}")


def _unseen(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement | None:
    """Where the walk could not look, compared with the layout's own: None when exactly that."""
    unreadable = obs.get("unreadable")
    if not isinstance(unreadable, list):
        return Judgement(ERROR, "no list of unlistable directories recorded")
    if sorted(unreadable) != sorted(expect["unlistable"]):
        # a directory the walk cannot list may hide a socket reachable by name (mode 0711); a
        # file listed in a directory it cannot enter (mode 0744) is unseen, not absent
        shown = sorted(unreadable)[:5]
        return Judgement(FAIL, f"paths the walk cannot see into {shown}, expected only {expect['unlistable']}")
    if "searchable" not in expect:  # a plan before it was planned has none
        return None
    enterable = obs.get("searchable")
    if not isinstance(enterable, list):
        return Judgement(ERROR, "no list of enterable, unlistable directories recorded")
    if sorted(enterable) != sorted(expect["searchable"]):
        # the expected /root is unlistable, but a 0711 /root holds names a process reaches unseen
        return Judgement(
            FAIL,
            f"unlistable directories it can enter (names in them reachable, unseen): {sorted(enterable)[:5]}, "
            f"expected {expect['searchable']}",
        )
    return None


def _walk(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    if "collect" not in expect:  # PR-ROOTFS-1 judges the same walk's digests of the image's tree
        unseen = _unseen(expect, obs) if "unlistable" in expect else None
        return rootfs(expect, obs, unseen)
    kinds = [expect["collect"], *expect.get("also", [])]
    if not all(isinstance(obs.get(k), list) for k in kinds) or not isinstance(obs.get("complete"), bool):
        return Judgement(ERROR, "no walk recorded")
    for kind in kinds:
        extra = sorted(set(obs[kind]) - set(expect["allowed"]))
        if extra:
            return Judgement(FAIL, f"{kind} found: {extra[:5]}")
    if (unseen := _unseen(expect, obs)) is not None:
        return unseen
    if not obs["complete"]:
        return Judgement(UNVERIFIED, f"the walk stopped after {obs.get('scanned')} entries")
    return Judgement(PASS, f"no {' or '.join(kinds)} among {obs.get('scanned')} entries{unlisted(obs)}")


JUDGES: dict[str, Judge] = {
    "write": _write,
    "listing": _listing,
    "kpaths": _kernel_paths,
    "devices": _devices,
    "mmap_exec": errno_in,
    "walk": _walk,
}
