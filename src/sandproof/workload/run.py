"""``sandproof run``: a workload in exactly the sandbox ``attest`` proved for its profile.

The sandbox is rendered by the renderers ``attest`` uses (``render/docker.py``,
``render/podman.py``, ``render/runc.py``) with the one seccomp policy rendered once for the run
(``runtime.interface.Seccomp``: the same bytes, the same sha256); only what belongs to the
image is the image's (its rootfs, working directory, ENTRYPOINT + CMD or the given command,
``workload/sandbox.py``). The run is supervised like attest's (``runtime.interface.supervise``:
bounded capture, a time limit, the container killed and removed on timeout or Ctrl-C), /out is
the same bounded tmpfs (``outdir``), and every output file is hashed into the receipt.

What the workload does *not* get is the harness's in-process exec guard
(``[seccomp.inprocess]``): that filter is the harness stacking itself, and a foreign
entrypoint cannot be made to stack it without a launcher inside the image. The runtime filter
must allow execve (runc loads it before the final execve, DESIGN "pitfalls"), so a workload may
exec what its read-only image holds; what it writes lands on noexec /tmp or on /out, and
no_new_privileges with no capabilities means an exec gains nothing. The receipt says which
filter ran: ``seccomp_sha256`` is the runtime filter only.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandproof import image as images
from sandproof import leftover, outdir, receipt, safedir
from sandproof.capture import Captured
from sandproof.errors import EngineError, ImageError, OutputError
from sandproof.image import Image
from sandproof.profile import Profile
from sandproof.render import docker as docker_render
from sandproof.render import oci
from sandproof.render import runc as runc_render
from sandproof.runtime.docker import Docker
from sandproof.runtime.interface import Finished, Runtime, Seccomp, supervise
from sandproof.runtime.podman import Podman
from sandproof.runtime.runc import Runc, run_rootfs
from sandproof.workload import files, rendered, sandbox

TIMEOUT_S = 600.0
OUTPUT_DIR = receipt.OUTPUT_DIR
RECEIPT_NAME = receipt.RECEIPT_NAME


@dataclass(frozen=True)
class Outcome:
    """One finished ``run``: the receipt as written and where."""

    exit_code: int
    receipt: dict[str, Any]
    receipt_path: Path
    stdout: Captured
    stderr: Captured


def _utc(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run(
    profile: Profile,
    image: Image,
    cmd: Sequence[str] = (),
    *,
    runtime: Runtime,
    out: Path,
    in_dir: Path | None = None,
    timeout_s: float = TIMEOUT_S,
    attestation: receipt.Attested | None = None,
    image_ref: str | None = None,
    entrypoint: str | None = None,
) -> Outcome:
    """Run the workload once and write ``out/receipt.json`` and its outputs under ``out/out/``.
    ``entrypoint`` replaces the image's ENTRYPOINT, as ``docker run --entrypoint`` does."""
    command = [entrypoint, *cmd] if entrypoint else sandbox.command(image, cmd)
    # before the run: a directory of another user's on the way could swap the outputs and the
    # receipt the user will check (review 19: a forged out/answer verified with its receipt)
    safedir.check_nearest(out, "--out")
    if (out / OUTPUT_DIR).exists() or (out / RECEIPT_NAME).exists():
        raise OutputError(
            f"--out {out}: holds an earlier run's {OUTPUT_DIR}/ or {RECEIPT_NAME}; choose a new directory"
        )
    if in_dir is not None and not in_dir.is_dir():
        raise OutputError(f"--in {in_dir}: not a directory")
    runtime.check(profile)
    refuse_volumes(image, runtime)
    version = runtime.version()
    # held from the load until the run is over: another build loaded under the same tag
    # meanwhile leaves this one in the engine (image.ensure_docker)
    with images.in_use(image.image_id):
        runtime.prepare(image)
        policy = Seccomp.render(profile)
        work = leftover.scratch("sandproof-workrun-")
        staging = None
        try:
            if in_dir is None:
                in_dir = work / "in"
                in_dir.mkdir(mode=0o555)
            in_dir = in_dir.resolve()
            staging = outdir.for_profile(work / "out", profile)
            inputs = files.tree(in_dir)
            started = time.time()
            if isinstance(runtime, Docker):
                how = functools.partial(_docker, runtime)
            elif isinstance(runtime, Podman):
                how = functools.partial(_podman, runtime)
            elif isinstance(runtime, Runc):
                how = functools.partial(_runc, runtime)
            else:
                raise EngineError(f"run: runtime {runtime.name} is not supported")
            facts, done, wall = how(
                profile=profile,
                image=image,
                command=command,
                in_dir=in_dir,
                out_dir=staging.path,
                work=work,
                policy=policy,
                timeout_s=timeout_s,
            )
            finished = time.time()
            # checked again now, made if missing: the run took its time (review 20: a link put at
            # --out's name during the run had the outputs copied through it)
            safedir.check(out, "--out", create=True, sticky_ok=False)
            # the host reads no more than the profile let the workload write (files.py says why)
            budget = files.Budget(bytes=staging.limit_bytes, entries=staging.limit_files)
            outputs = files.tree(staging.path, copy_to=out / OUTPUT_DIR, budget=budget)
            limits = {**staging.facts(), "left_out": budget.left_out}
        finally:
            if staging is not None:
                outdir.remove(staging)
            leftover.remove(work)
    refused = _refused(runtime, done)
    # a client killed by a signal is -N to subprocess; a shell says 128+N, and so does the receipt
    own = done.code if done.code >= 0 else 128 + (-done.code & 0x7F)
    code = 124 if done.timed_out else 125 if refused else own & 0xFF
    doc = receipt.build(
        profile=profile,
        image_ref=image_ref or image.name,
        image_id=image.image_id,
        seccomp_sha256=policy.sha256,
        runtime=(runtime.name, version),
        command=command,
        sandbox=facts,
        started_at=_utc(started),
        finished_at=_utc(finished),
        wall_s=wall,
        exit_code=code,
        timed_out=done.timed_out,
        refused=refused,
        stdout=done.stdout,
        stderr=done.stderr,
        inputs=inputs,
        outputs=outputs,
        output_limit=limits,
        attestation=attestation,
    )
    path = receipt.write(out, RECEIPT_NAME, doc)
    return Outcome(code, doc, path, done.stdout, done.stderr)


def refuse_volumes(image: Image, runtime: Runtime) -> None:
    """Refuse an image that declares ``VOLUME`` where the engine would make it one. Docker and
    Podman give each declared path an anonymous volume on the host's disk: writable, bounded by
    nothing of the profile (only RLIMIT_FSIZE, per file), a mount the profile does not list. The
    sandbox's mounts are exactly the profile's, so attest FAILs such an image (PR-MOUNT-1, the
    engine view's ``Config.Volumes``) and run does not start it. On runc the image's config is
    only read for what ``sandbox`` takes of it (image-spec config.md: ``Volumes`` are directories
    "where the process is likely to write data", for an engine to act on; runc is given our OCI
    config alone): there the path stays the image's own directory, and attest on runc PASSes it."""
    declared = sandbox.volumes(image)
    if declared and isinstance(runtime, (Docker, Podman)):
        raise ImageError(
            f"image {image.name} ({image.image_id[:19]}) declares VOLUME {', '.join(declared)}: {runtime.name} "
            "would give the workload an anonymous volume there on the host's disk, outside the profile's "
            "mounts and bounds (attest FAILs it: PR-MOUNT-1); rebuild the image without VOLUME "
            "(write to /out or /tmp instead), or use --runtime runc, which ignores it"
        )


def _docker(
    rt: Docker,
    *,
    profile: Profile,
    image: Image,
    command: list[str],
    in_dir: Path,
    out_dir: Path,
    work: Path,
    policy: Seccomp,
    timeout_s: float,
) -> tuple[dict[str, Any], Finished, float]:
    sc_file = profile.seccomp.path_in(work)
    sc_file.write_bytes(policy.text)
    argv = rendered.docker_argv(
        profile, image.image_id, command, in_dir=str(in_dir), out_dir=str(out_dir), seccomp_file=str(sc_file)
    )
    # an empty client config, as attest: the CLI would copy ~/.docker/config.json's proxies in
    client_config = work / "docker-config"
    client_config.mkdir()
    env = {**docker_render.env(profile, dict(os.environ)), "DOCKER_CONFIG": str(client_config)}
    name = argv[argv.index("--name") + 1]
    t0 = time.perf_counter()
    done = supervise(argv, timeout=timeout_s, stop=lambda: rt.remove(name, env), env=env)
    wall = time.perf_counter() - t0
    return _argv_facts(argv, in_dir, out_dir, sc_file), done, wall


def _argv_facts(argv: list[str], in_dir: Path, out_dir: Path, sc_file: Path) -> dict[str, Any]:
    """What a receipt records of a run an engine's client started from an argv (Docker, Podman):
    no OCI config of ours, no container id or rootfs of ours."""
    return {
        "argv": argv,
        "in_dir": str(in_dir),
        "out_dir": str(out_dir),
        "seccomp_file": str(sc_file),
        "container_id": None,
        "rootfs": None,
        "cwd": None,
        "oci_config": None,
        "oci_config_sha256": None,
    }


def _podman(
    rt: Podman,
    *,
    profile: Profile,
    image: Image,
    command: list[str],
    in_dir: Path,
    out_dir: Path,
    work: Path,
    policy: Seccomp,
    timeout_s: float,
) -> tuple[dict[str, Any], Finished, float]:
    """Docker's argv run by podman (``render/podman.py``), as ``attest --runtime podman`` runs
    it: sandproof's own storage and configuration, the container removed whatever happens."""
    sc_file = profile.seccomp.path_in(work)
    sc_file.write_bytes(policy.text)
    argv = rendered.podman_argv(
        profile,
        image.image_id,
        command,
        engine=rt.engine(),
        in_dir=str(in_dir),
        out_dir=str(out_dir),
        seccomp_file=str(sc_file),
        binary=rt.binary,
    )
    env = docker_render.env(profile, rt.env(dict(os.environ)))
    name = argv[argv.index("--name") + 1]
    rt.own_output(out_dir, profile)
    t0 = time.perf_counter()
    done = supervise(argv, timeout=timeout_s, stop=lambda: rt.remove(name, env), env=env)
    wall = time.perf_counter() - t0
    rt.give_back(out_dir)
    return _argv_facts(argv, in_dir, out_dir, sc_file), done, wall


def _runc(
    rt: Runc,
    *,
    profile: Profile,
    image: Image,
    command: list[str],
    in_dir: Path,
    out_dir: Path,
    work: Path,
    policy: Seccomp,
    timeout_s: float,
) -> tuple[dict[str, Any], Finished, float]:
    container_id = f"sandproof-wl-{uuid.uuid4().hex[:12]}"
    cwd = sandbox.image_config(image).get("WorkingDir") or "/"
    cfg = rendered.oci_config(
        profile,
        command,
        in_dir=str(in_dir),
        out_dir=str(out_dir),
        container_id=container_id,
        rootfs="",
        cwd=cwd,
        seccomp_policy=policy.policy,
    )
    # the shared unpacked rootfs, never written: a mountpoint the image lacks gets a private
    # overlay in the bundle (run_rootfs), where runc makes it, as Docker does in the container's layer
    root = images.rootfs(image)
    cfg["root"]["path"] = str(root)
    bundle = work / "bundle"
    bundle.mkdir()
    # a writable root (or anything else that could write the shared tree) runs on a private
    # overlay of it in the bundle, detached after (review 11: a loose run poisoned the cache)
    with run_rootfs(cfg, root, bundle) as private:
        ran = dict(cfg, root=dict(cfg["root"], path=str(private)))
        (bundle / "config.json").write_bytes(runc_render.config_bytes(ran))
        argv = runc_render.argv(bundle, container_id, binary=rt.binary)
        t0 = time.perf_counter()
        try:
            done = supervise(argv, timeout=timeout_s, stop=lambda: rt.remove(container_id))
        finally:
            rt.remove_leftover(container_id)
        wall = time.perf_counter() - t0
    shown = oci.redacted(ran)  # environment names only, never values
    facts = {
        "argv": argv,
        "in_dir": str(in_dir),
        "out_dir": str(out_dir),
        "seccomp_file": None,
        "container_id": container_id,
        "rootfs": str(private),  # what runc ran on, as its config names it
        "cwd": cwd,
        "oci_config": shown,
        "oci_config_sha256": receipt.digest(shown),
    }
    return facts, done, wall


def _refused(rt: Runtime, done: Finished) -> bool:
    """The engine refused the sandbox before the workload ran: docker run's own 125
    (docker/cli run.go), runc's last stderr line ``runc run failed:`` (runc main.go fatal)."""
    if done.timed_out:
        return False
    if rt.name == "docker":
        return done.code == 125
    if rt.name == "podman":  # 125: podman's own error; runc's refusal comes back as 126 (podman-run(1))
        last = (done.stderr.tail.splitlines() or done.stderr.head.splitlines() or [b""])[-1]
        return done.code == 125 or (done.code == 126 and last.startswith(b"Error: runc: "))
    lines = done.stderr.tail.splitlines() or done.stderr.head.splitlines()
    return done.code != 0 and bool(lines) and b'level=error msg="runc run failed: ' in lines[-1]
