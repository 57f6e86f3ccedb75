"""weaken/hunt.py: each mutation changes exactly what its note says on the rendered argv and
OCI config (the engine tests in tests/test_engine.py show each caught on Docker and runc)."""

from __future__ import annotations

import copy
from typing import Any

from sandproof import profile, seccomp
from sandproof.render import docker, oci
from sandproof.weaken import WEAKENINGS, hunt
from sandproof.weaken.core import Weakening

DEFAULT = profile.load("default")


def _named(name: str) -> Weakening:
    return next(w for w in hunt.WEAKENINGS if w.name == name)


def _config() -> dict[str, Any]:
    return oci.config(DEFAULT, in_dir="/i", out_dir="/o", run_date="2026-11-29")


def _argv() -> list[str]:
    return docker.argv(DEFAULT, in_dir="/i", out_dir="/o", seccomp_file="/s", run_date="2026-11-29")


def test_every_hunt_weakening_is_registered_once() -> None:
    names = [w.name for w in WEAKENINGS]
    assert all(names.count(w.name) == 1 for w in hunt.WEAKENINGS)


def test_gid_root_changes_only_the_primary_group() -> None:
    m = _named("gid-root").mutation
    argv, cfg = _argv(), _config()
    assert m.docker is not None
    assert m.oci is not None
    m.docker(argv)
    m.oci(cfg)
    assert argv[argv.index("--user") + 1] == f"{DEFAULT.user.uid}:0"
    assert cfg["process"]["user"] == {**_config()["process"]["user"], "gid": 0}


def test_one_masked_and_one_read_only_path_removed_alone() -> None:
    for name, key, path in (
        ("unmasked-sys-firmware", "maskedPaths", "/sys/firmware"),
        ("proc-irq-writable", "readonlyPaths", "/proc/irq"),
    ):
        cfg = _config()
        before = list(cfg["linux"][key])
        edit = _named(name).mutation.oci
        assert edit is not None
        edit(cfg)
        assert path in before
        assert cfg["linux"][key] == [p for p in before if p != path], name


def test_dev_world_writable_keeps_every_other_option() -> None:
    cfg = _config()
    edit = _named("dev-world-writable").mutation.oci
    assert edit is not None
    edit(cfg)
    dev = next(m for m in cfg["mounts"] if m["destination"] == "/dev")
    assert dev["options"] == ["nosuid", "strictatime", "mode=1777", "size=65536k"]


def test_socket_traced_keeps_every_other_rule() -> None:
    policy = seccomp.policy(DEFAULT)
    edited = copy.deepcopy(policy)
    edit = _named("seccomp-socket-trace").mutation.seccomp
    assert edit is not None
    edit(edited)

    def names(p: dict[str, Any], action: str) -> set[str]:
        return {n for r in p["syscalls"] if r["action"] == action for n in r["names"]}

    assert names(edited, "SCMP_ACT_TRACE") == {"socket"}
    assert names(edited, "SCMP_ACT_ERRNO") == names(policy, "SCMP_ACT_ERRNO") - {"socket"}


def test_mqueue_cover_made_writable_in_the_profile() -> None:
    weakened = _named("mqueue-cover-rw").apply(DEFAULT)
    cover = {t.path: t.options for t in weakened.filesystem.tmpfs}["/dev/mqueue"]
    assert "rw" in cover
    assert "ro" not in cover
    assert weakened.digest != DEFAULT.digest
