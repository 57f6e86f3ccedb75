"""PR-ROOTFS-1: the root filesystem is exactly the image as built. The judge on recorded
observations (each runtime's PASSes against its plan; a top-level entry extra, missing or
different is named; malformed input is ERROR), the host's expectation against the built
layers, and the inside's lines against the same tree unpacked."""

from __future__ import annotations

import copy
import io
import json
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from sandproof import image, imagespec, imagetree, plan, profile, runtime_defaults
from sandproof.errors import ImageError
from sandproof.inspector import judge, tree
from sandproof.inspector.probes import filesystem
from sandproof.workload.carried import Workload

BUNDLES = Path(__file__).parent / "assets" / "bundles"
DEFAULT = profile.load("default")
RECORDED = [
    ("docker-default-pass", "docker"),
    ("podman-default-pass", "podman"),
    ("runc-default-pass", "runc"),
    ("runsc-default", "runsc"),
]


def _row(runtime: str) -> dict[str, Any]:
    return next(p for p in plan.build(DEFAULT, runtime)["probes"] if p["probe_id"] == "PR-ROOTFS-1")


def _observed(name: str) -> dict[str, Any]:
    data = json.loads((BUNDLES / f"{name}.json").read_text())
    obs: dict[str, Any] = next(p for p in data["probes"] if p["probe_id"] == "PR-ROOTFS-1")["observation"]
    return obs


def _judge(runtime: str, obs: dict[str, Any]) -> judge.Judgement:
    return judge.judge("walk", _row(runtime)["expect"], obs)


def _recorded_expect(name: str) -> dict[str, Any]:
    data = json.loads((BUNDLES / f"{name}.json").read_text())
    expect: dict[str, Any] = next(p for p in data["probes"] if p["probe_id"] == "PR-ROOTFS-1")["expected"]
    return expect


@pytest.mark.parametrize(("name", "runtime"), RECORDED)
def test_each_runtime_shows_exactly_the_image(name: str, runtime: str) -> None:
    got = judge.judge("walk", _recorded_expect(name), _observed(name))
    assert got.verdict == judge.PASS, got.reason
    # the plan expects today what it expected then, but /app: the inspector's own files,
    # which change with every edit of the inspector (the recording is redone then)
    now, then = _row(runtime)["expect"], _recorded_expect(name)
    assert {k: v for k, v in now["digests"].items() if k != "app"} == {
        k: v for k, v in then["digests"].items() if k != "app"
    }


@pytest.mark.parametrize(("name", "runtime"), RECORDED)
def test_the_walk_rows_share_one_observation(name: str, runtime: str) -> None:
    data = json.loads((BUNDLES / f"{name}.json").read_text())
    walks = [p["observation"] for p in data["probes"] if p["kind"] == "walk"]
    assert len(walks) == 5
    assert all(w == walks[0] for w in walks)


def _judge_recorded(obs: dict[str, Any], name: str = "runc-default-pass") -> judge.Judgement:
    return judge.judge("walk", _recorded_expect(name), obs)


def test_a_differing_extra_or_missing_top_level_entry_is_named() -> None:
    obs = _observed("runc-default-pass")
    changed = copy.deepcopy(obs)
    changed["rootfs"]["etc"] = [8, "0" * 32]
    changed["rootfs"]["x"] = [1, "1" * 32]
    del changed["rootfs"]["lib64"]
    got = _judge_recorded(changed)
    assert got.verdict == judge.FAIL
    assert "extra /x (1 entry)" in got.reason
    assert "missing /lib64 (2 entries)" in got.reason
    assert "/etc differs (8 entries, the image has 7)" in got.reason
    # the same count, other lines: still named
    same_count = copy.deepcopy(obs)
    same_count["rootfs"]["usr"] = [same_count["rootfs"]["usr"][0], "f" * 32]
    assert "/usr differs" in _judge_recorded(same_count).reason


def test_the_runtimes_own_entries_are_allowed_only_there() -> None:
    """Docker's /.dockerenv and /etc/mtab are not runc's: its tree judged on runc's plan FAILs."""
    got = _judge_recorded(_observed("docker-default-pass"))
    assert got.verdict == judge.FAIL
    assert "extra /.dockerenv" in got.reason
    assert "/etc differs" in got.reason


@pytest.mark.parametrize(
    "obs",
    [
        {},
        {"rootfs": None, "complete": True},
        {"rootfs": {"etc": [7]}, "complete": True},
        {"rootfs": {"etc": ["7", "x"]}, "complete": True},
        {"rootfs": {"etc": [True, "x"]}, "complete": True},
        {"rootfs": {"etc": [-1, "x"]}, "complete": True},
        {"rootfs": {"etc": [7, 5]}, "complete": True},
        {"rootfs": [], "complete": True},
        {"rootfs": {}, "complete": "yes"},
        {"harness_error": "boom"},
    ],
)
def test_malformed_observations_are_errors(obs: dict[str, Any]) -> None:
    assert _judge("runc", obs).verdict == judge.ERROR


@pytest.mark.parametrize("expect", [{}, {"digests": None}, {"digests": {"etc": "x"}}, {"digests": []}])
def test_a_malformed_expectation_is_an_error_never_a_pass(expect: dict[str, Any]) -> None:
    assert judge.judge("walk", expect, _observed("runc-default-pass")).verdict == judge.ERROR


def test_an_incomplete_walk_or_an_unseen_directory_is_not_a_pass() -> None:
    obs = copy.deepcopy(_observed("runc-default-pass"))
    obs["complete"] = False
    assert _judge_recorded(obs).verdict == judge.UNVERIFIED
    obs = copy.deepcopy(_observed("runc-default-pass"))
    obs["unreadable"] = [*obs["unreadable"], "/usr/lib"]
    assert _judge_recorded(obs).verdict == judge.FAIL


def test_unmatched_runtime_is_planned_unverified(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runtime_defaults.ROOTFS_UNMATCHED, "runsc", "not measured")
    row = _row("runsc")
    assert row["expect"] == {"unverified": "not measured"}
    assert judge.judge("walk", row["expect"], _observed("runsc-default")).verdict == judge.UNVERIFIED


def test_a_users_image_has_no_rootfs_row() -> None:
    """A user's workload image has no manifest of ours: the probe is not planned there."""
    wl = Workload(
        "busybox", "sha256:" + "a" * 64, "65532:65532", "", "sha256:" + "b" * 64, "/cache/harness/" + "b" * 32
    )
    probes = plan.build(DEFAULT, "runc", wl)["probes"]
    assert "PR-ROOTFS-1" not in {p["probe_id"] for p in probes}
    assert all("rootfs" not in p["params"] for p in probes if p["kind"] == "walk")


def test_the_pinned_base_tree_is_the_base_layers_own() -> None:
    """The lock pins the base layer's lines (its diff_id is pinned, so they follow from it)."""
    built = image.build(DEFAULT)
    assert imagetree.pin(built.layers[0]) == imagetree.pinned()


def test_the_inspector_layer_computed_without_its_bytes_is_the_built_one() -> None:
    built = image.build(DEFAULT)
    mtime = int(imagespec.read_lock()["source_date_epoch"])
    from_tar = imagetree.tar_lines([built.layers[1]])
    computed: dict[str, str] = {}
    imagetree.apply_layer(computed, imagetree.app_members(DEFAULT.image.workdir, mtime))
    assert computed == from_tar


def _walk_lines(root: Path) -> dict[str, str]:
    """The harness's lines for a tree at ``root``, as it would see it as ``/``."""
    out = {"/": ""}
    st = os.lstat(root)
    out["/"] = tree.line("/", st.st_mode, st.st_uid, st.st_gid)
    for top, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = os.path.join(top, name)
            inside = "/" + os.path.relpath(path, root)
            est = os.lstat(path)
            extra = os.readlink(path) if stat.S_ISLNK(est.st_mode) else ""
            size, mtime = est.st_size, int(est.st_mtime)
            out[inside] = tree.line(inside, est.st_mode, est.st_uid, est.st_gid, size=size, mtime=mtime, extra=extra)
    return out


def test_the_unpacked_tree_has_the_lines_the_layers_give() -> None:
    """runc's tree (unpack.py) and the host's expectation agree line for line."""
    built = image.build(DEFAULT)
    assert _walk_lines(image.rootfs(built)) == imagetree.tar_lines(built.layers)


def test_the_expectation_drops_mount_points_and_adds_their_parents() -> None:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for name, kind in (("./", tarfile.DIRTYPE), ("./tmp", tarfile.DIRTYPE), ("./tmp/x", tarfile.REGTYPE)):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode = kind, 0o755
            tar.addfile(ti, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    layer.seek(0)
    lines = imagetree.tar_lines([layer])
    assert sorted(lines) == ["/", "/tmp", "/tmp/x"]
    imagetree._drop(lines, "/tmp")
    assert sorted(lines) == ["/"]


def test_whiteouts_and_replacements_apply_as_the_engine_applies_them() -> None:
    def member(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.linkname = kind, 0o755, linkname
        return ti

    lines: dict[str, str] = {}
    imagetree.apply_layer(
        lines,
        [member("a", tarfile.DIRTYPE), member("a/f", tarfile.REGTYPE), member("b", tarfile.REGTYPE)],
    )
    imagetree.apply_layer(lines, [member("a/.wh.f", tarfile.REGTYPE), member("b", tarfile.SYMTYPE, "/x")])
    assert sorted(lines) == ["/a", "/b"]
    assert lines["/b"] == "/b|lnk|0|0|/x"
    with pytest.raises(ImageError):
        imagetree.apply_layer(lines, [member("c", tarfile.LNKTYPE, "b")])


def test_mount_points_are_read_from_any_mountinfo_layout() -> None:
    """gVisor's mountinfo lines (an empty optional-fields column) still name their mount
    points, escapes undone: what is at or below one is not the image's."""
    assert filesystem._point("10 8 0:6 / /dev rw  - tmpfs none rw,mode=0755") == "/dev"
    assert filesystem._point(r"1 2 0:3 / /a\040b ro - x y z") == "/a b"
