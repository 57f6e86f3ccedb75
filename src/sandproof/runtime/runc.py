"""runc, daemonless: the OCI bundle ``render/runc.py`` renders from the profile, the rootfs
unpacked from the same image layers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sandproof import atomic, outdir, overlay, unpack
from sandproof import image as images
from sandproof.errors import EngineError, OutputError
from sandproof.image import Image
from sandproof.profile import Profile
from sandproof.render import oci
from sandproof.render import runc as render
from sandproof.runtime import watch
from sandproof.runtime.interface import Finished, RunRequest, RunResult, Runtime, Seccomp, first_line, supervise
from sandproof.workload.carried import MOUNT_POINT

STATE_ROOT = render.STATE_ROOT  # kept here for the readers that import it from the runtime


def _missing_mountpoints(cfg: dict[str, Any], rootfs: Path, *, gofer: bool = False) -> list[str]:
    """Mount destinations runc would have to make inside the rootfs itself: every one that is
    not there as the tree's own entry (``_present``). ``gofer``: runsc's, whose gofer binds only
    the bind mounts, in its own view of the rootfs, and makes each one's destination there
    (runsc/cmd/gofer.go setupMounts, specutils.SafeSetupAndMount): a bind under a tmpfs of the
    config is made in the rootfs itself (a bind at /dev/kmsg wrote dev/kmsg into the shared tree)."""
    missing: list[str] = []
    seen: list[tuple[str, bool]] = []
    for m in cfg["mounts"]:
        dest, bound = m["destination"], _bind(m)
        inside_other = any(
            dest.startswith(d.rstrip("/") + "/") for d, over_bind in seen if over_bind or not (gofer and bound)
        )
        seen.append((dest, bound))
        if not inside_other and not _present(rootfs, dest):
            missing.append(dest)
    return missing


def _bind(m: dict[str, Any]) -> bool:
    """A bind mount as runsc tells it (runsc/specutils/specutils.go IsGoferMount)."""
    return bool(m.get("source")) and (m.get("type") == "bind" or bool({"bind", "rbind"} & set(m.get("options", ()))))


def _present(rootfs: Path, dest: str) -> bool:
    """Whether ``dest`` is in the tree with nothing for runc to make: every parent a real
    directory of the tree and the destination itself there, neither a symlink. runc resolves a
    symlink inside the rootfs (securejoin) and makes what it names with MkdirAll
    (libcontainer/rootfs_linux.go createIfNotExists): an image's ``/tmp -> /planted/by/runc``
    made /planted/by/runc in the shared tree, where the host's lexists had found /tmp present
    (review 12)."""
    rel = dest.strip("/")
    parent = unpack.real_dir(rootfs, os.path.dirname(rel))
    if parent is None:
        return False
    if not rel:
        return True
    try:
        return not stat.S_ISLNK(os.lstat(parent / os.path.basename(rel)).st_mode)
    except FileNotFoundError:
        return False


def require_root(runtime: str) -> None:
    """Refuse before anything is built or run, in one line, what runc would refuse later (and
    opaquely: "rootless container requires user namespaces", libcontainer/configs/validate):
    every profile keeps the host's user namespace, which only root may start a container in."""
    if os.geteuid() != 0:
        raise EngineError(
            f"runtime {runtime} needs root (running as uid {os.geteuid()}): a sandbox in the host's user "
            "namespace, as every profile asks, is refused to an unprivileged caller; run sandproof as root, "
            "or use --runtime docker or --runtime podman (rootless)"
        )


class Runc(Runtime):
    name = "runc"

    def __init__(self, binary: str = "runc") -> None:
        self.binary = binary
        self._answer: tuple[str | None] | None = None

    def _version(self) -> str | None:
        # asked once per instance: ``available`` then ``version`` cost one lookup, not two spawns
        if self._answer is None:
            self._answer = (version_of(self.binary),)
        return self._answer[0]

    def available(self) -> bool:
        return self._version() is not None

    def version(self) -> str:
        v = self._version()
        if v is None:
            raise EngineError("runc is not installed or does not run (apt-get install runc)")
        return v

    def check(self, profile: Profile) -> None:  # noqa: ARG002 - no profile runs rootless on runc
        require_root(self.name)

    def prepare(self, image: Image) -> None:
        images.rootfs(image)

    def run(self, request: RunRequest) -> RunResult:
        mutation = request.mutation
        bundle = request.work_dir / "bundle"
        bundle.mkdir()
        rootfs = images.rootfs(request.image)
        if request.workload is not None:  # the harness's mountpoint: runc makes it, in run_rootfs's overlay
            point = rootfs / MOUNT_POINT.lstrip("/")
            if point.is_symlink() or (point.exists() and not point.is_dir()):
                raise EngineError(f"image {request.image.image_id}: {MOUNT_POINT} exists and is not a directory")
        container_id = f"sandproof-{uuid.uuid4().hex[:12]}"
        rendered = request.seccomp or Seccomp.render(request.profile)
        cfg = render.config(
            request.profile,
            in_dir=str(request.in_dir),
            out_dir=str(request.out_dir),
            run_date=request.run_date,
            container_id=container_id,
            seccomp_policy=rendered.policy,
            workload=request.workload,
        )
        if mutation.seccomp is not None and "seccomp" in cfg["linux"]:
            mutation.seccomp(cfg["linux"]["seccomp"])
        if mutation.oci is not None:
            mutation.oci(cfg)
        if mutation.entrypoint:  # test-only: hostile code instead of the harness
            cfg["process"]["args"] = list(mutation.entrypoint)
        with run_rootfs(cfg, rootfs, bundle, gofer=self.gofer) as root:
            # an absolute path is a mutation's own tree (weaken/rootfs.py): the render's is "rootfs"
            cfg["root"]["path"] = cfg["root"]["path"] if os.path.isabs(cfg["root"]["path"]) else str(root)
            (bundle / "config.json").write_bytes(render.config_bytes(cfg))
            argv = self.argv(
                request.profile,
                bundle,
                container_id,
                preserve_fds=1 if mutation.preserve_host_fd else 0,
                flags=mutation.runsc_flags,
            )
            leak = os.open("/", os.O_RDONLY | os.O_DIRECTORY) if mutation.preserve_host_fd else None
            # runc's own state (engineview/runc.py reads runc's format; runsc keeps its own, unread),
            # watched from once runc runs: starting a thread waits for it to be scheduled (up to ms
            # on a busy machine), and state.json comes only after runc has made the container
            views: list[watch.Watch] = []

            def started() -> None:
                if self.name == "runc":
                    views.append(watch.runc_state(render.state_dir(container_id)))
                if request.started is not None:
                    request.started()

            t0 = time.perf_counter()
            try:
                done = supervise(
                    [*mutation.caller, *argv],
                    timeout=request.timeout_s,
                    stop=lambda: self.remove(container_id),
                    env=client_env(os.environ),
                    leak_fd=leak,
                    started=started,
                )
            finally:
                if leak is not None:
                    os.close(leak)
                engine_view = views[0].finish() if views else None
                self.remove_leftover(container_id)
        wall = time.perf_counter() - t0
        details: dict[str, Any] = {"oci_config": oci.redacted(cfg), **self.facts()}
        if engine_view is not None:
            details["engine_view"] = engine_view
        if "seccomp" in cfg["linux"]:  # what runc was given, hashed as the Docker file is
            loaded = cfg["linux"]["seccomp"]
            details["seccomp_sha256"] = rendered.sha256 if loaded == rendered.policy else Seccomp.of(loaded).sha256
        if done.timed_out:
            return RunResult(124, done.stdout, done.stderr, argv, wall, details, timed_out=True)
        return RunResult(done.code, done.stdout, done.stderr, argv, wall, details, refused=self.refused(done))

    # what differs between runc and the OCI runtimes that run the same bundle (runtime/runsc.py)
    state_root = STATE_ROOT
    gofer = False
    """Whether a gofer serves the rootfs and makes every bind's destination in it (runsc)."""

    def argv(
        self,
        profile: Profile,  # noqa: ARG002 - runsc's flags depend on the profile
        bundle: Path,
        container_id: str,
        *,
        preserve_fds: int = 0,
        flags: tuple[str, ...] = (),
    ) -> list[str]:
        """The command that runs the bundle in the foreground; ``flags``: a mutation's extra
        runsc flags, which runc has no use for."""
        if flags:
            raise EngineError(f"runc takes no runsc flags ({' '.join(flags)}): the mutation is runsc's only")
        return render.argv(bundle, container_id, binary=self.binary, preserve_fds=preserve_fds)

    def facts(self) -> dict[str, Any]:
        """Outside facts of this runtime for the evidence, beside the OCI config."""
        return {}

    def refused(self, done: Finished) -> bool:
        return _refused(done)

    def remove(self, container_id: str) -> None:
        """runc kill, then delete: ``delete --force`` alone SIGKILLs the init, but a frozen or
        stopped container is only deleted once its processes are gone."""
        state = [self.binary, "--root", self.state_root]
        subprocess.run([*state, "kill", container_id, "KILL"], capture_output=True, timeout=60, check=False)
        subprocess.run([*state, "delete", "--force", container_id], capture_output=True, timeout=60, check=False)

    def remove_leftover(self, container_id: str) -> None:
        """After the client is gone: ``runc run`` destroyed the container itself unless it was
        killed or failed half-way, and then its state directory is still there. Two spawns
        saved on every normal run (~9 ms)."""
        if os.path.lexists(Path(self.state_root) / container_id):
            self.remove(container_id)


CLIENT_ENV = frozenset({"PATH", "TMPDIR", "TZ", "LANG"})
"""The caller's variables ``runc run`` (and ``runsc run``) is given, and no others. runc reads
more of its environment than its flags: NOTIFY_SOCKET (set for a systemd unit of
Type=notify) makes it bind the caller's notify socket into the sandbox, creating ``/run/notify``
in the root filesystem it is given: the shared unpacked image, for every later run
(runc notify_socket.go; measured: review 10). Podman's own list is ``podman.CLIENT_ENV``."""


def client_env(base: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in base.items() if k in CLIENT_ENV}


@contextlib.contextmanager
def run_rootfs(cfg: dict[str, Any], rootfs: Path, bundle: Path, *, gofer: bool = False) -> Iterator[Path]:
    """The root filesystem of one run, for as long as it runs: the shared unpacked image where
    nothing in the run can write it (``_shared``), else an overlay of it (overlay.py) in
    ``bundle``, detached once the run is over; a copy there if the kernel refuses the overlay.
    ``bundle`` is made 0700: the merged view holds the image's setuid files and device nodes."""
    bundle.chmod(0o700)
    if _shared(cfg, rootfs, gofer=gofer):
        yield rootfs
        return
    merged = overlay.mount(rootfs, bundle)
    if merged is None:
        yield _copy(rootfs, bundle)
        return
    try:
        yield merged
    finally:
        outdir.detach(merged)


def bundle_rootfs(cfg: dict[str, Any], rootfs: Path, bundle: Path) -> Path:
    """The root filesystem a bundle runs on: the shared unpacked image, or a copy of it in
    ``bundle`` (owners kept) where runc would change it — it creates missing mountpoints,
    and a writable root can be written."""
    return rootfs if _shared(cfg, rootfs) else _copy(rootfs, bundle)


def _shared(cfg: dict[str, Any], rootfs: Path, *, gofer: bool = False) -> bool:
    """Whether the run can use the shared tree as it is, nothing in it writing there (review 11:
    a profile's writable root let a workload edit the cached image for every later attest):
    a read-only root; every mountpoint there (runc makes a missing one, libcontainer/
    rootfs_linux.go createIfNotExists) and the working directory (runc makes it, setupCwd,
    before the root is remounted read-only); /dev a mount of its own (else runc makes its
    device nodes and links in the tree's /dev: createDevices, setupDevSymlinks); and no
    CAP_SYS_ADMIN in any set (it remounts a read-only root read-write: mount -o remount,rw /)."""
    if not cfg["root"]["readonly"] or _missing_mountpoints(cfg, rootfs, gofer=gofer):
        return False
    destinations = [str(m["destination"]).rstrip("/") or "/" for m in cfg["mounts"]]
    if "/dev" not in destinations:
        return False
    caps = cfg.get("process", {}).get("capabilities") or {}
    if any("CAP_SYS_ADMIN" in (names or ()) for names in caps.values()):
        return False
    cwd = str(cfg.get("process", {}).get("cwd") or "/")
    under_mount = any(cwd == d or cwd.startswith(d + "/") for d in destinations if d != "/")
    found = unpack.lookup(rootfs, cwd)
    return under_mount or (found is not None and found.is_dir())


def _copy(rootfs: Path, bundle: Path) -> Path:
    """The image copied into the bundle, exactly and without opening any of its device nodes
    (``overlay.copy``)."""
    try:
        return overlay.copy(rootfs, bundle)
    except OSError as exc:
        raise EngineError(f"cannot copy the image's tree {rootfs} for this run: {exc}") from None
    except RecursionError:  # a user's image nested deeper than Python recurses (the walk is depth first)
        raise EngineError(f"cannot copy the image's tree {rootfs} for this run: nested too deeply") from None


def version_of(binary: str, memo_name: str = "runc-version.json") -> str | None:
    """``runc --version``'s first line, remembered per binary file (its resolved path, inode,
    size and mtime: a replaced or upgraded runc is asked again). The same file prints the
    same version, and the spawn was 4-9 ms of every attest. None when runc is missing or fails."""
    path = shutil.which(binary)
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    real = os.path.realpath(path)
    key = f"{real}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    memo = images.cache_dir() / memo_name
    try:
        known = json.loads(memo.read_bytes())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if isinstance(known.get(key), str):
        return str(known[key])
    answer = first_line([binary, "--version"])
    if answer is not None:
        with contextlib.suppress(OSError, OutputError):  # a cache: unwritten, the next run spawns again
            # one entry per binary (runc and runsc share the file): an upgraded one replaces its own
            kept = {k: v for k, v in known.items() if isinstance(v, str) and k.split(":", 1)[0] != real}
            atomic.publish(memo.parent, {memo.name: json.dumps({**kept, key: answer}).encode()}, what="cache")
    return answer


def _refused(done: Finished) -> bool:
    """runc's own failure before the process ran is its last stderr line, logged as
    ``level=error msg="runc run failed: ..."`` (runc main.go fatal via logrus); an exec that
    fails inside the sandbox (the seed's defect) is not."""
    lines = done.stderr.tail.splitlines() or done.stderr.head.splitlines()
    return done.code != 0 and bool(lines) and b'level=error msg="runc run failed: ' in lines[-1]
