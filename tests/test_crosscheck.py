"""The cross-checks' fast readings give the exact answers."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from sandproof import crosscheck, model
from sandproof.inspector.catalog import PSEUDO_FS
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


@settings(max_examples=400, deadline=None, derandomize=True)
@given(lines=st.lists(_line(), max_size=12))
def test_walk_skipped_is_what_the_full_parse_gives(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    raw = msgspec.convert(
        {
            "mountinfo": text,
            "env_keyset": [],
            "proc_net_dev": "",
            "proc_self_status": {},
            "startup": {"status": {}, "fds": [], "fd_targets": {}},
        },
        model.Raw,
    )
    assert crosscheck._walk_skipped(raw) == _exact(text)


def test_the_recorded_table_skips_its_pseudo_filesystems() -> None:
    text = "\n".join(LINES) + "\n"
    raw = msgspec.convert(
        {
            "mountinfo": text,
            "env_keyset": [],
            "proc_net_dev": "",
            "proc_self_status": {},
            "startup": {"status": {}, "fds": [], "fd_targets": {}},
        },
        model.Raw,
    )
    skipped = crosscheck._walk_skipped(raw)
    assert skipped == _exact(text)
    assert skipped is not None
    assert "/proc" in skipped
