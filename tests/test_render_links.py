"""Review 16 (F5): ``render docker|podman|oci --in D/in --out D/out`` runs as root and wrote
beside --in (/tmp for --in /tmp/in) through a link another user planted there (this host has
fs.protected_symlinks=0), and wrote and chmod'ed in an --in another user owned. Now every
directory render writes into is opened without following a link and checked, a link is never
written through, and a directory another user owns or may write (no sticky bit) is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from sandproof import image, outdir, profile
from sandproof.cli import main
from sandproof.profile import Profile
from sandproof.render import docker, runnable
from tests.conftest import RUN_DATE

NOBODY = 65534
SECCOMP = "seccomp-sandproof-default.json"
PRECIOUS = b"a root-only file\n"
DEFAULT = profile.load("default")


def _dirs(where: Path) -> tuple[str, str]:
    return str(where / "in"), str(where / "out")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No image is built or loaded (a refusal comes first; the old code went on to it); a tmpfs
    a render mounted is unmounted after."""

    def no_image(profile: Profile) -> NoReturn:
        raise AssertionError("render went on to the image")

    monkeypatch.setattr(runnable, "docker_image", lambda p: f"loaded {p.image.name} (test)")
    monkeypatch.setattr(image, "build", no_image)
    yield tmp_path
    for out in tmp_path.glob("**/out"):
        if os.path.ismount(out):
            subprocess.run(["umount", str(out)], check=True)


def _precious(path: Path) -> Path:
    path.write_bytes(PRECIOUS)
    path.chmod(0o600)
    return path


def _render(capsys: pytest.CaptureFixture[str], artifact: str, where: Path, *extra: str) -> tuple[int, str]:
    rc = main(
        ["render", artifact, "--in", str(where / "in"), "--out", str(where / "out"), "--run-date", RUN_DATE, *extra]
    )
    return rc, capsys.readouterr().err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_a_link_where_the_seccomp_file_goes_is_refused(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared = workdir / "shared"
    shared.mkdir(mode=0o1777)
    shared.chmod(0o1777)  # as /tmp
    precious = _precious(workdir / "precious")
    (shared / SECCOMP).symlink_to(precious)
    os.lchown(shared / SECCOMP, NOBODY, NOBODY)  # planted by another user
    rc, err = _render(capsys, "docker", shared)
    assert rc == 2
    line = _one_line(err)
    assert f"{shared / SECCOMP}: a link is there; not followed" in line
    assert precious.read_bytes() == PRECIOUS
    assert (shared / SECCOMP).is_symlink()
    assert not (shared / "in").exists()  # refused before anything was written
    assert not (shared / "out").exists()


@pytest.mark.parametrize(("option", "artifact"), [("in", "docker"), ("out", "podman")])
def test_a_directory_another_user_owns_is_refused(
    option: str, artifact: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / option).mkdir()
    (workdir / option).chmod(0o755)
    os.chown(workdir / option, NOBODY, NOBODY)
    rc, err = _render(capsys, artifact, workdir)
    assert rc == 2
    assert f"--{option} {workdir / option}: owned by uid {NOBODY}, another user" in _one_line(err)
    assert os.listdir(workdir / option) == []
    assert (workdir / option).stat().st_mode & 0o777 == 0o755  # not chmod'ed
    assert os.listdir(workdir) == [option]  # nothing else written: no seccomp file, no other directory


@pytest.mark.parametrize("mode", [0o777, 0o775])
def test_a_parent_others_may_write_without_sticky_is_refused(
    mode: int, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = workdir / "shared"
    shared.mkdir()
    shared.chmod(mode)
    os.chown(shared, 0, NOBODY)  # a group others are in (root's own group, root alone in it, is root's)
    rc, err = _render(capsys, "docker", shared)
    assert rc == 2
    assert f"{shared}: writable by other users (mode {mode:o}) without the sticky bit" in _one_line(err)
    assert os.listdir(shared) == []


def test_a_sticky_shared_parent_is_used(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """/tmp as it is: others may write there, not rename or remove what root made."""
    shared = workdir / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    rc, err = _render(capsys, "docker", shared)
    assert rc == 0, err
    assert sorted(os.listdir(shared)) == ["in", "out", SECCOMP]
    assert (shared / "in").stat().st_mode & 0o777 == 0o555
    assert {(shared / "in" / n).stat().st_mode & 0o777 for n in os.listdir(shared / "in")} == {0o444}
    assert json.loads((shared / SECCOMP).read_bytes())["defaultAction"]


@pytest.mark.parametrize("option", ["in", "out"])
def test_a_link_given_as_a_directory_is_refused(option: str, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "real").mkdir()
    (workdir / option).symlink_to(workdir / "real")
    rc, err = _render(capsys, "docker", workdir)
    assert rc == 2
    assert f"--{option} {workdir / option}: a link; not followed" in _one_line(err)
    assert os.listdir(workdir / "real") == []


def test_a_link_on_the_way_another_user_owns_is_refused(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "real").mkdir()
    (workdir / "via").symlink_to(workdir / "real")
    os.lchown(workdir / "via", NOBODY, NOBODY)
    rc, err = _render(capsys, "docker", workdir / "via")
    assert rc == 2
    assert f"the link via on the way is owned by uid {NOBODY}" in _one_line(err)
    assert os.listdir(workdir / "real") == []


def test_a_link_on_the_way_root_owns_is_followed(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "real").mkdir()
    (workdir / "via").symlink_to("real")  # relative, as /var/run -> ../run
    rc, err = _render(capsys, "docker", workdir / "via")
    assert rc == 0, err
    assert sorted(os.listdir(workdir / "real")) == ["in", "out", SECCOMP]


def test_a_link_where_the_oci_bundle_goes_is_refused(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "elsewhere").mkdir()
    keep = _precious(workdir / "elsewhere" / "keep")
    (workdir / "oci-bundle").symlink_to(workdir / "elsewhere")
    rc, err = _render(capsys, "oci", workdir)
    assert rc == 2
    assert f"the OCI bundle {workdir / 'oci-bundle'}: a link; not followed" in _one_line(err)
    assert keep.read_bytes() == PRECIOUS
    assert not (workdir / "in").exists()


def test_a_link_in_the_input_is_refused(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    precious = _precious(workdir / "precious")
    (workdir / "in").mkdir()
    (workdir / "in" / "sandproof-plan.json").symlink_to(precious)
    rc, err = _render(capsys, "docker", workdir)
    assert rc == 2
    assert "sandproof-plan.json: a link is there; not followed" in _one_line(err)
    assert precious.read_bytes() == PRECIOUS
    assert precious.stat().st_mode & 0o777 == 0o600


def test_oci_json_says_stdin_must_be_dev_null(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """F7: the JSON argv carries no redirection; the note that runc copies its stdin into the
    sandbox reaches the user all the same, on stderr."""
    (workdir / "rootfs").mkdir()
    monkeypatch.setattr(image, "build", lambda _: None)
    monkeypatch.setattr(image, "rootfs", lambda _: workdir / "rootfs")
    monkeypatch.setattr(runnable, "bundle_rootfs", lambda _cfg, _rootfs, bundle: bundle / "rootfs")
    argv = ["render", "oci", "--in", str(workdir / "in"), "--out", str(workdir / "out"), "--format", "json"]
    assert main(argv) == 0
    cap = capsys.readouterr()
    bundle = workdir / "oci-bundle"
    assert json.loads(cap.out)[-2:] == [str(bundle), docker.container_name(DEFAULT, *_dirs(workdir))]
    assert "sandproof: run it with standard input from /dev/null" in cap.err
    assert bundle.stat().st_mode & 0o777 == 0o700
    assert json.loads((bundle / "config.json").read_bytes())["root"]["path"] == str(bundle / "rootfs")


@pytest.mark.parametrize(
    ("option", "make", "said"),
    [
        ("in", lambda p: p.write_text("x"), "not a directory; expected a directory (new, or one render wrote)"),
        ("out", lambda p: p.write_text("x"), "not a directory; expected a directory (new, or one render wrote)"),
        ("in", lambda p: p.symlink_to(p.parent / "nowhere"), "a link; not followed"),
        ("out", lambda p: p.symlink_to(_precious(p.parent / "precious")), "a link; not followed"),
    ],
)
def test_a_file_or_a_link_given_as_a_directory_is_refused(
    option: str, make: Callable[[Path], object], said: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The no-follow open itself refuses a file, a dangling link or a link to a file at --in or
    --out (the link-following pre-check before it is gone): one line, nothing written."""
    make(workdir / option)
    before = sorted(os.listdir(workdir))
    rc, err = _render(capsys, "docker", workdir)
    assert rc == 2
    assert f"--{option} {workdir / option}: {said}" in _one_line(err)
    assert sorted(os.listdir(workdir)) == before


@pytest.mark.parametrize("mode", [0o755, 0o777])
def test_nothing_is_made_below_a_directory_another_user_owns(
    workdir: Path, capsys: pytest.CaptureFixture[str], mode: int
) -> None:
    """Review 17 (HIGH): --in /tmp/theirs/new/in, where another user owns /tmp/theirs: render made
    new/ there as root and wrote the seccomp file in it; they renamed new/ away, made their own
    with a policy allowing everything, and the printed command loaded theirs. Every directory on
    the way is now held to the rule of the last one, and nothing is made below one refused."""
    theirs = workdir / "theirs"
    theirs.mkdir(mode=mode)
    theirs.chmod(mode)
    os.chown(theirs, NOBODY, NOBODY)
    rc, err = _render(capsys, "docker", theirs / "new")
    assert rc == 2
    assert err.count("\n") == 1
    assert f"{theirs} on the way is owned by uid {NOBODY}, another user" in err
    assert os.listdir(theirs) == []
    rc, err = main(["render", "docker", "--in", str(workdir / "in"), "--out", str(theirs / "deep" / "out")]), ""
    assert rc == 2
    assert os.listdir(theirs) == []
    assert not (workdir / "in").exists()  # --out's refusal came before --in was written


def test_a_world_writable_directory_on_the_way_is_refused_unless_sticky(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = workdir / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    rc, err = _render(capsys, "docker", shared / "new")
    assert rc == 2
    assert f"{shared} on the way is writable by other users (mode 777) without the sticky bit" in err
    assert os.listdir(shared) == []
    shared.chmod(0o1777)  # as /tmp: others cannot rename what render makes there
    rc, err = _render(capsys, "docker", shared / "new")
    assert rc == 0, err
    assert (shared / "new" / SECCOMP).is_file()


def test_a_file_at_out_is_refused_before_ins_directories_are_made(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 17 (LOW): --out a file was refused only after --in's missing parents were made."""
    (workdir / "taken").write_text("a file")
    rc = main(["render", "docker", "--in", str(workdir / "new1" / "new2" / "in"), "--out", str(workdir / "taken")])
    assert rc == 2
    assert "not a directory" in capsys.readouterr().err
    assert not (workdir / "new1").exists()


def test_a_directory_changed_under_render_is_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 17 (LOW): another process racing render made outdir's own calls raise a bare
    FileExistsError or FileNotFoundError; it is one line naming both directories, exit 2."""

    def raced(*_: object) -> NoReturn:
        raise FileExistsError(17, "File exists")

    monkeypatch.setattr(outdir, "for_profile", raced)
    rc, err = _render(capsys, "docker", workdir)
    assert rc == 2
    assert err.count("\n") == 1
    assert "changed while render ran (File exists); render again" in err


def test_directories_right_below_root_are_used(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Final read: / is taken as it is on the way (uid 65532 owns it on these VMs), but a second
    check of the last directory refused it: --in /x-in and --out /x-out failed."""
    name = f"sandproof-t-{os.getpid()}"
    ind, outd, beside = Path("/") / f"{name}-in", Path("/") / f"{name}-out", Path("/") / SECCOMP
    if beside.exists():
        pytest.skip(f"{beside} exists here: not ours to replace")
    try:
        rc = main(["render", "docker", "--in", str(ind), "--out", str(outd), "--run-date", RUN_DATE])
        assert rc == 0, capsys.readouterr().err
        assert beside.is_file()  # the seccomp file beside --in: / itself
        assert (ind / "sandproof-plan.json").is_file()
    finally:
        if os.path.ismount(outd):
            subprocess.run(["umount", str(outd)], check=True)
        for d in (ind, outd):
            if d.exists():
                d.chmod(0o755)
                shutil.rmtree(d)
        beside.unlink(missing_ok=True)
