"""Process integrity, checked before any other observation is believed: every file mapped
into the harness's own process must be one the image declares, byte for byte.

A preloaded shim (LD_PRELOAD, /etc/ld.so.preload, a library bound over the image's) can
make libc answer EPERM while the kernel allows everything, so that every probe that goes
through libc sees a sandbox that is not there. Such a library shows in /proc/self/maps.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

from .verdicts import ERROR, FAIL, PASS, Judgement

PSEUDO_MAPPINGS = frozenset({"[heap]", "[stack]", "[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]", "[uprobes]"})
"""Kernel-provided mappings with a bracketed name (fs/proc/task_mmu.c, arch vdso code)."""


def _sha256(path: str) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def maps(params: Mapping[str, Any]) -> dict[str, Any]:  # noqa: ARG001 - one signature for every probe
    """Every mapped file with its sha256, and whether the file now at that path is the one
    mapped (device and inode as /proc/self/maps gives them)."""
    with open("/proc/self/maps", encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().splitlines()
    files: dict[str, dict[str, Any]] = {}
    named: set[str] = set()
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) < 6:
            continue  # anonymous memory
        dev, inode, name = fields[3], int(fields[4]), fields[5]
        if inode == 0:
            named.add(name)
            continue
        if name in files:
            continue
        entry: dict[str, Any] = {"maps_device": dev, "maps_inode": inode, "sha256": None, "same_file": False}
        try:
            st = os.stat(name)
            entry["same_file"] = st.st_ino == inode and f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}" == dev
            entry["sha256"] = _sha256(name)
        except (OSError, ValueError):
            pass
        files[name] = entry
    return {"files": dict(sorted(files.items())), "other": sorted(named)}


def judge(expect: Mapping[str, Any], obs: Mapping[str, Any]) -> Judgement:
    files, other = obs.get("files"), obs.get("other")
    declared: dict[str, str] = expect["files"]
    if not isinstance(files, dict) or not isinstance(other, list) or not files:
        return Judgement(ERROR, "no memory map recorded")
    problems = []
    for path, entry in sorted(files.items()):
        if not isinstance(entry, dict):
            return Judgement(ERROR, f"{path}: malformed entry")
        if path not in declared:
            problems.append(f"{path} is mapped but not a file of the image")
        elif entry.get("sha256") != declared[path]:
            problems.append(f"{path} differs from the image's ({str(entry.get('sha256'))[:12]})")
        elif entry.get("same_file") is not True:
            problems.append(f"{path}: the mapped file is not the one at that path")
    strange = sorted(str(n) for n in other if n not in PSEUDO_MAPPINGS and not str(n).startswith("[anon:"))
    if strange:
        problems.append(f"mappings of no image file: {strange}")
    if problems:
        return Judgement(FAIL, "; ".join(problems))
    return Judgement(PASS, f"{len(files)} mapped files, each byte for byte a file of the image")
