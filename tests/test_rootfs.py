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

from sandproof import attest, image, imagespec, imagetree, plan, profile, runtime_defaults
from sandproof.errors import ImageError
from sandproof.inspector import judge, tree
from sandproof.inspector.probes import filesystem
from sandproof.weaken import rootfs as weaken_rootfs
from sandproof.workload import carried, harness_mount, treefacts
from sandproof.workload import images as workload_images
from sandproof.workload.carried import Workload
from tests.conftest import RUN_DATE

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


def _workload(rootfs: str) -> Workload:
    return Workload(
        "busybox",
        "sha256:" + "a" * 64,
        "65532:65532",
        "",
        "sha256:" + "b" * 64,
        "/cache/harness/" + "b" * 32,
        rootfs=rootfs,
    )


def _lines(*spec: tuple[str, int, int, int]) -> dict[str, str]:
    """A small image tree: (path, mode with its type bits, uid, gid) -> lines, root included."""
    out = {"/": tree.line("/", stat.S_IFDIR | 0o755, 0, 0)}
    for path, mode, uid, gid in spec:
        out[path] = tree.line(path, mode, uid, gid, size=1 if stat.S_ISREG(mode) else 0, mtime=7)
    return out


D, F = stat.S_IFDIR, stat.S_IFREG
SMALL = _lines(
    ("/bin", D | 0o755, 0, 0),
    ("/bin/sh", F | 0o755, 0, 0),
    ("/etc", D | 0o755, 0, 0),
    ("/etc/passwd", F | 0o644, 0, 0),
    ("/root", D | 0o700, 0, 0),
    ("/root/.profile", F | 0o644, 0, 0),
    ("/tmp", D | 0o1777, 0, 0),
    ("/tmp/left", F | 0o644, 0, 0),
)


def _row_for(rootfs: str, runtime: str = "runc") -> dict[str, Any]:
    probes = plan.build(DEFAULT, runtime, _workload(rootfs))["probes"]
    return next(p for p in probes if p["probe_id"] == "PR-ROOTFS-1")


def test_a_users_image_has_its_tree_expected_from_its_record() -> None:
    """The walk digests the root filesystem in a user's image too, against the image's own tree
    as the workload record holds it: less mount points (/tmp's file is the tmpfs's business, the
    harness's /.sandproof too), plus the directories runtimes make for the others."""
    row = _row_for(treefacts.record(SMALL), "docker")
    assert row["params"]["rootfs"] == {"fresh": ["/.dockerenv"]}
    digests = row["expect"]["digests"]
    assert digests["bin"] == tree.digests({"bin": [SMALL["/bin"], SMALL["/bin/sh"]]})["bin"]
    assert "tmp" not in digests  # mount points: not the image's
    assert ".sandproof" not in digests
    # /.dockerenv and /etc/mtab: Docker's own entries, exactly
    etc = [SMALL["/etc"], SMALL["/etc/passwd"], "/etc/mtab|lnk|0|0|/proc/mounts"]
    assert digests["etc"] == tree.digests({"etc": etc})["etc"]
    assert digests[".dockerenv"] == [1, tree.digests({".dockerenv": ["/.dockerenv|reg|0755|0|0|0|-"]})[".dockerenv"][1]]
    # the sandbox user cannot list /root (0700, root's): its own line seen, not what is in it
    assert digests["root"] == tree.digests({"root": [SMALL["/root"]]})["root"]
    assert (row["expect"]["unlistable"], row["expect"]["searchable"]) == (["/root"], [])
    # the walk rows expect the same unseen directories
    suid = next(
        p
        for p in plan.build(DEFAULT, "docker", _workload(treefacts.record(SMALL)))["probes"]
        if p["probe_id"] == "PR-SUID-1"
    )
    assert (suid["expect"]["unlistable"], suid["expect"]["searchable"]) == (["/root"], [])


def test_an_older_workload_record_plans_it_unverified() -> None:
    row = _row_for("")
    assert "older sandproof" in row["expect"]["unverified"]
    assert "rootfs" not in row["params"]
    assert judge.judge("walk", row["expect"], _observed("runc-default-pass")).verdict == judge.UNVERIFIED


def test_a_directory_the_user_can_enter_unlisted_is_never_expected() -> None:
    """/root 0711: a name in it reachable, no listing shows it. Expected unlistable, never
    searchable: the walk's finding it enterable FAILs."""
    tree_0711 = {**SMALL, "/root": tree.line("/root", D | 0o711, 0, 0)}
    expect = _row_for(treefacts.record(tree_0711))["expect"]
    assert (expect["unlistable"], expect["searchable"]) == (["/root"], [])


def test_a_mount_point_in_a_top_level_entry_with_only_its_digest_is_unverified(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(treefacts, "LINES_MAX", 2)
    expect = _row_for(treefacts.record(SMALL))["expect"]
    # /etc (2 lines) is recorded, /bin too; /tmp's 2 lines too: a 3-line top would not be
    assert "digests" in expect
    big = {**SMALL, "/tmp/more": tree.line("/tmp/more", F | 0o644, 0, 0, size=1, mtime=7)}
    expect = _row_for(treefacts.record(big))["expect"]
    assert expect["unverified"] == "the image's /tmp changes under this profile and only its digest is recorded"


def test_a_hidden_directory_in_an_unrecorded_top_level_entry_is_unverified(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(treefacts, "LINES_MAX", 1)
    expect = _row_for(treefacts.record(SMALL))["expect"]
    assert expect["unverified"].startswith("the image's /root hides entries from the sandbox user")


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(format=2),
        lambda d: d["digests"].update(bin=[2, 5]),
        lambda d: d["lines"]["bin"].append("/bin/x|reg|0644|0|0|1|7"),
        lambda d: d["lines"].update(zz=["/zz|dir|0755|0|0"]),
        lambda d: d["lines"]["etc"].append("/etc/x|dir|07x5|0|0"),
        lambda d: d["restricted"].update(bin=[["/bin|dir|0700|0|0", True]]),
        lambda d: d.pop("restricted"),
    ],
)
def test_a_malformed_tree_record_refuses_the_workload_record(edit: Any) -> None:
    doc = json.loads(treefacts.record(SMALL))
    edit(doc)
    record = {**_workload("").record(), "rootfs": json.dumps(doc)}
    assert isinstance(carried.from_record(record), str)
    assert carried.from_record({**record, "rootfs": treefacts.record(SMALL)}) == _workload(treefacts.record(SMALL))


@pytest.mark.engine("runc")
def test_a_file_added_to_a_users_image_on_the_host_fails_naming_its_directory(tmp_path: Path) -> None:
    """runc's root.path at a copy of busybox's unpacked tree with /etc/sandproof-extra added: the
    same image ID, and the root filesystem is no longer the image's."""
    prof = profile.with_workload(DEFAULT, "busybox")
    img = workload_images.busybox()
    source = image.rootfs(img)
    with weaken_rootfs.copy_with_extra(source) as weak:
        result = attest.attest(prof, runtime="runc", out=tmp_path / "out", run_date=RUN_DATE, mutation=weak)
    failed = {p.probe_id: p.reason for p in result.report.probes if p.verdict != "PASS"}
    assert set(failed) == {"PR-ROOTFS-1"}, failed
    assert failed["PR-ROOTFS-1"].startswith(
        "root filesystem is not the image: /etc differs (4 entries, the image has 3)"
    )


@pytest.mark.engine
@pytest.mark.parametrize("which", ["busybox", "example"])
def test_a_users_image_tree_read_on_the_host_is_the_layers_own(which: str) -> None:
    """The tree unpacked on the host (runc's), read by lstat, has the lines the workload record
    takes from the image's layers (``treefacts.layer_lines``): the facts are the image's."""
    img = workload_images.resolve(which)
    got = treefacts.host_lines(image.rootfs(img), [harness_mount.MOUNT_POINT])
    assert got == treefacts.layer_lines(img.layers, [harness_mount.MOUNT_POINT])
    assert got == imagetree.tar_lines(img.layers)  # these layers name every parent and their root


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


def test_a_layer_without_its_parents_or_root_has_them_as_the_engine_makes_them(tmp_path: Path) -> None:
    """A layer naming ``a/b`` without ``a`` or ``./``, and one over a lower layer's file ``x``
    with ``x/y``: each missing parent a directory (0755, root's), the root 0755 (unpack.py)."""

    def layer(name: str, *members: str) -> Path:
        path = tmp_path / name
        with tarfile.open(path, "w") as tar:
            for m in members:
                ti = tarfile.TarInfo(m)
                ti.mode, ti.mtime = 0o644, 7
                tar.addfile(ti, io.BytesIO(b""))
        return path

    got = treefacts.layer_lines([layer("low", "a/b", "x"), layer("up", "x/y")], ["/.sandproof"])
    assert got == {
        "/": "/|dir|0755|0|0",
        "/a": "/a|dir|0755|0|0",
        "/a/b": "/a/b|reg|0644|0|0|0|7",
        "/x": "/x|dir|0755|0|0",
        "/x/y": "/x/y|reg|0644|0|0|0|7",
    }
