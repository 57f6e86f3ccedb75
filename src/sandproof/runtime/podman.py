"""Podman, daemonless, as root or rootless: the sandbox runs with ``podman run ARGV``
(``render/podman.py``: Docker's argv with podman's engine options).

Why the CLI and not Podman's REST API: the API needs a service process (``podman system
service``) started, kept alive and stopped around every run, and its socket would be one
more thing of the user's to find or leave behind; the CLI is the engine itself (there is no
daemon to talk to), and its argv is the evidence the verifier re-renders, as Docker's is.

Everything podman keeps goes under sandproof's own storage (``engine()``): a private
graph root, run root and tmpdir, and an empty ``containers.conf``/``storage.conf`` (the
``CONTAINERS_CONF``/``CONTAINERS_STORAGE_CONF`` files, which replace every other one), so
neither a user's podman images, containers and locks nor their configuration (default
env, mounts, sysctls, capabilities) reach a sandproof run; podman's built-in defaults are
then exactly the ones ``runtime_defaults`` lists.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from sandproof import atomic, runtime_defaults, safedir
from sandproof import image as images
from sandproof.errors import EngineError, ImageError, OutputError, ProfileError
from sandproof.image import Image
from sandproof.profile import Profile
from sandproof.render import podman as render
from sandproof.render.podman import Engine
from sandproof.runtime import watch
from sandproof.runtime.interface import RunRequest, RunResult, Runtime, Seccomp, supervise
from sandproof.runtime.runc import version_of

REMOVE_TIMEOUT_S = 60
CONTAINERS_CONF = (
    "[containers]\n"
    "# the sandbox's /etc/hosts holds podman's own lines only, never the host's /etc/hosts\n"
    'base_hosts_file = "none"\n'
    "# and no host.containers.internal line: its address is the host's own\n"
    'host_containers_internal_ip = "none"\n'
)
"""containers.conf: podman's built-in defaults but two. The built-in ``base_hosts_file`` ("")
copies every line of the host's /etc/hosts into the sandbox's (containers/common
libnetwork/etchosts ``GetBaseHostFile``; measured on podman 4.3.1: this host's ``127.0.0.1 vm``
and ``runsc`` lines were inside a default run that PASSed): names and addresses of the host's
choosing that no flag, inspect or OCI config shows. "none": localhost and the container's own name only.
``host_containers_internal_ip`` ("", found from the host's interfaces) adds a
``host.containers.internal`` line with the host's own address (measured: this host's eth0
address under ``--network none``); "none" leaves it out (containers.conf(5))."""


def rootless() -> bool:
    """Podman runs rootless exactly when its caller is not root (it then makes a user namespace)."""
    return os.geteuid() != 0


CAP_SYS_RESOURCE = 24
_RLIMITS = {"nofile": resource.RLIMIT_NOFILE, "nproc": resource.RLIMIT_NPROC}


def can_raise_hard() -> bool:
    """Without CAP_SYS_RESOURCE no runtime can set a hard limit above its own (kernel/sys.c
    do_prlimit): measured on these machines, where every process, root's too, lacks it."""
    with open("/proc/self/status", encoding="ascii") as f:
        eff = next((line.split()[1] for line in f if line.startswith("CapEff:")), "0")
    return bool(int(eff, 16) >> CAP_SYS_RESOURCE & 1)


def pid_max() -> int | None:
    try:
        return int(Path(runtime_defaults.PID_MAX).read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None


def rlimit_ceiling(name: str) -> int | None:
    """The highest hard nofile or nproc podman's runc can give a sandbox on this host, or
    None where it has no bound (CAP_SYS_RESOURCE, or an unlimited host limit)."""
    if can_raise_hard():
        return None
    hard = resource.getrlimit(_RLIMITS[name])[1]
    top = pid_max() if name == "nproc" else None  # podman lowers its own nproc to pid_max
    if top is not None and (hard == resource.RLIM_INFINITY or top < hard):
        hard = top
    return None if hard == resource.RLIM_INFINITY else hard


def check_rlimits(profile: Profile) -> None:
    """Refuse, in one line and before anything runs, a profile podman could not start here:
    nofile or nproc left out (podman then asks for 1048576) or set above what it can give.
    Rootless podman caps its own default at the user's hard limit (podman-run(1) --ulimit)."""
    for name, default in runtime_defaults.PODMAN_DEFAULT_RLIMITS.items():
        ceiling = rlimit_ceiling(name)
        declared = profile.resources.ulimits.get(name)
        if ceiling is None or (declared is None and rootless()):
            continue
        if declared is None and default > ceiling:
            raise ProfileError(
                f"profile {profile.source}: resources.ulimits.{name} is not declared: podman then asks runc for "
                f"{default}, above the {ceiling} it can give on this host (no CAP_SYS_RESOURCE), and the sandbox "
                f"would not start; declare it under [resources.ulimits], e.g. {name} = {min(1024, ceiling)}"
            )
        if declared is not None and declared[1] > ceiling:
            raise ProfileError(
                f"profile {profile.source}: resources.ulimits.{name} = {declared[1]} is above the {ceiling} podman "
                f"can give on this host (no CAP_SYS_RESOURCE; nproc: podman lowers its own to pid_max); "
                f"declare at most {ceiling}"
            )


def _state_dir() -> Path:
    """Per-boot state (run root, libpod tmpdir): a tmpfs where there is one, so a reboot
    leaves no stale container state behind (libpod's reboot check reads its tmpdir)."""
    if not rootless():
        return Path("/run/sandproof-podman")
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime_dir and os.path.isdir(runtime_dir):
        return _own(Path(runtime_dir) / "sandproof-podman")
    return _own(Path(tempfile.gettempdir()) / f"sandproof-podman-{os.geteuid()}")


def _own(where: Path) -> Path:
    """``where`` made 0700, or refused unless it is this user's own directory, not a link, open
    to no one else: a fixed name in /tmp another user made first would be theirs to fill (review
    19: a hook they dropped into its hooks.d ran as the user who attested, its report PASS)."""
    why = safedir.own_private(where)
    if why is not None:
        raise EngineError(
            f"podman's state directory {where}: {why}; another user may have made it first: remove it, or set "
            "XDG_RUNTIME_DIR to your own runtime directory"
        )
    return where


def engine(driver: str) -> Engine:
    """sandproof's podman storage for one storage driver: containers/storage refuses to open
    a graph root with another driver than the one that made it, so each has its own."""
    state = _state_dir()
    return Engine(
        root=str(images.cache_dir() / "podman" / f"storage-{driver}"),
        runroot=str(state / f"run-{driver}"),
        tmpdir=str(state / "libpod"),
        driver=driver,
    )


def empty_host_config(eng: Engine) -> None:
    """The --hooks-dir and --default-mounts-file every call names (``render/podman.py``): made
    here, and refused when anything is in them, since podman runs each hook there as root on
    the host for every container (oci-hooks(5)), and copies each mount the file names into it;
    sandproof never puts one there."""
    hooks = Path(eng.hooks_dir)
    hooks.mkdir(mode=0o700, parents=True, exist_ok=True)
    found = sorted(e.name for e in hooks.iterdir())
    if found:
        raise EngineError(f"sandproof's podman hooks directory {hooks} is not empty ({', '.join(found)}): remove them")
    mounts = Path(eng.mounts_file)
    with open(mounts, "ab") as f:  # made empty when missing; never truncated (a change is named, not undone)
        if f.tell():
            raise EngineError(f"sandproof's podman mounts file {mounts} is not empty: empty it")


def client_env(base: dict[str, str], work: Path) -> dict[str, str]:
    """The environment podman runs with: only sandproof's configuration files."""
    containers_conf = work / "containers.conf"
    try:
        current = containers_conf.read_bytes()
    except FileNotFoundError:
        current = b""
    if current != CONTAINERS_CONF.encode():  # written whole (a concurrent podman never reads half)
        atomic.publish(work, {containers_conf.name: CONTAINERS_CONF.encode()}, what="podman's configuration in")
    storage_conf = work / "storage.conf"
    if not storage_conf.exists():
        # containers/storage reads this file before the flags: it must name a driver and a
        # run root, or it logs an error; the flags given to every call then override it
        eng = engine("vfs")
        storage_conf.write_text(
            f'[storage]\ndriver = "vfs"\nrunroot = "{eng.runroot}"\ngraphroot = "{eng.root}"\n', encoding="utf-8"
        )
    kept = {k: v for k, v in base.items() if k in CLIENT_ENV}
    return {**kept, "CONTAINERS_CONF": str(containers_conf), "CONTAINERS_STORAGE_CONF": str(storage_conf)}


CLIENT_ENV = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS", "TMPDIR", "TZ", "LANG"}
)
"""The caller's variables podman is given, and no others: what a rootless podman needs to find
its user, runtime directory and session bus, and its own scratch space. Any other variable
could undo the configuration sandproof writes or move the run elsewhere: NOTIFY_SOCKET
(podman binds the caller's systemd socket into the sandbox), HTTP_PROXY and the like (handed
to the container), CONTAINERS_CONF_OVERRIDE, STORAGE_DRIVER and STORAGE_OPTS (override
containers.conf and storage.conf), CONTAINER_HOST and CONTAINER_CONNECTION (a remote podman)."""


def remembered_driver() -> str | None:
    """The storage driver an earlier run chose for this user, if any (no spawn)."""
    try:
        chosen = (images.cache_dir() / "podman" / "driver").read_text(encoding="ascii").strip()
    except OSError:
        return None
    return chosen if chosen in render.DRIVERS else None


def printable_prefix(env: dict[str, str]) -> list[str]:
    """The variables a printed ``podman`` command needs to run as attest runs it."""
    return [f"{k}={env[k]}" for k in ("CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF")]


class Podman(Runtime):
    name = "podman"

    def __init__(self, binary: str = "podman") -> None:
        self.binary = binary
        self._answer: tuple[str | None] | None = None
        self._engine: Engine | None = None
        self._conf_dir = images.cache_dir() / "podman"

    def _version(self) -> str | None:
        if self._answer is None:
            # remembered per binary file, as runc's: `podman --version` costs ~0.1 s here
            self._answer = (version_of(self.binary, "podman-version.json"),)
        return self._answer[0]

    def available(self) -> bool:
        return self._version() is not None

    def version(self) -> str:
        v = self._version()
        if v is None:
            raise EngineError("podman is not installed or does not run (apt-get install podman)")
        return f"{v} ({'rootless' if rootless() else 'root'}, runc)"

    def env(self, base: dict[str, str]) -> dict[str, str]:
        self._conf_dir.mkdir(parents=True, exist_ok=True)
        return client_env(base, self._conf_dir)

    def engine(self) -> Engine:
        """overlay where it works (as Docker's overlay2: no copy of the image per container),
        else vfs; the choice is remembered per user (one ``podman info`` the first time)."""
        if self._engine is not None:
            return self._engine
        memo = self._conf_dir / "driver"
        chosen = remembered_driver() or ""
        if not chosen:
            chosen = next((d for d in render.DRIVERS if self._works(engine(d))), "vfs")
            with contextlib.suppress(OSError, OutputError):  # a cache: unwritten, the next run asks again
                atomic.publish(memo.parent, {memo.name: chosen.encode()}, what="cache")
        self._engine = engine(chosen)
        return self._engine

    def _works(self, eng: Engine) -> bool:
        empty_host_config(eng)
        argv = [self.binary, *eng.args(), "info", "--format", "{{.Store.GraphDriverName}}"]
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, env=self.env(dict(os.environ)), timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return proc.returncode == 0 and proc.stdout.strip() == eng.driver

    def _podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        empty_host_config(self.engine())
        argv = [self.binary, *self.engine().args(), *args]
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, env=self.env(dict(os.environ)), timeout=300, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineError(f"podman {args[0] if args else ''} did not answer within {exc.timeout:g} s") from exc

    def check(self, profile: Profile) -> None:
        check_rlimits(profile)

    def prepare(self, image: Image) -> None:
        """``podman load`` of the same docker-save archive Docker loads: the image ID (the
        config's sha256) is kept, so the argv runs the exact ID the verifier expects."""
        if self._has_image(image.image_id):
            return
        with tempfile.TemporaryDirectory(prefix="sandproof-load-") as tmp:
            archive = Path(tmp) / "image.tar"
            images.docker_archive(image, archive)
            proc = self._podman("load", "-i", str(archive))
        if proc.returncode != 0:
            raise ImageError(f"podman load of {image.name} failed: {proc.stderr.strip()[-500:]}")

    def _has_image(self, image_id: str) -> bool:
        """containers/storage lists its images in ``<root>/<driver>-images/images.json``
        (store.go, images.go ``load``): read there, not with a ``podman image inspect`` spawn
        (~0.15 s here). A false answer only costs a load (podman load of a present image is a no-op)."""
        eng = self.engine()
        try:
            listed = json.loads((Path(eng.root) / f"{eng.driver}-images" / "images.json").read_bytes())
        except (OSError, ValueError):
            return False
        want = image_id.removeprefix("sha256:")
        return isinstance(listed, list) and any(isinstance(i, dict) and i.get("id") == want for i in listed)

    def run(self, request: RunRequest) -> RunResult:
        profile, mutation = request.profile, request.mutation
        sc_file = profile.seccomp.path_in(request.work_dir)
        loaded = (request.seccomp or Seccomp.render(profile)).edited(mutation.seccomp)
        sc_file.write_bytes(loaded.text)
        details: dict[str, object] = {"seccomp_sha256": loaded.sha256, "rootless": rootless()}
        empty_host_config(self.engine())
        argv = render.argv(
            profile,
            engine=self.engine(),
            in_dir=str(request.in_dir),
            out_dir=str(request.out_dir),
            seccomp_file=str(sc_file),
            run_date=request.run_date,
            podman=self.binary,
            image_ref=request.image.image_id,
            # test-only: the host's / passed on as fd 3 (CVE-2024-21626's shape)
            extra=(*mutation.docker_args, *(("--preserve-fds", "1") if mutation.preserve_host_fd else ())),
            workload=request.workload,
        )
        if mutation.docker is not None:  # Docker's flags are podman's: the same edits apply
            mutation.docker(argv)
        if mutation.entrypoint:  # test-only: hostile code instead of the harness
            ref = argv.index(request.image.image_id)
            ep = mutation.entrypoint
            argv[ref:] = ["--entrypoint", ep[0], request.image.image_id, *ep[1:]]
        env = render.env(profile, self.env(dict(os.environ)))
        name = argv[argv.index("--name") + 1]
        self.own_output(request.out_dir, profile)
        leak = os.open("/", os.O_RDONLY | os.O_DIRECTORY) if mutation.preserve_host_fd else None
        eng = self.engine()
        containers = Path(eng.root) / f"{eng.driver}-containers"  # containers/storage store.go
        view = watch.podman_cli([self.binary, *eng.args()], name, env, containers)
        t0 = time.perf_counter()
        try:
            done = supervise(
                [*mutation.caller, *argv],
                timeout=request.timeout_s,
                stop=lambda: self.remove(name, env),
                env=env,
                leak_fd=leak,
                started=request.started,
            )
        finally:  # read during the run (--rm removes the container); this only collects it
            details["engine_view"] = view.finish()
            if leak is not None:
                os.close(leak)
        wall = time.perf_counter() - t0
        self.give_back(request.out_dir)
        if done.timed_out:
            return RunResult(124, done.stdout, done.stderr, argv, wall, details, timed_out=True)
        # podman run: 125 is podman's own error before the container ran, 126/127 the
        # entrypoint's exec (podman-run(1) EXIT STATUS, as Docker's)
        return RunResult(done.code, done.stdout, done.stderr, argv, wall, details, refused=done.code == 125)

    def own_output(self, out_dir: Path, profile: Profile) -> None:
        """Rootless: the sandbox user's own /out, as root's attest makes it (not 0777)."""
        if rootless():
            out_dir.chmod(0o700)
            self._podman("unshare", "chown", f"{profile.user.uid}:{profile.user.gid}", str(out_dir))

    def give_back(self, out_dir: Path) -> None:
        if rootless():
            self.reclaim(out_dir)

    def reclaim(self, out_dir: Path) -> None:
        """Rootless: what the sandbox wrote is owned by a subordinate uid (65532 inside is
        100000+65531 outside), and the harness writes its bundle 0600 (mkstemp); give it to
        the calling user, who is root of podman's user namespace (``podman unshare``), so
        attest can read the bundle and remove the directory. -h: never through a symlink
        the sandbox left (chown -R does not follow them either)."""
        self._podman("unshare", "chown", "-R", "-h", "0:0", str(out_dir))

    def containers_using(self, source: Path) -> list[str]:
        """The IDs of this storage's containers that bind ``source`` (matched by its host path:
        libpod's ``volume`` filter, measured here on a bind mount, as Docker's matches it)."""
        proc = self._podman("ps", "--all", "--quiet", "--no-trunc", "--filter", f"volume={source}")
        return proc.stdout.split() if proc.returncode == 0 else []

    def remove(self, name: str, env: dict[str, str]) -> None:
        """Kill and remove the container now (``--time 0``: no grace period to wait out), with
        the anonymous volumes an image's ``VOLUME`` made (``--volumes``: ``--rm`` takes them,
        a forced removal without it leaves them in the storage, on the host's disk)."""
        argv = [self.binary, *self.engine().args(), "rm", "--force", "--time", "0", "--volumes", "--ignore", name]
        subprocess.run(argv, capture_output=True, env=env, timeout=REMOVE_TIMEOUT_S, check=False)
