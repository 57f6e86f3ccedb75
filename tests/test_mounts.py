"""The exact mount inventory, the kernel paths, /dev and process integrity, judged on
recorded inputs from real Docker and runc runs and on the same inputs changed the way a
weakened sandbox changes them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sandproof import plan, profile
from sandproof.inspector import judge
from sandproof.inspector.judges import mounts
from tests.conftest import ASSETS, asset_json

DEFAULT = profile.load("default")


def _expect(pid: str, runtime: str = "docker") -> dict[str, Any]:
    e = plan.expectations(DEFAULT, runtime)[pid]["expect"]
    assert isinstance(e, dict)
    return e


def _raw(runtime: str = "docker") -> str:
    return (ASSETS / f"mountinfo-{runtime}-default.txt").read_text()


def _mounts(raw: str, runtime: str = "docker") -> judge.Judgement:
    return judge.judge("mounts", _expect("PR-MOUNT-1", runtime), {"mountinfo": raw})


@pytest.mark.parametrize("runtime", ["docker", "runc"])
def test_recorded_mountinfo_passes_on_its_runtime_only(runtime: str) -> None:
    assert _mounts(_raw(runtime), runtime).verdict == judge.PASS
    other = "runc" if runtime == "docker" else "docker"
    assert _mounts(_raw(runtime), other).verdict == judge.FAIL  # Docker's /etc/hosts binds are its own


CHANGES = [
    ("rootfs rw", lambda r: r.replace(" / ro,", " / rw,", 1), "/: read-write"),
    ("tmp exec", lambda r: r.replace(" /tmp rw,nosuid,nodev,noexec,", " /tmp rw,nosuid,nodev,"), "/tmp: flags"),
    ("tmp size", lambda r: r.replace("rw,size=16384k\n", "rw,size=1048576k\n", 1), "/tmp: options"),
    ("tmp inodes", lambda r: r.replace("rw,size=16384k\n", "rw,size=16384k,nr_inodes=0\n", 1), "nr_inodes=0"),
    (
        "extra ro",
        lambda r: r + "999 75 254:0 /etc /mnt/etc ro,relatime - ext4 /dev/vda rw\n",
        "unexpected mount at /mnt",
    ),
    ("under tmp", lambda r: r + "999 92 0:99 / /tmp/x rw,relatime - tmpfs tmpfs rw\n", "unexpected mount at /tmp/x"),
    ("stacked", lambda r: r + "999 75 0:99 / /tmp ro,relatime - tmpfs tmpfs rw,size=4k\n", "2 mounts stacked at /tmp"),
    ("shm", lambda r: r + "999 77 0:99 / /dev/shm rw,nosuid,nodev,noexec - tmpfs shm rw,size=65536k\n", "/dev/shm"),
    (
        "missing out",
        lambda r: "\n".join(x for x in r.splitlines() if " /out " not in x) + "\n",
        "missing mount at /out",
    ),
    ("tab line", lambda r: r.replace(" - tmpfs", "\t-\ttmpfs", 1), "does not parse"),
    ("junk line", lambda r: r + "hello world\n", "does not parse"),
    ("second root rw", lambda r: r + "999 75 0:99 / / rw,relatime - overlay overlay rw\n", "stacked at /"),
    ("mask gone", lambda r: "\n".join(x for x in r.splitlines() if "/proc/acpi" not in x) + "\n", None),
    # lines the one-match reading must leave to the split reading, which refuses them
    ("lone dash tag", lambda r: r.replace(" - tmpfs", " - - tmpfs", 1), "does not parse"),
    ("double space", lambda r: r.replace(" /tmp ", "  /tmp ", 1), "does not parse"),
    ("escaped root", lambda r: r + "999 75 0:99 \\057x /mnt rw - tmpfs tmpfs rw\n", "unexpected mount at /mnt"),
    ("relative point", lambda r: r + "999 75 0:99 / mnt rw - tmpfs tmpfs rw\n", "not absolute"),
    ("nul in field", lambda r: r.replace(" /tmp ", " /tmp\0 ", 1), "raw control character"),
]


@pytest.mark.parametrize(("name", "change", "reason"), CHANGES, ids=[c[0] for c in CHANGES])
def test_changed_mountinfo_fails(name: str, change: Any, reason: str | None) -> None:
    v = _mounts(change(_raw()))
    if reason is None:  # a mask that is absent is judged by PR-KPATH-1, which sees the path itself
        assert v.verdict == judge.PASS
        return
    assert v.verdict == judge.FAIL, name
    assert reason in v.reason, v.reason


def test_escaped_mount_points_parse() -> None:
    m = mounts.parse_line("36 35 98:0 /mnt\\040x /a\\040b rw,noatime master:1 - ext3 /dev/root rw,errors=continue")
    assert (m.root, m.mountpoint, m.fstype, m.read_only) == ("/mnt x", "/a b", "ext3", False)
    with pytest.raises(mounts.MountinfoError):
        mounts.parse_line("36 35 98:0 /mnt /x rw - ext3 /dev/root")


def test_kernel_paths() -> None:
    e = _expect("PR-KPATH-1")
    null = {"exists": True, "type": "chr", "rdev": "1:3"}
    empty = {"exists": True, "type": "dir", "entries": 0, "read_only": True}
    masked = {p: {"exists": False} for p in e["masked"]} | {"/proc/keys": null, "/sys/firmware": empty}
    ro = {p: {"exists": True, "read_only": True} for p in e["read_only"]}
    assert judge.judge("kpaths", e, {"masked": masked, "read_only": ro}).verdict == judge.PASS
    unmasked = masked | {"/proc/keys": {"exists": True, "type": "other"}}
    assert judge.judge("kpaths", e, {"masked": unmasked, "read_only": ro}).verdict == judge.FAIL
    listed = masked | {"/sys/firmware": {**empty, "entries": 3}}
    assert judge.judge("kpaths", e, {"masked": listed, "read_only": ro}).verdict == judge.FAIL
    writable = ro | {"/proc/sys": {"exists": True, "read_only": False}}
    v = judge.judge("kpaths", e, {"masked": masked, "read_only": writable})
    assert v.verdict == judge.FAIL
    assert "/proc/sys is not read-only" in v.reason


def _recorded(pid: str, runtime: str) -> dict[str, Any]:
    data = asset_json(f"{runtime}-default-pass.json")
    obs = next(p["observation"] for p in data["probes"] if p["probe_id"] == pid)
    assert isinstance(obs, dict)
    return obs


@pytest.mark.parametrize("runtime", ["docker", "runc"])
def test_devices(runtime: str) -> None:
    e, obs = _expect("PR-DEV-1", runtime), _recorded("PR-DEV-1", runtime)
    assert judge.judge("devices", e, obs).verdict == judge.PASS
    kmsg = {**obs, "nodes": {**obs["nodes"], "/dev/kmsg": "chr 1:11 0600"}}
    assert "unexpected /dev/kmsg" in judge.judge("devices", e, kmsg).reason
    wider = {**obs, "devices_list": [*obs["devices_list"], "a *:* rwm"]}
    assert "devices cgroup allows more" in judge.judge("devices", e, wider).reason
    chmod = {**obs, "nodes": {**obs["nodes"], "/dev/null": "chr 1:3 0777"}}
    assert judge.judge("devices", e, chmod).verdict == judge.FAIL


@pytest.mark.parametrize("runtime", ["docker", "runc"])
def test_integrity(runtime: str) -> None:
    e, obs = _expect("PR-INTEGRITY-1", runtime), _recorded("PR-INTEGRITY-1", runtime)
    assert judge.judge("maps", e, obs).verdict == judge.PASS
    files = obs["files"]
    shim = {**obs, "files": {**files, "/opt/shim.so": {"sha256": "0" * 64, "same_file": True}}}
    assert "/opt/shim.so is mapped but not a file of the image" in judge.judge("maps", e, shim).reason
    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    changed = {**obs, "files": {**files, libc: {**files[libc], "sha256": "f" * 64}}}
    assert judge.judge("maps", e, changed).verdict == judge.FAIL
    swapped = {**obs, "files": {**files, libc: {**files[libc], "same_file": False}}}
    assert judge.judge("maps", e, swapped).verdict == judge.FAIL
    memfd = {**obs, "other": [*obs["other"], "/memfd:x (deleted)"]}
    assert judge.judge("maps", e, memfd).verdict == judge.FAIL


def test_env_is_an_exact_set() -> None:
    e = _expect("PR-ENV-1")
    same = {"HOME": True, "HOSTNAME": True, "PATH": True}
    ok = {"keys": ["HOME", "HOSTNAME", "PATH"], "runtime_values": same, "hostname": "0123456789ab"}
    assert judge.judge("env", e, ok).verdict == judge.PASS
    for keys in (["HOME", "HOSTNAME", "PATH", "DATABASE_URL"], ["HOME", "PATH"], ["HOME", "HOSTNAME", "PATH", "LD_X"]):
        assert judge.judge("env", e, {**ok, "keys": keys}).verdict == judge.FAIL, keys


def test_other_breaks_is_the_character_class() -> None:
    """The fast test of Table.visible finds exactly the breaks the pattern names, in ASCII
    texts and others."""
    for code in [*range(0x100), 0x2028, 0x2029, 0x2027, 0x3000]:
        for text in (f"a{chr(code)}b", f"\u00e9{chr(code)}"):
            assert mounts._other_breaks(text) == (re.search(mounts._OTHER_BREAKS, text) is not None), hex(code)
