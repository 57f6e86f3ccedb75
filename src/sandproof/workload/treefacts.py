"""PR-ROOTFS-1 in a user's image: its tree as outside facts, and the exact expectation from them.

attest reads the image's tree from outside, from the layers the image ID names (the engine's
own export, each layer hashed against its diff_id: ``layer_lines``), as ``inspector/tree.py``
lines with the fields the harness's walk records; a file dropped into the tree unpacked on the
host (``image.rootfs``, the one runc runs, which ``host_lines`` reads by lstat in the tests)
is then not in the facts, and the walk inside sees it. The workload record keeps, per
top-level entry, its count and digest, and the lines of the small ones (where mount points and
the runtime's own entries land), so the evidence stays bounded; of a larger one, only the
directories not open to every user. The verifier derives the same expectation from the record
alone (it cannot see the image): the image's lines less mount points, plus what runtimes make
(``imagetree``), as the sandbox user can see them (a directory it cannot list or enter hides
what is in it from the walk).
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from sandproof import imagetree
from sandproof.inspector import tree

FORMAT = 1
LINES_MAX = 2_000
"""A top-level entry with at most this many lines has them recorded (a Debian /etc has ~400);
of a larger one (/usr) the digest alone."""
TOTAL_MAX = 10_000
"""Lines recorded in all: the smallest top-level entries first, so a record stays under ~1 MiB
(the schema's bound on it is 4 MiB)."""
OPEN = 0o555
"""A directory with r and x for its owner, group and others: every user lists and enters it."""


def host_lines(root: Path, skip: Iterable[str] = ()) -> dict[str, str]:
    """The tree at ``root`` as the walk would record it as ``/`` (path -> line), less ``skip``
    and what is below (the harness's own mount point, made in the shared tree)."""
    dropped = {p.rstrip("/") for p in skip}
    st = os.lstat(root)
    out = {"/": tree.line("/", st.st_mode, st.st_uid, st.st_gid)}
    for top, dirs, files in os.walk(root):
        rel = "/" + os.path.relpath(top, root).removeprefix(".").lstrip("/")
        dirs[:] = [d for d in dirs if _join(rel, d) not in dropped]
        for name in [*dirs, *files]:
            path, inside = os.path.join(top, name), _join(rel, name)
            if inside in dropped:
                continue
            est = os.lstat(path)
            extra = ""
            if stat.S_ISLNK(est.st_mode):
                extra = os.readlink(path)
            elif stat.S_ISCHR(est.st_mode) or stat.S_ISBLK(est.st_mode):
                extra = f"{os.major(est.st_rdev)}:{os.minor(est.st_rdev)}"
            size, mtime = est.st_size, int(est.st_mtime)
            out[inside] = tree.line(inside, est.st_mode, est.st_uid, est.st_gid, size=size, mtime=mtime, extra=extra)
    return out


def layer_lines(layers: Iterable[Path], skip: Iterable[str] = ()) -> dict[str, str]:
    """The lines of the tree a stack of layer tars makes (lowest first), as ``unpack.apply``
    makes it on the host and the engine in its own layers: ``imagetree.apply_layer``, with each
    missing parent a directory (0755, root's: moby's MkdirAll in UnpackLayer, over a lower
    layer's non-directory there too), and the root 0755 when no layer has a "./" entry. Less
    ``skip`` and what is below it."""
    lines: dict[str, str] = {"/": tree.line("/", imagetree.DIR_MODE, 0, 0)}
    for layer in layers:
        with tarfile.open(layer) as tar:
            members = tar.getmembers()
        for m in members:
            path = imagetree._path(m.name)
            for parent in [str(d) for d in PurePosixPath(path).parents if str(d) != "/"][::-1]:
                if not lines.get(parent, "").startswith(parent + "|dir|"):
                    imagetree._drop(lines, parent)
                    lines[parent] = tree.line(parent, imagetree.DIR_MODE, 0, 0)
        imagetree.apply_layer(lines, members)
    for p in skip:
        imagetree._drop(lines, p.rstrip("/"))
    return lines


def _join(parent: str, name: str) -> str:
    return parent.rstrip("/") + "/" + name


def _fields(ln: str) -> list[str]:
    return ln.split("|")


_DIR = re.compile(r"/[^|]*\|dir\|[0-7]{4}\|[0-9]{1,10}\|[0-9]{1,10}\Z")
"""A directory's line (``tree.line``): every other field of a recorded one is only digested."""


def _is_dir(ln: str) -> bool:
    return _DIR.match(ln) is not None


def _restricted(ln: str) -> bool:
    return _is_dir(ln) and int(_fields(ln)[2], 8) & OPEN != OPEN


def record(lines: Mapping[str, str]) -> str:
    """The workload record's ``rootfs``: compact JSON of the digests per top-level entry, the
    lines of the small ones, and of the others their restricted directories ([line, whether
    anything is below it])."""
    groups = imagetree.by_top(lines.values())
    small: dict[str, list[str]] = {}
    for t, g in sorted(groups.items(), key=lambda item: (len(item[1]), item[0])):
        if len(g) > LINES_MAX or sum(map(len, small.values())) + len(g) > TOTAL_MAX:
            break
        small[t] = sorted(g)
    small = dict(sorted(small.items()))
    restricted: dict[str, list[list[Any]]] = {}
    for t, g in sorted(groups.items()):
        if t in small:
            continue
        paths = [ln.split("|", 1)[0] for ln in g]
        for ln in sorted(ln for ln in g if _restricted(ln)):
            below = ln.split("|", 1)[0] + "/"
            restricted.setdefault(t, []).append([ln, any(p.startswith(below) for p in paths)])
    doc = {"format": FORMAT, "digests": tree.digests(groups), "lines": small, "restricted": restricted}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def problem(text: str) -> str:  # noqa: PLR0911 - one reason per part
    """Why a recorded ``rootfs`` is not one ("" when it is; "" for none: an older record)."""
    if not text:
        return ""
    try:
        doc = json.loads(text)
    except ValueError:
        return "the workload record's rootfs is not JSON"
    if (
        not isinstance(doc, dict)
        or doc.get("format") != FORMAT
        or sorted(doc)
        != [
            "digests",
            "format",
            "lines",
            "restricted",
        ]
    ):
        return f"the workload record's rootfs is not format {FORMAT} (digests, lines, restricted)"
    digests, lines, restricted = doc["digests"], doc["lines"], doc["restricted"]
    if not isinstance(digests, dict) or not all(
        isinstance(v, list)
        and len(v) == 2
        and isinstance(v[0], int)
        and not isinstance(v[0], bool)
        and v[0] >= 0
        and isinstance(v[1], str)
        for v in digests.values()
    ):
        return "the workload record's rootfs digests are not [count, digest] pairs"
    if not isinstance(lines, dict) or not all(
        t in digests
        and isinstance(g, list)
        and all(isinstance(ln, str) and _top_of(ln) == t and (ln.split("|")[1:2] != ["dir"] or _is_dir(ln)) for ln in g)
        for t, g in lines.items()
    ):
        return "the workload record's rootfs lines are not lists of lines of recorded top-level entries"
    if tree.digests({t: list(g) for t, g in lines.items()}) != {t: digests[t] for t in lines}:
        return "the workload record's rootfs lines do not have their recorded digests"
    if not isinstance(restricted, dict) or not all(
        t in digests
        and t not in lines
        and isinstance(g, list)
        and all(
            isinstance(r, list)
            and len(r) == 2
            and isinstance(r[0], str)
            and _restricted(r[0])
            and isinstance(r[1], bool)
            for r in g
        )
        for t, g in restricted.items()
    ):
        return "the workload record's rootfs restricted directories are not [line, bool] of unrecorded entries"
    return ""


def _under(path: str, prefixes: list[str]) -> bool:
    """``path`` is one of the directories ``prefixes`` names (each ending in /), or below one."""
    return any((path + "/").startswith(p) for p in prefixes)


def _top_of(ln: str) -> str:
    return tree.top(ln.split("|", 1)[0])


def _access(ln: str, uid: int, gid: int) -> tuple[bool, bool]:
    """(can list, can enter) the directory of ``ln`` as uid:gid without capabilities."""
    f = _fields(ln)
    mode, owner, group = int(f[2], 8), int(f[3]), int(f[4])
    bits = mode >> 6 if uid == owner else mode >> 3 if gid == group else mode
    return bool(bits & 0o4), bool(bits & 0o1)


def expected(text: str, mount_points: Iterable[str], own: Iterable[str], uid: int, gid: int) -> dict[str, Any]:
    """``_expected``, remembered per inputs (a plan is built more than once per run, and the
    walk rows ask too): a fresh copy each time, the plan's rows are its own."""
    got = _remembered(text, tuple(sorted(set(mount_points))), tuple(own), uid, gid)
    return {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v) for k, v in got.items()}


@functools.lru_cache(maxsize=16)
def _remembered(text: str, mount_points: tuple[str, ...], own: tuple[str, ...], uid: int, gid: int) -> dict[str, Any]:
    return _expected(text, mount_points, own, uid, gid)


def _expected(text: str, mount_points: Iterable[str], own: Iterable[str], uid: int, gid: int) -> dict[str, Any]:
    """PR-ROOTFS-1's expectation from a checked record (``problem``): ``digests``, ``unlistable``
    and ``searchable`` (``_unlistable``); or ``unverified`` and why, when a top-level entry that
    changes (a mount point or a runtime's own entry in it) has only its digest recorded."""
    if not text:
        return {"unverified": "the workload record holds no tree of the image (an older sandproof wrote it)"}
    doc = json.loads(text)
    digests: dict[str, list[int | str]] = doc["digests"]
    recorded: dict[str, list[str]] = doc["lines"]
    lines = {ln.split("|", 1)[0]: ln for g in recorded.values() for ln in g}
    base = dict(lines)
    points = sorted({p.rstrip("/") or "/" for p in mount_points if "*" not in p and p != "/"})
    for point in points:
        for parent in [str(d) for d in Path(point).parents if str(d) != "/"][::-1]:
            if parent not in lines:
                lines[parent] = tree.line(parent, imagetree.DIR_MODE, 0, 0)
    for point in points:
        imagetree._drop(lines, point)
    for ln in own:
        lines[ln.split("|", 1)[0]] = ln
    changed = {tree.top(p) for p in set(lines) ^ set(base)} | {tree.top(p) for p in lines if base.get(p) != lines[p]}
    changed |= {tree.top(p) for p in points}  # what is below one, when its lines are not recorded
    hidden, unlistable, why = _unseen(lines, doc["restricted"], points, uid, gid)
    seen = {"unlistable": unlistable, "searchable": []}
    unrecorded = sorted(t for t in changed if t in digests and t not in recorded)
    if why or unrecorded:
        why = why or f"the image's /{unrecorded[0]} changes under this profile and only its digest is recorded"
        return {"unverified": why, **seen}
    below = [h + "/" for h in hidden]
    visible = {p: ln for p, ln in lines.items() if not any(p.startswith(b) for b in below)}
    changed |= {tree.top(p) for p in set(lines) - set(visible)}
    out = {t: d for t, d in digests.items() if t not in changed}
    out.update(tree.digests(imagetree.by_top(ln for p, ln in visible.items() if tree.top(p) in changed)))
    return {"digests": dict(sorted(out.items())), **seen}


def _unseen(
    lines: Mapping[str, str], restricted: Mapping[str, list[list[Any]]], points: list[str], uid: int, gid: int
) -> tuple[list[str], list[str], str]:
    """What of the image the walk cannot see as uid:gid (no capabilities): the directories whose
    entries it misses, the ones of them it cannot list (``unlistable``, as in our own image's
    /root: out of the user's reach unless it can enter one, ``searchable``, which is never
    expected: a name in it reachable, unseen), and why it cannot be derived ("" when it can).
    A directory it can list but not enter is not expected either: each name in it is unseen
    (``inspector/probes/filesystem.py _stat``), and the walk rows FAIL naming them."""
    covered = [p + "/" for p in points]
    dirs = {ln.split("|", 1)[0]: (ln, False) for ln in lines.values() if _restricted(ln)}
    for g in restricted.values():
        for ln, below in g:
            if not _under(ln.split("|", 1)[0], covered):
                dirs[ln.split("|", 1)[0]] = (ln, below)
    hidden: list[str] = []
    unlistable: list[str] = []
    for path, (ln, below) in sorted(dirs.items()):
        if _under(path, [h + "/" for h in hidden]):
            continue  # the walk never reaches it
        can_list, can_enter = _access(ln, uid, gid)
        if can_list and can_enter:
            continue
        if below:  # in a top-level entry whose lines are not recorded
            return (
                hidden,
                unlistable,
                f"the image's {path} hides entries from the sandbox user, and only /{tree.top(path)}'s digest "
                "is recorded",
            )
        hidden.append(path)
        if not can_list:
            unlistable.append(path)
    return hidden, sorted(unlistable), ""


def hidden(text: str, mount_points: Iterable[str], own: Iterable[str], uid: int, gid: int) -> dict[str, Any] | None:
    """The walk rows' ``unlistable`` and ``searchable`` for this image (None: not derivable)."""
    got = expected(text, mount_points, own, uid, gid)
    return {k: got[k] for k in ("unlistable", "searchable")} if "unlistable" in got else None
