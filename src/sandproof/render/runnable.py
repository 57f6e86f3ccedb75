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

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sandproof import cleanup, contract, image, outdir, plan, seccomp
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


def _fill_input(in_dir: Path, files: dict[str, bytes]) -> None:
    if in_dir.exists():
        foreign = sorted(set(os.listdir(in_dir)) - set(files))
        if foreign:  # PR-IN-1 would FAIL on them, and they are not ours to delete
            raise OutputError(f"--in {in_dir}: holds {', '.join(foreign)}; /in must hold only {', '.join(files)}")
        in_dir.chmod(0o755)
    else:
        in_dir.mkdir(parents=True)
    for name, data in files.items():
        (in_dir / name).unlink(missing_ok=True)
        (in_dir / name).write_bytes(data)
        (in_dir / name).chmod(0o444)
    in_dir.chmod(0o555)  # read-only input, as seed §2 makes it


def _make_output(profile: Profile, out_dir: Path) -> tuple[str, ...]:
    fs = profile.filesystem
    if out_dir.exists():
        if any(out_dir.iterdir()):
            raise OutputError(f"--out {out_dir}: not empty; the sandbox's /out starts empty (move its files away)")
        if os.path.ismount(out_dir):  # an earlier render's tmpfs, empty: used again as it is
            return (f"reused --out {out_dir}: the empty mount already there (umount {out_dir} when done)",)
        out_dir.rmdir()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = outdir.for_profile(out_dir, profile)
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


def prepare(profile: Profile, runtime: str, *, in_dir: str, out_dir: str) -> Prepared:
    """``/in`` with the packet and ``runtime``'s plan, an empty ``/out`` the sandbox user can
    write. Paths are made absolute: ``docker -v`` takes a relative one for a volume name."""
    ind, outd = Path(in_dir).absolute(), Path(out_dir).absolute()
    if ind == outd or outd.is_relative_to(ind) or ind.is_relative_to(outd):
        raise OutputError(f"--in {ind} and --out {outd}: two separate directories")
    if outd.exists() and any(outd.iterdir()):  # refused before --in is written: nothing half-done
        raise OutputError(f"--out {outd}: not empty; the sandbox's /out starts empty (move its files away)")
    compiled = plan.compiled(profile, runtime)
    _fill_input(ind, {contract.INPUT_PACKET[0]: contract.INPUT_PACKET[1], plan.PLAN_NAME: compiled.text})
    notes = (f"wrote --in {ind}: {contract.INPUT_PACKET[0]} and the {runtime} plan {plan.PLAN_NAME}, read-only",)
    return Prepared(ind, outd, ind.parent, notes + _make_output(profile, outd))


def seccomp_file(profile: Profile, prepared: Prepared) -> tuple[Path, str]:
    """The engine's seccomp file (Docker, Podman), beside ``--in``."""
    path = profile.seccomp.path_in(prepared.beside)
    path.write_bytes(seccomp.render(profile))
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
    bundle = prepared.beside / "oci-bundle"
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
    if bundle.exists():
        cleanup.remove_tree(bundle)
    bundle.parent.mkdir(parents=True, exist_ok=True)
    # root's alone, like attest's scratch: a copy of the image keeps its setuid files and
    # owners, and under a directory others can enter they could run them on the host
    bundle.mkdir(mode=0o700)
    bundle.chmod(0o700)  # whatever the umask
    rootfs = bundle_rootfs(cfg, rootfs, bundle)  # as attest: a copy, owners kept, where runc would write
    cfg["root"]["path"] = str(rootfs)
    (bundle / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    note = f"wrote {bundle}: config.json for runc (root {rootfs})"
    stdin = "run it with standard input from /dev/null: runc copies its own into the sandbox (PR-FD-1)"
    return runc.argv(bundle, container_id), (*prepared.notes, note, stdin)
