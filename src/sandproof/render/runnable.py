"""Renders that run as printed (issue 13): ``render docker|podman|oci --in DIR --out DIR`` writes
everything the printed command needs, as attest would give it, then prints that command.

- ``/in``: the packet and the plan this profile derives for the runtime (PR-IN-1 expects
  exactly those two files; the harness reads the plan), read-only;
- ``/out``: empty, owned by the profile's user; as root the bounded tmpfs attest mounts
  (``outdir.py``: PR-MOUNT-1 expects exactly that tmpfs), else a plain directory, said so;
- beside ``--in``: what the engine itself reads (Docker's seccomp file, runc's bundle).

One writer for every runtime (``prepare``); a runtime adds only its own files and argv, so
``render podman`` reuses ``prepare`` and ``seccomp_file`` as Docker does.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from sandproof import atomic, cleanup, contract, image, outdir, plan, safedir, seccomp
from sandproof.errors import OutputError
from sandproof.profile import Profile
from sandproof.render import docker, podman, runc
from sandproof.runtime import podman as podman_runtime
from sandproof.runtime.runc import bundle_rootfs


@dataclass(frozen=True)
class Prepared:
    """The directories a printed command names, made ready."""

    in_dir: Path
    out_dir: Path
    beside: Path
    """Where the engine's own inputs go (the parent of ``in_dir``)."""
    notes: tuple[str, ...]
    """One line each for the person running it: what was written, what is theirs to do."""


BUNDLE = "oci-bundle"
"""The OCI bundle's directory beside --in."""


def _child(dir_fd: int, name: str, option: str, where: Path) -> int | None:
    """The subdirectory ``name`` of ``dir_fd`` opened without following a link; None when absent."""
    try:
        return os.open(name, safedir.DIR, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        why = f"cannot open it ({exc.strerror or exc}); give a new directory, or one render wrote"
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # O_DIRECTORY|O_NOFOLLOW on a link: ENOTDIR
            link = stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
            why = (
                "a link; not followed (give a new directory, or one render wrote)"
                if link
                else "not a directory; expected a directory (new, or one render wrote)"
            )
        raise OutputError(f"{option} {where}: {why}") from None


def _refuse_foreign_file(dir_fd: int, name: str, what: str, where: Path) -> None:
    """What is already at a name render writes must be a regular file root or the caller owns:
    a link is never written through (nor replaced: someone else planted it), nor another's file."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(f"{what} {where}: a link is there; not followed (remove it, then render again)")
    if not stat.S_ISREG(st.st_mode) or not safedir.ours(st.st_uid):
        raise OutputError(
            f"{what} {where}: not a regular file of root's or yours (uid {st.st_uid}); not replaced "
            "(remove it, then render again)"
        )


def _name(path: Path, option: str) -> str:
    if path.name in ("", ".", ".."):
        raise OutputError(f"{option} {path}: give a directory's path that ends in its name")
    return path.name


def _fill_input(beside: int, in_dir: Path, files: dict[str, bytes]) -> None:
    name = _name(in_dir, "--in")
    fd = _child(beside, name, "--in", in_dir)
    if fd is None:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o755, dir_fd=beside)
        fd = _child(beside, name, "--in", in_dir)
        if fd is None:
            raise OutputError(f"--in {in_dir}: removed as it was made; give another directory")
    try:
        safedir.refuse_shared(fd, "--in", in_dir)
        foreign = sorted(set(os.listdir(fd)) - set(files))
        if foreign:  # PR-IN-1 would FAIL on them, and they are not ours to delete
            raise OutputError(f"--in {in_dir}: holds {', '.join(foreign)}; /in must hold only {', '.join(files)}")
        for file in files:
            _refuse_foreign_file(fd, file, "--in", in_dir / file)
        os.fchmod(fd, 0o755)
        atomic.publish(safedir.proc(fd), files, what="--in", mode=0o444, shown=in_dir)
        os.fchmod(fd, 0o555)  # read-only input, as seed §2 makes it
    finally:
        os.close(fd)


def _existing_output(profile: Profile, parent: int, out_dir: Path) -> bool | None:
    """None when ``--out`` is not there yet; else whether it is a mount (an earlier render's
    tmpfs, used again), refused unless empty and root's or yours alone."""
    fd = _child(parent, _name(out_dir, "--out"), "--out", out_dir)
    if fd is None:
        return None
    try:
        mounted = os.fstat(fd).st_dev != os.fstat(parent).st_dev
        # an earlier render's tmpfs is the sandbox user's: only root mounts
        safedir.refuse_shared(fd, "--out", out_dir, owner=profile.user.uid if mounted else None)
        if os.listdir(fd):
            raise OutputError(f"--out {out_dir}: not empty; the sandbox's /out starts empty (move its files away)")
    finally:
        os.close(fd)
    return mounted


def _make_output(profile: Profile, parent: int, out_dir: Path, existing: bool | None) -> tuple[str, ...]:
    fs, name = profile.filesystem, out_dir.name
    if existing:  # an earlier render's tmpfs, empty: used again as it is
        return (f"reused --out {out_dir}: the empty mount already there (umount {out_dir} when done)",)
    if existing is not None:
        os.rmdir(name, dir_fd=parent)
    staging = outdir.for_profile(safedir.proc(parent) / name, profile)
    owner = f"{profile.user.uid}:{profile.user.gid}"
    if staging.bounded:
        return (
            f"mounted --out {out_dir}: a tmpfs of {fs.output_limit.text} and {fs.output_files} files owned by {owner}, "
            f"as attest mounts it (umount {out_dir} when done)",
        )
    return (
        f"made --out {out_dir}: a plain directory writable by {owner}; not bounded (mounting a tmpfs needs root), "
        "so PR-MOUNT-1 will FAIL",
    )


def _refuse_beside(profile: Profile, runtime: str, beside: int, where: Path) -> None:
    """What the runtime's render will write beside --in, refused now if it would be then."""
    if runtime != "runc":
        path = profile.seccomp.path_in(where)
        _refuse_foreign_file(beside, path.name, "the seccomp file beside --in", path)
        return
    old = _child(beside, BUNDLE, "the OCI bundle", where / BUNDLE)
    if old is not None:
        try:
            safedir.refuse_shared(old, "the OCI bundle", where / BUNDLE)
        finally:
            os.close(old)


def prepare(profile: Profile, runtime: str, *, in_dir: str, out_dir: str) -> Prepared:
    """``/in`` with the packet and ``runtime``'s plan, an empty ``/out`` the sandbox user can
    write. Paths are made absolute: ``docker -v`` takes a relative one for a volume name."""
    ind, outd = Path(in_dir).absolute(), Path(out_dir).absolute()
    if ind == outd or outd.is_relative_to(ind) or ind.is_relative_to(outd):
        raise OutputError(f"--in {ind} and --out {outd}: two separate directories")
    compiled = plan.compiled(profile, runtime)
    with safedir.opened(outd.parent, "the directory of --out", create=True) as out_parent:
        existing = _existing_output(profile, out_parent, outd)  # refused before --in's directories are made
        with safedir.opened(ind.parent, "the directory beside --in", create=True) as beside:
            _refuse_beside(profile, runtime, beside, ind.parent)  # these too before anything is written
            return _written(
                profile, runtime, compiled, beside=beside, ind=ind, out_parent=out_parent, outd=outd, existing=existing
            )


def _written(
    profile: Profile,
    runtime: str,
    compiled: plan.Compiled,
    *,
    beside: int,
    ind: Path,
    out_parent: int,
    outd: Path,
    existing: bool | None,
) -> Prepared:
    """--in filled, --out made, once every refusal is behind."""
    try:
        _fill_input(beside, ind, {contract.INPUT_PACKET[0]: contract.INPUT_PACKET[1], plan.PLAN_NAME: compiled.text})
        notes = (f"wrote --in {ind}: {contract.INPUT_PACKET[0]} and the {runtime} plan {plan.PLAN_NAME}, read-only",)
        return Prepared(ind, outd, ind.parent, notes + _make_output(profile, out_parent, outd, existing))
    except (FileExistsError, FileNotFoundError, NotADirectoryError) as exc:  # review 17: a race with another process
        raise OutputError(
            f"--in {ind} or --out {outd}: changed while render ran ({exc.strerror or exc}); render again"
        ) from None


def seccomp_file(profile: Profile, prepared: Prepared) -> tuple[Path, str]:
    """The engine's seccomp file (Docker, Podman), beside ``--in``."""
    path = profile.seccomp.path_in(prepared.beside)
    what = "the seccomp file beside --in"
    with safedir.opened(prepared.beside, "the directory beside --in", create=False) as beside:
        _refuse_foreign_file(beside, path.name, what, path)
        atomic.publish(safedir.proc(beside), {path.name: seccomp.render(profile)}, what=what, shown=prepared.beside)
    return path, f"wrote {path}: the seccomp policy the engine loads"


def plan_text(profile: Profile, runtime: str) -> str:
    """``render plan``: the file the harness reads from /in, as attest writes it."""
    return json.dumps(plan.build(profile, runtime), indent=2, sort_keys=True) + "\n"


def docker_image(profile: Profile) -> str:
    """Build the profile's image (cached) and load it into Docker under its tag, which the
    printed command names as the seed's does."""
    built = image.build(profile)
    image.ensure_docker(built)
    return f"loaded {profile.image.name} into Docker (image {built.image_id[:19]})"


def docker_argv(profile: Profile, prepared: Prepared, run_date: str) -> tuple[list[str], tuple[str, ...]]:
    """``docker run`` as ``render/docker.py`` renders it for attest, naming the files written."""
    path, note = seccomp_file(profile, prepared)
    argv = docker.argv(
        profile, in_dir=str(prepared.in_dir), out_dir=str(prepared.out_dir), seccomp_file=str(path), run_date=run_date
    )
    return argv, (*prepared.notes, note, docker_image(profile))


def podman_argv(profile: Profile, prepared: Prepared, run_date: str) -> tuple[list[str], tuple[str, ...]]:
    """``podman run`` as attest runs it (``render/podman.py``: Docker's argv plus podman's engine
    options, sandproof's own storage), the image loaded there first; the printed line starts
    with the two variables that keep a user's containers.conf and storage.conf out."""
    path, note = seccomp_file(profile, prepared)
    rt = podman_runtime.Podman()
    built = image.build(profile)
    rt.prepare(built)
    argv = podman.argv(
        profile,
        engine=rt.engine(),
        in_dir=str(prepared.in_dir),
        out_dir=str(prepared.out_dir),
        seccomp_file=str(path),
        run_date=run_date,
    )
    loaded = f"loaded {profile.image.name} into sandproof's podman storage (image {built.image_id[:19]})"
    return [*podman_runtime.printable_prefix(rt.env({})), *argv], (*prepared.notes, note, loaded)


def oci_argv(profile: Profile, prepared: Prepared, run_date: str) -> tuple[list[str], tuple[str, ...]]:
    """An OCI bundle beside ``--in`` (config.json; the rootfs is the image unpacked once, or
    a copy of it where runc would have to write into it) and ``runc run`` for it."""
    bundle = prepared.beside / BUNDLE
    # the name docker's render gives the same directories: the runc state and cgroup are this run's
    container_id = docker.container_name(profile, str(prepared.in_dir), str(prepared.out_dir))
    cfg = runc.config(
        profile,
        in_dir=str(prepared.in_dir),
        out_dir=str(prepared.out_dir),
        run_date=run_date,
        container_id=container_id,
    )
    rootfs = image.rootfs(image.build(profile))
    with safedir.opened(prepared.beside, "the directory beside --in", create=False) as beside:
        _refuse_beside(profile, "runc", beside, prepared.beside)
        with contextlib.suppress(FileNotFoundError):  # checked: absent, or a directory root's or yours alone
            os.stat(BUNDLE, dir_fd=beside, follow_symlinks=False)
            cleanup.remove_tree(safedir.proc(beside) / BUNDLE)
        # root's alone, like attest's scratch: a copy of the image keeps its setuid files and
        # owners, and under a directory others can enter they could run them on the host
        os.mkdir(BUNDLE, 0o700, dir_fd=beside)
        fd = _child(beside, BUNDLE, "the OCI bundle", bundle)
        if fd is None:
            raise OutputError(f"the OCI bundle {bundle}: removed as it was made; render again")
        try:
            os.fchmod(fd, 0o700)  # whatever the umask
            at = safedir.proc(fd)
            copied = bundle_rootfs(cfg, rootfs, at)  # as attest: a copy, owners kept, where runc would write
            rootfs = bundle / copied.relative_to(at) if copied.is_relative_to(at) else copied
            cfg["root"]["path"] = str(rootfs)
            config = (json.dumps(cfg, indent=2) + "\n").encode()
            atomic.publish(at, {"config.json": config}, what="the OCI bundle", shown=bundle)
        finally:
            os.close(fd)
    note = f"wrote {bundle}: config.json for runc (root {rootfs})"
    stdin = "run it with standard input from /dev/null: runc copies its own into the sandbox (PR-FD-1)"
    return runc.argv(bundle, container_id), (*prepared.notes, note, stdin)
