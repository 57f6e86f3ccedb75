"""The cross-checks' fast readings give the exact answers."""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandproof import bundle, crosscheck, model
from sandproof.inspector.catalog import PROBES, PSEUDO_FS, SHAREABLE
from sandproof.inspector.judges import mounts
from tests.conftest import ASSETS

LINES = (ASSETS / "mountinfo-docker-default.txt").read_text().splitlines()
FSTYPES = st.sampled_from(["proc", "sysfs", "overlay", "tmpfs", "cgroup2", "mqueue", "ext4"])
POINTS = st.sampled_from(["/proc", "/sys", "/tmp", "/dev/mqueue", "/a\\040b", "/x", "/sys/fs/cgroup"])


@st.composite
def _line(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(LINES))
    head = f"{draw(st.integers(1, 99))} 1 0:{draw(st.integers(1, 9))} / {draw(POINTS)} rw"
    tags = draw(st.sampled_from(["", " shared:1", " master:2 -"]))
    tail = draw(st.sampled_from([" - {} none rw", " - {} none", "- {} none rw", " - {} a b c"])).format(draw(FSTYPES))
    return head + tags + tail


def _exact(text: str) -> list[str]:
    return sorted(mp for mp, m in mounts.visible(text).items() if m.fstype in PSEUDO_FS)


def _raw(mountinfo: str) -> model.Raw:
    """Raw evidence holding only ``mountinfo``."""
    empty: dict[str, object] = {"env_keyset": [], "proc_net_dev": "", "proc_self_status": {}}
    startup: dict[str, object] = {"status": {}, "fds": [], "fd_targets": {}}
    return msgspec.convert({"mountinfo": mountinfo, **empty, "startup": startup}, model.Raw)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(lines=st.lists(_line(), max_size=12))
def test_walk_skipped_is_what_the_full_parse_gives(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    raw = _raw(text)
    assert crosscheck._walk_skipped(raw) == _exact(text)


def test_the_recorded_table_skips_its_pseudo_filesystems() -> None:
    text = "\n".join(LINES) + "\n"
    raw = _raw(text)
    skipped = crosscheck._walk_skipped(raw)
    assert skipped == _exact(text)
    assert skipped is not None
    assert "/proc" in skipped


# ---- the mount table: one match per usual line, one reading per bundle ----

TOKENS = st.sampled_from(["-", "/", "/a", "12", "0:5", "rw", "\\040", "\\057x", "shared:1", "master:2", "", "\t"])


@st.composite
def _odd_line(draw: st.DrawFn) -> str:
    """A line of recorded fields and odd tokens joined by single (or doubled) spaces."""
    fields: list[str] = draw(st.lists(TOKENS, max_size=14))
    if draw(st.booleans()):
        fields = draw(st.sampled_from(LINES)).split(" ")
        for _ in range(draw(st.integers(0, 3))):
            fields.insert(draw(st.integers(0, len(fields))), draw(TOKENS))
        drop = draw(st.booleans())
        if fields and drop:
            fields.pop(draw(st.integers(0, len(fields) - 1)))
    return draw(st.sampled_from([" ", "  "])).join(fields)


def _outcome(read: Callable[[str], mounts.Mount], line: str) -> object:
    try:
        return read(line)
    except mounts.MountinfoError as exc:
        return ("refused", str(exc))


@pytest.mark.long
@settings(max_examples=1500, deadline=None, derandomize=True)
@given(line=_odd_line())
def test_one_match_per_line_is_the_split_reading(line: str) -> None:
    assert _outcome(mounts.parse_line, line) == _outcome(mounts.split_line, line)


def test_every_recorded_line_takes_the_one_match() -> None:
    for line in LINES:
        assert re.fullmatch(mounts._LINE, line) is not None, line
        assert mounts.parse_line(line) == mounts.split_line(line)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    lines=st.lists(_line() | _odd_line(), max_size=8),
    ends=st.lists(st.sampled_from(["\n", "\n", "\r\n", "\x0b", "\u2028"]), min_size=8, max_size=8),
    final=st.sampled_from(["", "\n", "\n\n"]),
)
def test_a_table_read_once_is_what_each_reading_gives(lines: list[str], ends: list[str], final: str) -> None:
    text = "".join(line + end for line, end in zip(lines, ends, strict=False)) + final
    table = mounts.read(text)
    assert table.visible() == mounts.visible(text)
    try:
        strict: object = table.strict()
    except mounts.MountinfoError as exc:
        strict = str(exc)
    lines_nl = text.split("\n")
    if lines_nl[-1] == "":
        lines_nl.pop()
    want: object = "no mounts at all" if not lines_nl else None
    for line in lines_nl if want is None else ():
        try:
            mounts.split_line(line)
        except mounts.MountinfoError as exc:
            want = str(exc)
            break
    assert strict == (want if want is not None else [mounts.split_line(x) for x in lines_nl])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(lines=st.lists(_line() | _odd_line(), max_size=10), final=st.sampled_from(["", "\n"]))
def test_each_line_of_a_table_is_its_own_reading(lines: list[str], final: str) -> None:
    """Read as one text (the option sets shared between lines), each line is what reading
    it alone gives: the same mount, or the same refusal."""
    text = "\n".join(lines) + final
    want = text.split("\n")
    if want[-1] == "":
        want.pop()
    got = [m if isinstance(m, mounts.Mount) else ("refused", str(m)) for m in mounts.read(text).lines]
    assert got == [_outcome(mounts.split_line, line) for line in want]


def _lines(table: mounts.Table) -> list[object]:
    return [m if isinstance(m, mounts.Mount) else ("refused", str(m)) for m in table.lines]


@settings(max_examples=250, deadline=None, derandomize=True)
@given(
    lines=st.lists(_line() | _odd_line() | st.sampled_from(LINES), max_size=10),
    ends=st.lists(st.sampled_from(["\n", "\n", "\r\n", "\u2028"]), min_size=10, max_size=10),
    final=st.sampled_from(["", "\n", "\n\n"]),
)
def test_the_verifiers_mount_table_is_the_inspectors(lines: list[str], ends: list[str], final: str) -> None:
    text = "".join(line + end for line, end in zip(lines, ends, strict=False)) + final
    mine, theirs = crosscheck.mount_table(text), mounts.read(text)
    assert mine.text == theirs.text
    assert _lines(mine) == _lines(theirs)
    assert [type(m) for m in mine.lines] == [type(m) for m in theirs.lines]


def test_the_verifiers_mount_table_of_each_recorded_text() -> None:
    for name in ("docker", "runc", "runsc"):
        text = (ASSETS / f"mountinfo-{name}-default.txt").read_text()
        assert _lines(crosscheck.mount_table(text)) == _lines(mounts.read(text))
        for cut in (text[:-1], text + "\n", text.replace(" / ", " a ", 1), text.replace(" / ", " /\\040 ", 1), ""):
            assert _lines(crosscheck.mount_table(cut)) == _lines(mounts.read(cut))


# ---- shape problems of many observations, read as one text ----

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(st.characters(), max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
PATHS = st.builds(lambda a, b: f"/{a}{b}", st.text(max_size=4), st.sampled_from(["", " ", "\n", "\t", "\\", '"', "x"]))


@pytest.mark.long
@settings(max_examples=400, deadline=None, derandomize=True)
@given(values=st.lists(st.dictionaries(st.text(max_size=6) | PATHS, JSON | PATHS, max_size=4), max_size=5))
def test_shape_problems_read_together_are_each_ones_own(values: list[dict[str, object]]) -> None:
    assert crosscheck.shape_problems(values) == [crosscheck.shape_problem(v) for v in values]
    assert crosscheck.shape_problems(values) == [crosscheck._exact(v) for v in values]


def _plain_by_patterns(text: bytes) -> bool:
    """``_plain`` as the patterns alone read it (before the usual text took a shorter way)."""
    if not text.isascii() or b"\x7f" in text or crosscheck.BLANK_END.search(text):
        return False
    if crosscheck.ESCAPE.search(text) is not None:
        return False
    if crosscheck.PATH_ESCAPE.search(text) is None:
        return True
    return (b"\\n" not in text and b"\\t" not in text) or crosscheck.PATH_CONTROL.search(text) is None


TRICKY = st.text(
    st.sampled_from(["/", "a", " ", "\n", "\t", '"', "\\", "\x01", "\x7f", "\u200b", ":", ","]), max_size=6
)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(
    value=st.recursive(
        TRICKY | st.integers(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
        max_leaves=10,
    )
)
def test_plain_reads_a_compact_text_as_the_patterns_do(value: object) -> None:
    text = crosscheck._COMPACT.encode(value)
    assert crosscheck._plain(text) == _plain_by_patterns(text)


def test_plain_reads_the_recorded_observations_as_the_patterns_do() -> None:
    for run in ("docker-default-pass", "runc-default-pass"):
        data = bundle.decode((ASSETS / "bundles" / f"{run}.json").read_bytes(), run)
        assert isinstance(data, model.EvidenceBundle)
        text = crosscheck._COMPACT.encode([*(r.observation for r in data.probes), data.raw])
        assert crosscheck._plain(text) is _plain_by_patterns(text) is True


def test_a_float_in_the_typed_raw_evidence_is_found_with_the_observations() -> None:
    """The raw evidence is a Struct among plain observations: its one JSON field (the foreign
    ABIs' answers) is read for floats like any observation, alone or with the others."""
    startup = {"status": {}, "fds": [1], "fd_targets": {}, "abis": {"arch": "x86_64", "abis": {"i386": {"ret": 1.0}}}}
    fields = {"mountinfo": "x\n", "env_keyset": ["A"], "proc_net_dev": "", "proc_self_status": {}}
    raw = msgspec.convert({**fields, "startup": startup}, model.Raw)
    why = "the number 1.0 where only integers are recorded"
    assert crosscheck.shape_problems([{"a": 1}, raw]) == [None, why]
    assert crosscheck.shape_problem(raw) == why
    startup["abis"] = {"arch": "x86_64", "abis": {"i386": {"ret": 1}}}
    assert crosscheck.shape_problems([{"a": 1.5}, msgspec.convert({**fields, "startup": startup}, model.Raw)]) == [
        "the number 1.5 where only integers are recorded",
        None,
    ]


def test_the_kinds_skipped_have_nothing_in_raw_to_check() -> None:
    """contradictions() reads only CHECKED_KINDS: every other kind must be one that neither
    comparison knows, whatever its observation says."""
    raw = msgspec.convert(
        {
            "mountinfo": "x\n",
            "env_keyset": ["A"],
            "proc_net_dev": "",
            "proc_self_status": {},
            "startup": {"status": {}, "fds": [1], "fd_targets": {}},
        },
        model.Raw,
    )
    odd: dict[str, object] = {"keys": [], "mountinfo": "y", "skipped": ["/z"], "fds": [], "status": {"a": 1}}
    kinds = {info.kind for info in PROBES.values()}
    for kind in sorted(kinds - crosscheck.CHECKED_KINDS):
        assert crosscheck._startup(kind, {"fields": ["a"]}, odd, raw.startup) is None, kind
        assert crosscheck._texts(kind, odd, raw, ["/w"]) is None, kind
    kinds_on_mounts = crosscheck.CGROUP_KINDS | crosscheck.MAPS_KINDS  # held against the mount table
    for kind in sorted(crosscheck.CHECKED_KINDS - SHAREABLE - kinds_on_mounts - {"ifaces"}):
        found = crosscheck._startup(kind, {"fields": ["a"]}, odd, raw.startup) or crosscheck._texts(kind, odd, raw, [])
        assert found is not None, kind
    # the maps kind: a mapped file's device against the mount holding it (hex in maps, decimal in mountinfo)
    table = crosscheck.mount_table("1 0 0:40 / / ro - overlay overlay rw\n")
    entry = {"maps_device": "00:28", "maps_inode": 7, "sha256": "0" * 64, "same_file": True}
    assert crosscheck.mapped_devices({"files": {"/lib/a.so": entry}}, table) is None
    moved = {"files": {"/lib/a.so": {**entry, "maps_device": "00:29"}}}
    assert "is device 0:40" in str(crosscheck.mapped_devices(moved, table))
    # the cgroup kinds are held against the mount table instead: a file read where nothing is mounted
    cgroups = crosscheck.cgroup_mounts(crosscheck.mount_table(raw.mountinfo))
    for path in ("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"):
        assert crosscheck.cgroup_files({"files": {path: "64"}}, cgroups) is not None, path


V2_TABLE = "30 20 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate\n"
V1_JOINED = (
    "30 20 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/cpu,cpuacct ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "32 30 0:28 / /sys/fs/cgroup/pids ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,pids\n"
)


@pytest.mark.parametrize(
    ("text", "path", "there"),
    [
        (V2_TABLE, "/sys/fs/cgroup/pids.max", True),
        (V2_TABLE, "/sys/fs/cgroup/cgroup.controllers", True),
        (V2_TABLE, "/sys/fs/cgroup/pids/pids.max", False),
        (V1_JOINED, "/sys/fs/cgroup/pids/pids.max", True),
        # cpu -> cpu,cpuacct: the link Docker and systemd make to a joined hierarchy
        (V1_JOINED, "/sys/fs/cgroup/cpu/cpu.shares", True),
        (V1_JOINED, "/sys/fs/cgroup/cpu,cpuacct/cpu.shares", True),
        (V1_JOINED, "/sys/fs/cgroup/memory/memory.oom_control", False),
        (V1_JOINED, "/sys/fs/cgroup/cgroup.controllers", False),
        (V1_JOINED, "/sys/fs/cgroup/pids/cpu.shares", False),
    ],
)
def test_cgroup_files_are_where_the_mount_table_puts_them(text: str, path: str, there: bool) -> None:
    cgroups = crosscheck.cgroup_mounts(crosscheck.mount_table(text))
    assert (crosscheck.cgroup_files({"files": {path: "1\n", "/sys/fs/cgroup/x.max": None}}, cgroups) is None) is there
