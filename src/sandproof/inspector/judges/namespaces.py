"""Namespaces: own pid, ipc, uts, cgroup and user namespaces (none the host's initial one), the
user-namespace routes denied, the id maps and the namespaced sysctls exactly as expected."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .common import ERROR, FAIL, PASS, Judge, Judgement, errno_in, obj, strict_int

# include/linux/proc_ns.h: the initial namespaces have fixed inode numbers, so a process
# can tell from inside that it shares the host's namespace
INIT_NS_INODES = {
    "ipc": 0xEFFFFFFF,
    "uts": 0xEFFFFFFE,
    "user": 0xEFFFFFFD,
    "pid": 0xEFFFFFFC,
    "cgroup": 0xEFFFFFFB,
    "time": 0xEFFFFFFA,
}


SENTRY_NS = ["net", "pid", "user"]
"""All gVisor's /proc/self/ns lists (pkg/sentry/fsimpl/proc/task.go newTaskInode): its IPC, UTS
and cgroup namespaces are the sentry's own objects, never the host's, and have no link."""


def _sentry_own(expect: Mapping[str, Any], obs: Mapping[str, Any], ns: str) -> Judgement | None:
    """Under gVisor (the plan says so: runtime runsc) a missing link is the true observation,
    when the listing is exactly gVisor's; anywhere else it proves nothing."""
    if obs.get("link") is not None or not expect.get("sentry"):
        return None
    if obs.get("listed") != SENTRY_NS:
        return Judgement(
            FAIL, f"no {ns} namespace link and /proc/self/ns lists {obs.get('listed')!r}, not gVisor's {SENTRY_NS}"
        )
    return Judgement(
        PASS, f"gVisor: the {ns} namespace is the sentry's own (no host link; /proc/self/ns lists {SENTRY_NS})"
    )


# fs/proc/namespaces.c ns_entries: every name /proc/self/ns can list (Linux 6.x; the
# *_for_children links since 4.12 and 5.6). A name outside it is no listing the kernel made.
KERNEL_NS = frozenset(
    {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts"}
)


def _listed(obs: Mapping[str, Any], ns: str) -> Judgement | None:
    """What is wrong with the recorded /proc/self/ns listing, or None: sorted names of the
    kernel's, the probed namespace's own among them when its link was read."""
    listed = obs.get("listed")
    if "listed" not in obs:  # a record before it was recorded has none
        return None
    if not isinstance(listed, list) or listed != sorted(set(listed)) or not set(listed) <= KERNEL_NS:
        return Judgement(ERROR, f"/proc/self/ns is recorded as {str(listed)[:120]}: not a listing the kernel makes")
    if obs.get("link") is not None and ns not in listed:
        return Judgement(ERROR, f"a {ns} namespace link was read, yet /proc/self/ns lists no {ns}")
    return None


def _ns(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    link, ns = obs.get("link"), expect["ns"]
    if (first := _listed(obs, ns) or _sentry_own(expect, obs, ns)) is not None:
        return first
    m = re.fullmatch(rf"{ns}:\[([0-9]{{1,20}})\]", link) if isinstance(link, str) else None
    if m is None:
        return Judgement(ERROR, f"no {ns} namespace link recorded")
    if expect.get("initial"):
        return _initial(ns, m.group(0), int(m.group(1)), obs)
    if int(m.group(1)) == INIT_NS_INODES[ns]:
        return Judgement(FAIL, f"shares the host's initial {ns} namespace ({link})")
    if ns == "ipc" and (seen := _sysvipc(obs)) is not None:
        return seen
    return Judgement(PASS, f"own {ns} namespace {link}")


def _sysvipc(obs: Mapping[str, Any]) -> Judgement | None:
    """What is wrong with the SysV IPC objects in sight, or None: a fresh IPC namespace holds none."""
    objects = obs.get("sysvipc")
    if not isinstance(objects, dict) or not all(isinstance(objects.get(k), int) for k in ("shm", "msg", "sem")):
        return Judgement(ERROR, "no count of SysV IPC objects recorded")
    held = {k: n for k, n in sorted(objects.items()) if n}
    if held:
        return Judgement(FAIL, f"SysV IPC objects of other processes are visible: {held} (a shared IPC namespace)")
    return None


def _initial(ns: str, link: str, inode: int, obs: Mapping[str, Any]) -> Judgement:
    """A namespace that no runtime here makes (time: runc 1.1 knows none, Docker, Podman and a
    kubelet ask for none): the sandbox is in the host's initial one, and so are its children.
    Any other was made by whoever started the runtime, which the container inherits unseen by
    the config and the engine: its CLOCK_MONOTONIC and CLOCK_BOOTTIME offset from the host's."""
    init = f"{ns}:[{INIT_NS_INODES[ns]}]"
    if inode != INIT_NS_INODES[ns]:
        return Judgement(FAIL, f"in {ns} namespace {link}, not the host's initial {init}: its clocks may be offset")
    children = obs.get("children")
    if not isinstance(children, str):
        return Judgement(ERROR, f"no {ns}_for_children link recorded")
    if children != link:
        return Judgement(FAIL, f"its children get {ns} namespace {children}, not the host's initial {init}")
    return Judgement(PASS, f"the host's initial {ns} namespace {link}, its children's too")


# include/uapi/asm-generic/errno-base.h and errno.h: the numbers of the errors these routes
# can answer (the same on x86_64 and arm64, both asm-generic). The verifier's own errno
# module is its platform's (macOS: ENOSYS is 78), so the Linux numbers are written here.
LINUX_ERRNO = {"EPERM": 1, "ENOENT": 2, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13, "EFAULT": 14, "EBUSY": 16}
LINUX_ERRNO |= {"EINVAL": 22, "ENOSPC": 28, "ENOSYS": 38, "EUSERS": 87, "EOPNOTSUPP": 95}
MAX_ERRNO = 4095  # include/linux/err.h: a raw answer in -4095..-1 is an error


def _route_contradiction(name: str, route: Mapping[str, Any]) -> str | None:
    """Why a route's recorded answer contradicts itself, or None. The probe records the raw
    syscall's return (``ret``, probes/namespaces.py _route) beside the outcome and errno it
    read from it: an error is a return of -errno, a new namespace a return of 0 or more."""
    ret, outcome, err = route.get("ret"), route.get("outcome"), route.get("errno")
    if type(ret) is not int:
        return f"{name}: no raw return recorded ({ret!r})"
    if outcome == "error":
        number = LINUX_ERRNO.get(err) if isinstance(err, str) else None
        if not -MAX_ERRNO <= ret < 0 or (number is not None and ret != -number):
            return f"{name}: recorded as denied with {err} but the call returned {ret}"
    elif ret < 0 or err is not None:
        return f"{name}: recorded as {outcome!r} but the call returned {ret} (errno {err})"
    return None


def _userns(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    routes = obs.get("routes")
    if not isinstance(routes, dict):
        return Judgement(ERROR, "no route recorded")
    torn = [w for name in sorted(expect["routes"]) if (w := _route_contradiction(name, obj(routes.get(name))))]
    if torn:  # a self-contradictory observation is never judged: neither its denial nor its success is believed
        return Judgement(ERROR, f"contradictory observation: {'; '.join(torn)}")
    results = {
        name: errno_in({"errno_in": allowed}, obj(routes.get(name)))
        for name, allowed in sorted(expect["routes"].items())
    }
    bad = [f"{name}: {v.reason}" for name, v in results.items() if v.verdict != PASS]
    if bad:
        worst = ERROR if all(v.verdict == ERROR for v in results.values() if v.verdict != PASS) else FAIL
        return Judgement(worst, "; ".join(bad))
    return Judgement(PASS, "; ".join(f"{n} {v.reason}" for n, v in results.items()))


def _cgroupns(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    return _listed(obs, "cgroup") or _cgroup_paths(expect, obs)


def _cgroup_paths(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    link, text = obs.get("link"), obs.get("cgroup")
    if expect["mode"] == "private" and (sentry := _sentry_own({"sentry": expect.get("sentry")}, obs, "cgroup")):
        if sentry.verdict == PASS and text != "":  # its /proc/self/cgroup is empty while no cgroupfs is mounted
            return Judgement(FAIL, f"gVisor shows cgroup paths {text!r:.80}: a cgroup hierarchy is mounted")
        return sentry
    m = re.fullmatch(r"cgroup:\[(\d+)\]", link) if isinstance(link, str) else None
    if m is None or not isinstance(text, str) or not text.strip():
        return Judgement(ERROR, "no cgroup namespace link or /proc/self/cgroup recorded")
    # in a cgroup namespace of its own, every hierarchy's path is its root "/"
    # (kernel/cgroup/cgroup.c proc_cgroup_show prints paths relative to the namespace root)
    paths = sorted({line.split(":", 2)[2] for line in text.strip().splitlines() if line.count(":") >= 2})
    shared = int(m.group(1)) == INIT_NS_INODES["cgroup"]
    if expect["mode"] != "private":
        return Judgement(PASS, f"the profile allows the {expect['mode']} cgroup namespace ({link}, paths {paths[:2]})")
    if shared or paths != ["/"]:
        where = "the host's initial cgroup namespace" if shared else "a cgroup namespace that is not its own"
        return Judgement(FAIL, f"{where} ({link}): cgroup paths {paths[:3]} show the host's hierarchy")
    return Judgement(PASS, f"own cgroup namespace {link}, every path '/'")


def _map(text: object) -> list[list[int]]:
    if not isinstance(text, str):
        raise ValueError("no id map recorded")
    return [[strict_int(x) for x in line.split()] for line in text.strip().splitlines()]


def _idmap(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    problems = []
    for key in ("uid_map", "gid_map"):
        got, want = _map(obs.get(key)), expect[key]
        if got != want:
            problems.append(f"{key} is {got}, expected {want}")
    if problems:
        return Judgement(FAIL, "; ".join(problems) + f" ({obs.get('link')})")
    return Judgement(PASS, f"uid_map and gid_map exactly {expect['uid_map']} ({obs.get('link')})")


def _sysctls(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    got = obs.get("values")
    if not isinstance(got, dict):
        return Judgement(ERROR, "no sysctl values recorded")
    optional = set(expect.get("optional", []))
    wrong, absent = [], []
    for name, want in sorted(expect["values"].items()):
        if name not in got:
            return Judgement(ERROR, f"{name} not read")
        if got[name] is None:
            if name not in optional:  # the profile or the runtime set it: it must be there
                wrong.append(f"{name} is missing, expected {want!r}")
            absent.append(name)
        elif got[name] != want:
            wrong.append(f"{name} is {got[name]!r}, expected {want!r}")
    if wrong:
        return Judgement(FAIL, "; ".join(wrong[:6]))
    note = f" ({len(absent)} not on this kernel)" if absent else ""
    return Judgement(PASS, f"{len(expect['values']) - len(absent)} namespaced sysctls as expected{note}")


JUDGES: dict[str, Judge] = {
    "ns": _ns,
    "userns": _userns,
    "cgroupns": _cgroupns,
    "idmap": _idmap,
    "sysctls": _sysctls,
}
