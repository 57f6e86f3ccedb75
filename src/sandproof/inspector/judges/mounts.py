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
# Patterns are given to re's functions, which compile each once and keep it (re._cache);
# PR-DYNIMPORT refuses any call named compile() in the inspector.
# show_mountinfo escapes space, tab, newline and backslash as octal (fs/proc_namespace.c)
_OCTAL = r"\\([0-7]{3})"
_IDS = r"[0-9]+ [0-9]+ [0-9]+:[0-9]+"
_FIELD = r"[^ \t\r\n\0]+"
# A line that passes every test of parse_line's split reading but the absolute paths, read
# by one match (a tag is any field but a lone "-", which is the separator): the usual line
# costs one match instead of a split and five tests; any other takes the reading below.
_LINE = (
    rf"([0-9]+) ([0-9]+) ([0-9]+:[0-9]+) ({_FIELD}) ({_FIELD}) ({_FIELD})((?: (?!- ){_FIELD})*) "
    rf"- ({_FIELD}) ({_FIELD}) ({_FIELD})"
)
_LINES = rf"^{_LINE}$"
"""``_LINE`` as each line of a text (with re.MULTILINE)."""
_RAW_CONTROL = "[\t\r\n\0]"
_GVISOR_EMPTY_TAGS = rf"^({_IDS} {_FIELD} {_FIELD} {_FIELD})  - "
# what str.splitlines() ends a line at besides "\n": with none of these in a text, its
# splitlines() is its split("\n") less one final empty string
_ASCII_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e"
_OTHER_BREAKS = f"[{_ASCII_BREAKS}\x85\u2028\u2029]"


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


def _octal(m: re.Match[str]) -> str:
    return chr(int(m.group(1), 8))


def _unescape(field: str) -> str:
    return re.sub(_OCTAL, _octal, field) if "\\" in field else field


def parse_line(line: str) -> Mount:
    """One line, strictly: single spaces, numeric ids, a '-' separator, three fields after it."""
    if (m := re.fullmatch(_LINE, line)) is not None:
        return _matched(m)
    return split_line(line)


def _matched(m: re.Match[str]) -> Mount:
    """The mount of one line that ``_LINE`` matched whole (``m.group()`` is the line)."""
    return _mount(m.group(), m.group(1, 2, 3, 4, 5, 6, 8, 9, 10), m.group(7).split(" ")[1:])


def split_line(line: str) -> Mount:
    """``parse_line`` by its reference reading (the split); the tests hold the two equal."""
    fields = line.split(" ")
    try:
        sep = fields.index("-", 6)
    except ValueError:
        raise MountinfoError(f"no ' - ' separator: {line!r}") from None
    head, tail = fields[:sep], fields[sep + 1 :]
    if len(tail) != 3 or "" in head or "" in tail:
        raise MountinfoError(f"not 'ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS] - TYPE SOURCE SUPER': {line!r}")
    if not re.fullmatch(_IDS, f"{head[0]} {head[1]} {head[2]}"):
        raise MountinfoError(f"ids or device not numeric: {line!r}")
    if re.search(_RAW_CONTROL, line):  # the kernel escapes these; raw ones are not its text
        raise MountinfoError(f"raw control character in line: {line!r}")
    return _mount(line, (*head[:6], *tail), head[6:])


def _mount(line: str, fields: tuple[str, ...], tags: list[str]) -> Mount:
    """The mount of one line's fields (ids, device, root, point, options, type, source,
    superblock options) and its propagation tags."""
    mount_id, parent_id, device, root, point, options, fstype, source, super_options = fields
    if "\\" in line:  # most lines escape nothing
        root, point, source = _unescape(root), _unescape(point), _unescape(source)
    if root[:1] != "/" or point[:1] != "/":
        raise MountinfoError(f"root or mount point is not absolute: {line!r}")
    if len(mount_id) > 20 or len(parent_id) > 20:  # int() refuses past 4,300 digits, with ValueError
        raise MountinfoError(f"ids longer than a 64-bit number: {line[:80]!r}")
    return Mount(
        int(mount_id),
        int(parent_id),
        device,
        root,
        point,
        frozenset(options.split(",")),
        frozenset([tag.split(":", 1)[0] for tag in tags]),
        fstype,
        source,
        frozenset(super_options.split(",")),
    )


def _read(line: str) -> Mount | MountinfoError:
    try:
        return parse_line(line)
    except MountinfoError as exc:
        return exc


def _read_match(m: re.Match[str]) -> Mount | MountinfoError:
    try:
        return _matched(m)
    except MountinfoError as exc:
        return exc


class Table(NamedTuple):
    """One mountinfo text read once, line by line: each line's mount, or why it does not parse.
    The verifier builds one per bundle and shares it between this judge and its cross-checks
    (a value of one text, never a cache across bundles)."""

    text: str
    lines: tuple[Mount | MountinfoError, ...]
    """As ``parse`` splits the text: at each "\n", less one final empty line."""

    def strict(self) -> list[Mount]:
        """Every mount, in mount order; raises MountinfoError for the first line that does not parse."""
        if not self.lines:
            raise MountinfoError("no mounts at all")
        out: list[Mount] = []
        for m in self.lines:
            if isinstance(m, MountinfoError):
                raise m
            out.append(m)
        return out

    def visible(self) -> dict[str, Mount]:
        """What ``visible(text)`` gives, from the lines already read where they are its lines."""
        if _other_breaks(self.text):
            return visible(self.text)
        return {m.mountpoint: m for m in self.lines if not isinstance(m, MountinfoError)}


def _other_breaks(text: str) -> bool:
    """Whether ``text`` holds a break of ``_OTHER_BREAKS``. An ASCII text can hold only the
    ASCII ones, each found by a substring search (~10x faster than re's character class)."""
    if text.isascii():
        return any(brk in text for brk in _ASCII_BREAKS)
    return re.search(_OTHER_BREAKS, text) is not None


def read(text: str) -> Table:
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    # The usual text, every line matched by one search of the whole text: with MULTILINE,
    # "^" and "$" are the ends of each "\n"-separated line, and no match of _LINE holds a
    # "\n" (no field does), so each match is one whole line, tried as fullmatch tries it,
    # at most one per line, in order. As many matches as lines is every line matched (one
    # call instead of one per line); anything else takes each line alone.
    found = list(re.finditer(_LINES, text, re.MULTILINE))
    if len(found) == len(lines):
        return Table(text, tuple(map(_read_match, found)))
    return Table(text, tuple(map(_read, lines)))


def parse(text: str) -> list[Mount]:
    """Every line, in mount order; raises MountinfoError on the first that does not parse."""
    return read(text).strict()


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
    # most mounts have no tag at all: then none is extra, and no set of the spec's is built
    extra_tags = sorted(m.tags - set(spec.get("propagation", []))) if m.tags else []
    if extra_tags:  # a shared or slave mount joins a peer group outside the sandbox
        diffs.append(
            f"propagation {','.join(extra_tags)}, expected {','.join(spec.get('propagation', [])) or 'private'}"
        )
    same = spec.get("device_of")
    if same is not None and (same not in by_point or by_point[same].device != m.device):
        diffs.append(f"not a file of the {same} filesystem")
    return diffs


class _Specs(NamedTuple):
    """The expected mounts indexed once per judgement: by point, and the classes by parent."""

    exact: dict[str, list[Mapping[str, Any]]]
    classes: dict[str, list[Mapping[str, Any]]]

    def at(self, point: str) -> list[Mapping[str, Any]]:
        # else a class of mounts the runtime makes, such as one per cgroup v1 controller
        return self.exact.get(point) or self.classes.get(os.path.dirname(point), [])


def _index(specs: list[Mapping[str, Any]]) -> _Specs:
    index = _Specs({}, {})
    for s in specs:
        point = s["point"]
        index.exact.setdefault(point, []).append(s)
        if point.endswith("/*"):
            index.classes.setdefault(point[:-2], []).append(s)
    return index


def gvisor_text(raw: str) -> str:
    """gVisor's mountinfo as Linux prints it: the sentry writes the optional-fields column
    even when empty (pkg/sentry/vfs/mount.go GenerateProcMountInfo: "%s " then "- "), so an
    untagged line has two spaces before the separator; only that one is removed."""
    return re.sub(_GVISOR_EMPTY_TAGS, r"\1 - ", raw, flags=re.MULTILINE)


def judge_inventory(expect: Mapping[str, Any], obs: Mapping[str, Any], table: Table | None = None) -> Judgement:
    """``table``: this very text already read (the verifier's per-bundle memo); read here if not."""
    raw = obs.get("mountinfo")
    specs = expect.get("mounts")
    if not isinstance(raw, str) or not isinstance(specs, list):
        return Judgement(ERROR, "no mountinfo recorded")
    if expect.get("format") == "gvisor":  # the plan says runsc: read the sentry's text
        raw = gvisor_text(raw)
    try:
        mounts = (table if table is not None and table.text == raw else read(raw)).strict()
    except MountinfoError as exc:
        return Judgement(FAIL, f"mountinfo does not parse: {exc}")
    by_point: dict[str, Mount] = {}
    stacks: dict[str, list[Mount]] = {}
    for m in mounts:
        stacks.setdefault(m.mountpoint, []).append(m)
        by_point.setdefault(m.mountpoint, m)
    index = _index(specs)
    problems = []
    for point, stack in stacks.items():
        wanted = index.at(point)
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
