"""Filesystem probes: writes where the profile forbids or allows them, the input directory, the
mount table, the masked and read-only kernel paths, the /dev inventory, a PROT_EXEC mapping of
the scratch tmpfs, and the walk of every non-pseudo filesystem."""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
import stat
from collections.abc import Mapping
from typing import Any

from ..catalog import PSEUDO_FS  # noqa: TID252 - the image names the package "inspector"
from ..judges.mounts import visible  # noqa: TID252 - the image names the package "inspector"
from ..tree import FRESH, digests, line, top  # noqa: TID252 - the image names the package "inspector"
from .common import Observation, Probe, err


def write(params: Mapping[str, Any]) -> Observation:
    path = params["path"]
    if params.get("mkdir"):  # gVisor checks a mount's read-only flag first only for mkdir
        try:
            os.mkdir(path, 0o700)
        except OSError as exc:
            return err(exc)
        os.rmdir(path)
        return {"outcome": "wrote", "errno": None}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        return err(exc)
    os.write(fd, b"sandproof probe\n")
    os.close(fd)
    os.unlink(path)  # leave nothing behind where the write should not have worked
    return {"outcome": "wrote", "errno": None}


def listing(params: Mapping[str, Any]) -> Observation:
    """Every entry of a directory with its type, and a regular file's sha256: /in must be the
    directory attest made, not a host directory with other data beside a copy of the plan."""
    entries: dict[str, Any] = {}
    with os.scandir(params["dir"]) as it:
        for e in it:
            if e.is_file(follow_symlinks=False):
                with open(e.path, "rb") as f:
                    entries[e.name] = {"type": "file", "sha256": hashlib.sha256(f.read(1 << 20)).hexdigest()}
            else:
                entries[e.name] = {"type": "dir" if e.is_dir(follow_symlinks=False) else "other"}
    return {"entries": dict(sorted(entries.items()))}


def read_mounts(params: Mapping[str, Any]) -> Observation:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return {"mountinfo": f.read()}


def _kind(st: os.stat_result) -> str:
    return "dir" if stat.S_ISDIR(st.st_mode) else "chr" if stat.S_ISCHR(st.st_mode) else "other"


def _masked(path: str) -> dict[str, Any]:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {"exists": False}
    entry: dict[str, Any] = {"exists": True, "type": _kind(st)}
    try:
        if entry["type"] == "dir":
            entry["entries"] = len(os.listdir(path))
            entry["read_only"] = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
            if not entry["read_only"]:  # gVisor's sysfs: an empty directory, its flag not shown
                entry["write"] = _try_write(path)
        elif entry["type"] == "chr":
            entry["rdev"] = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    except OSError as exc:
        entry["error"] = str(exc)[:200]
    return entry


def _try_write(path: str) -> str:
    """A write into ``path`` (a new file in a directory, else the file itself): its errno
    name, or "written" (then removed again)."""
    target = os.path.join(path, "__sandproof_probe") if os.path.isdir(path) else path
    flags = os.O_WRONLY | (os.O_CREAT | os.O_EXCL if target != path else 0)
    try:
        fd = os.open(target, flags, 0o600)
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc.errno))
    os.close(fd)
    if target != path:
        os.unlink(target)
    return "written"


def kernel_paths(params: Mapping[str, Any]) -> dict[str, Any]:
    """Masked paths must show nothing and read-only paths must sit on a read-only mount,
    as seen from here: a masked file is the null device bound over it (an unmasked
    /proc/keys may read empty too), a masked directory an empty read-only tmpfs."""
    read_only: dict[str, Any] = {}
    for path in params["read_only"]:
        try:
            flags = os.statvfs(path).f_flag
        except FileNotFoundError:
            read_only[path] = {"exists": False}
            continue
        except OSError as exc:  # gVisor's procfs has no statfs (ENOSYS): try a write instead
            read_only[path] = {
                "exists": True,
                "statvfs": errno.errorcode.get(exc.errno or 0),
                "write": _try_write(path),
            }
            continue
        read_only[path] = {"exists": True, "read_only": bool(flags & os.ST_RDONLY)}
    return {"masked": {path: _masked(path) for path in params["masked"]}, "read_only": read_only}


DEVICES_LIST = "/sys/fs/cgroup/devices/devices.list"

_TYPES = (
    (stat.S_ISCHR, "chr"),
    (stat.S_ISBLK, "blk"),
    (stat.S_ISDIR, "dir"),
    (stat.S_ISLNK, "lnk"),
    (stat.S_ISREG, "reg"),
    (stat.S_ISSOCK, "sock"),
    (stat.S_ISFIFO, "fifo"),
)


def describe(path: str, st: os.stat_result) -> str:
    """One node as a comparable string: ``chr 1:3 0666``, ``lnk /proc/self/fd``, ``dir 0755``."""
    kind = next((name for test, name in _TYPES if test(st.st_mode)), "other")
    perms = f"{stat.S_IMODE(st.st_mode):04o}"
    if kind in ("chr", "blk"):
        return f"{kind} {os.major(st.st_rdev)}:{os.minor(st.st_rdev)} {perms}"
    if kind == "lnk":
        return f"lnk {os.readlink(path)}"
    return f"{kind} {perms}"


def inventory(params: Mapping[str, Any]) -> dict[str, Any]:
    nodes: dict[str, str] = {}
    unreadable: list[str] = []
    stack = [params["root"]]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            unreadable.append(d)
            continue
        for e in entries:
            st = e.stat(follow_symlinks=False)
            nodes[e.path] = describe(e.path, st)
            if stat.S_ISDIR(st.st_mode):
                stack.append(e.path)
    try:
        with open(DEVICES_LIST, encoding="utf-8") as f:
            cgroup: list[str] | None = sorted(f.read().split("\n")[:-1])
    except OSError:
        cgroup = None  # cgroup v2 keeps the device policy in an eBPF program, not a file
    return {"nodes": dict(sorted(nodes.items())), "unreadable": sorted(unreadable), "devices_list": cgroup}


def mmap_exec(params: Mapping[str, Any]) -> Observation:
    """noexec proven without execve: mapping a file of the mount PROT_EXEC must fail."""
    path = os.path.join(params["dir"], f".sandproof-{os.urandom(6).hex()}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.unlink(path)
        os.write(fd, b"\0" * mmap.PAGESIZE)
        try:
            m = mmap.mmap(fd, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_EXEC)
        except OSError as exc:
            return {"outcome": "error", "errno": errno.errorcode.get(exc.errno or 0, "E?"), "message": str(exc)}
        m.close()
        return {"outcome": "mapped", "errno": None}
    finally:
        os.close(fd)


def _file_caps(path: str) -> str | None:
    """A file capability (security.capability, set by setcap) grants its capabilities at
    execve without setuid (security/commoncap.c get_file_caps); no_new_privileges does not
    stop them for a process that already has them bounded. None when the file has none."""
    try:
        os.getxattr(path, "security.capability", follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.EOPNOTSUPP):
            return None
        return f"{path} ({errno.errorcode.get(exc.errno or 0, 'E?')})"  # unreadable: not known to be clean
    return path


def _regular(path: str, mode: int, setid: list[str], file_caps: list[str]) -> None:
    if mode & (stat.S_ISUID | stat.S_ISGID):
        setid.append(path)
    if cap := _file_caps(path):
        file_caps.append(cap)


def _enterable(d: str) -> bool:
    """Can this process resolve a name inside ``d``? Looking up "." in it needs search (x)
    permission on ``d`` itself (fs/namei.c may_lookup), without read: the behaviour, not the bits."""
    try:
        os.stat(os.path.join(d, "."))
    except OSError:
        return False
    return True


def _stat(e: os.DirEntry[str], unreadable: list[str]) -> os.stat_result | None:
    try:
        return e.stat(follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.EACCES:
            unreadable.append(e.path)  # listed but not enterable (mode 0744): unseen, not absent
        return None  # gone meanwhile (ENOENT): nothing there to see


def _entry_line(path: str, st: os.stat_result, fresh: frozenset[str]) -> str:
    extra = ""
    if stat.S_ISLNK(st.st_mode):
        try:
            extra = os.readlink(path)
        except OSError as exc:
            extra = f"<{errno.errorcode.get(exc.errno or 0, 'E?')}>"
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        extra = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    mtime = FRESH if path in fresh else int(st.st_mtime)
    return line(path, st.st_mode, st.st_uid, st.st_gid, size=st.st_size, mtime=mtime, extra=extra)


_MANGLED = (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\"))
"""What mountinfo escapes in a path (fs/proc_namespace.c show_mountinfo: mangle " \t\n\\")."""


def _point(row: str) -> str:
    """A mountinfo line's mount point, the fifth field (proc(5)), unescaped."""
    point = row.split(" ")[4]
    for code, char in _MANGLED:
        point = point.replace(code, char)
    return point


class _Tree:
    """PR-ROOTFS-1's lines, gathered in the walk's own pass from the stat it takes anyway."""

    def __init__(self, mountinfo: str, params: Mapping[str, Any]) -> None:
        self.on = isinstance(params.get("rootfs"), dict)
        self.fresh = frozenset(params["rootfs"].get("fresh", ())) if self.on else frozenset()
        # every other mount point, a bound file (/etc/hosts) too: what is at or below it is
        # that filesystem's, not the image's (the image's entry there is hidden under it)
        self.other = {_point(row) for row in mountinfo.splitlines() if row.count(" ") >= 4} - {"/"}
        self.lines: dict[str, list[str]] = {}
        if self.on:
            st = os.lstat("/")
            self.lines["/"] = [line("/", st.st_mode, st.st_uid, st.st_gid)]

    def add(self, own: bool, path: str, st: os.stat_result) -> bool:
        """Record ``path`` when it is the root filesystem's (``own``: its directory is); True if so."""
        if not own or path in self.other:
            return False
        self.lines.setdefault(top(path), []).append(_entry_line(path, st, self.fresh))
        return True

    def result(self) -> dict[str, Any]:
        return {"rootfs": digests(self.lines)} if self.on else {}


def walk(params: Mapping[str, Any]) -> Observation:
    """Every file reachable outside pseudo filesystems: setuid/setgid files, file
    capabilities, world-writable directories and sockets; with ``rootfs`` (its ``fresh``:
    the runtime's files made at each run, their mtime left out), every entry of the root
    filesystem itself (not at or below another mount point) as canonical lines, digested
    per top-level entry (PR-ROOTFS-1), in the same pass."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        text = f.read()
    skip = {mp for mp, m in visible(text).items() if m.fstype in PSEUDO_FS}
    tree = _Tree(text, params)
    setid: list[str] = []
    sockets: list[str] = []
    devices: list[str] = []
    unreadable: list[str] = []
    searchable: list[str] = []
    writable_dirs: list[str] = []
    file_caps: list[str] = []
    scanned = 0
    stack = [("/", tree.on)]
    while stack and scanned < int(params["limit"]):
        d, own = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            unreadable.append(d)
            if _enterable(d):
                searchable.append(d)  # mode 0711: a name in it is reachable, and no listing shows it
            continue
        for e in entries:
            scanned += 1
            st = _stat(e, unreadable)
            if st is None:
                continue
            mode = st.st_mode
            on_root = tree.add(own, e.path, st)
            if stat.S_ISDIR(mode):
                if mode & stat.S_IWOTH:
                    writable_dirs.append(e.path)  # anyone may plant files there, if it is writable
                if e.path not in skip:
                    stack.append((e.path, on_root))
                continue
            if stat.S_ISREG(mode):
                _regular(e.path, mode, setid, file_caps)
            elif (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and not e.path.startswith("/dev/"):
                devices.append(e.path)  # a node on a bind without nodev opens the host's device
            elif stat.S_ISSOCK(mode):
                sockets.append(e.path)
    try:  # bound unix sockets of this network namespace, abstract ones included (net/unix/af_unix.c)
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as f:
            sockets += [f"unix:{row.split()[-1] if len(row.split()) > 7 else '(unnamed)'}" for row in f.readlines()[1:]]
    except OSError:
        sockets.append("unix:(/proc/net/unix unreadable)")
    return {
        **tree.result(),
        "setid": sorted(setid),
        "world_writable": sorted(writable_dirs),
        "file_caps": sorted(file_caps),
        "sockets": sorted(sockets),
        "devices": sorted(devices),
        "unreadable": sorted(unreadable),
        "searchable": sorted(searchable),
        "scanned": scanned,
        "complete": not stack,
        "skipped": sorted(skip),
    }


PROBES: dict[str, Probe] = {
    "write": write,
    "listing": listing,
    "mounts": read_mounts,
    "kpaths": kernel_paths,
    "devices": inventory,
    "mmap_exec": mmap_exec,
    "walk": walk,
}
