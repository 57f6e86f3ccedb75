"""The judging logic on recorded inputs (mountinfo from real Docker and runc runs)."""

from __future__ import annotations

from sandproof import plan, profile
from sandproof.inspector import judge
from tests.conftest import ASSETS

EXPECT = plan.expectations(profile.load("default"), "docker")


def _mounts_expect() -> dict[str, object]:
    e = EXPECT["PR-MOUNT-1"]["expect"]
    assert isinstance(e, dict)
    return e


def _writable(raw: str, extra: dict[str, bool] | None = None) -> dict[str, dict[str, object]]:
    allowed = {"/out", "/tmp"} | {k for k, v in (extra or {}).items() if v}
    return {m: {"writable": m in allowed, "kind": "dir"} for m in judge.top_mounts(raw)}


def test_recorded_docker_and_runc_mountinfo_pass() -> None:
    for name in ("mountinfo-docker-default.txt", "mountinfo-runc-default.txt"):
        raw = (ASSETS / name).read_text()
        v = judge.judge("mounts", _mounts_expect(), {"mountinfo": raw, "writable": _writable(raw)})
        assert v.verdict == judge.PASS, (name, v)


def test_rootfs_rw_fails() -> None:
    raw = (ASSETS / "mountinfo-docker-default.txt").read_text()
    lines = raw.splitlines()
    lines[0] = lines[0].replace(" / ro,", " / rw,", 1)
    raw2 = "\n".join(lines)
    v = judge.judge("mounts", _mounts_expect(), {"mountinfo": raw2, "writable": _writable(raw2)})
    assert v.verdict == judge.FAIL
    assert "rootfs" in v.reason


def test_tmp_without_noexec_fails() -> None:
    raw = (
        (ASSETS / "mountinfo-docker-default.txt")
        .read_text()
        .replace(" /tmp rw,nosuid,nodev,noexec,", " /tmp rw,nosuid,nodev,")
    )
    v = judge.judge("mounts", _mounts_expect(), {"mountinfo": raw, "writable": _writable(raw)})
    assert v.verdict == judge.FAIL
    assert "/tmp lacks noexec" in v.reason


def test_extra_writable_mount_fails_and_unobserved_is_unverified() -> None:
    raw = (ASSETS / "mountinfo-docker-default.txt").read_text()
    shm = "999 69 0:99 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k"
    raw2 = raw + shm + "\n"
    v = judge.judge("mounts", _mounts_expect(), {"mountinfo": raw2, "writable": _writable(raw2, {"/dev/shm": True})})
    assert v.verdict == judge.FAIL
    assert "/dev/shm is writable" in v.reason
    w = _writable(raw)
    v = judge.judge("mounts", _mounts_expect(), {"mountinfo": raw2, "writable": w})
    assert v.verdict == judge.UNVERIFIED


def test_dev_null_mask_is_harmless_but_other_chardev_is_not() -> None:
    raw = (ASSETS / "mountinfo-docker-default.txt").read_text()
    w = _writable(raw)
    w["/proc/keys"] = {"writable": True, "kind": "chardev", "rdev": "1:3"}
    assert judge.judge("mounts", _mounts_expect(), {"mountinfo": raw, "writable": w}).verdict == judge.PASS
    w["/proc/keys"] = {"writable": True, "kind": "chardev", "rdev": "8:0"}
    assert judge.judge("mounts", _mounts_expect(), {"mountinfo": raw, "writable": w}).verdict == judge.FAIL


def test_erofs_is_not_eacces() -> None:
    e = EXPECT["PR-FS-ESC-1"]["expect"]
    assert judge.judge("write", e, {"outcome": "error", "errno": "EROFS"}).verdict == judge.PASS
    assert judge.judge("write", e, {"outcome": "error", "errno": "EACCES"}).verdict == judge.FAIL
    assert judge.judge("write", e, {"outcome": "wrote", "errno": None}).verdict == judge.FAIL


def test_positive_control() -> None:
    e = EXPECT["PR-FS-OUT-OK"]["expect"]
    assert judge.judge("write", e, {"outcome": "wrote"}).verdict == judge.PASS
    assert judge.judge("write", e, {"outcome": "error", "errno": "EROFS"}).verdict == judge.FAIL


def test_exec_success_and_timeouts_never_pass() -> None:
    e = EXPECT["PR-EXEC-1"]["expect"]
    assert judge.judge("exec", e, {"outcome": "executed"}).verdict == judge.FAIL
    assert judge.judge("exec", e, {"outcome": "error", "errno": "ENOENT"}).verdict == judge.FAIL
    assert judge.judge("exec", e, {"harness_error": "timed out"}).verdict == judge.ERROR
    assert judge.judge("connect", EXPECT["PR-NET-1"]["expect"], {"outcome": "timed-out"}).verdict == judge.FAIL


def test_env_names_only() -> None:
    e = EXPECT["PR-ENV-1"]["expect"]
    assert judge.judge("env", e, {"keys": ["HOME", "HOSTNAME", "PATH"]}).verdict == judge.PASS
    for leak in ("GITHUB_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "AWS_ACCESS_KEY_ID", "DB_PASSWORD", "MY_API_KEY"):
        assert judge.judge("env", e, {"keys": ["PATH", leak]}).verdict == judge.FAIL, leak


def test_interfaces() -> None:
    e = EXPECT["PR-NET-2"]["expect"]
    head = "Inter-|   Receive\n face |bytes\n"
    assert judge.judge("ifaces", e, {"proc_net_dev": head + "    lo: 0 0\n"}).verdict == judge.PASS
    assert judge.judge("ifaces", e, {"proc_net_dev": head + "    lo: 0\n  eth0: 1\n"}).verdict == judge.FAIL
    assert judge.judge("ifaces", e, {"proc_net_dev": head}).verdict == judge.ERROR


def test_malformed_observations_are_errors_never_pass() -> None:
    for kind, row in ((r["kind"], r) for r in EXPECT.values()):
        for obs in ({}, {"outcome": 3}, {"mountinfo": 5}, {"keys": "PATH"}, {"present": "x"}):
            assert judge.judge(kind, row["expect"], obs).verdict != judge.PASS, (kind, obs)
    assert judge.judge("nope", {}, {}).verdict == judge.ERROR
    assert judge.judge("exec", [], {}).verdict == judge.ERROR


def test_engine_socket_presence() -> None:
    e = EXPECT["PR-SOCK-DOCKER"]["expect"]
    paths = e["absent"]
    assert judge.judge("absent", e, {"checked": paths, "present": []}).verdict == judge.PASS
    assert judge.judge("absent", e, {"checked": paths, "present": [paths[0]]}).verdict == judge.FAIL
    assert judge.judge("absent", e, {"checked": paths[:1], "present": []}).verdict == judge.UNVERIFIED
    assert judge.judge("absent", e, {"present": []}).verdict == judge.ERROR
