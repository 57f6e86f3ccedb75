"""Weakenings of the process's inputs: environment names no pattern would call secret, an
env file, the Docker client's injected proxies, loader variables, and libraries that make
libc lie (a preloaded shim, a replaced libc)."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sandproof import image
from sandproof.profile import Profile
from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening, replaced

CANARY = "sandproof-canary-value"
ENV, INTEGRITY = "PR-ENV-1", "PR-INTEGRITY-1"
# A shim that makes libc's socket() and syscall() answer EPERM while the kernel would allow
# them: every probe that trusts libc then sees a sandbox that is not there.
SHIM_C = r"""
#include <errno.h>
int socket(int d, int t, int p) { (void)d; (void)t; (void)p; errno = EPERM; return -1; }
long syscall(long n, ...) { (void)n; errno = EPERM; return -1; }
"""


def _env(**values: str) -> Any:
    return lambda p: replaced(p, "environment", variables={**p.environment.variables, **values})


def _oci_env(*entries: str) -> Any:
    """Set variables in the OCI config's environment, replacing any of the same name."""

    def edit(cfg: dict[str, Any]) -> None:
        names = {e.split("=", 1)[0] for e in entries}
        cfg["process"]["env"] = [*(e for e in cfg["process"]["env"] if e.split("=", 1)[0] not in names), *entries]

    return edit


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="sandproof-weak-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def _env_file(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
    with _scratch() as d:
        f = d / "vars.env"
        f.write_text(f"DATABASE_URL=postgres://u:{CANARY}@db/x\n")
        yield Mutation(docker_args=("--env-file", str(f)), oci=_oci_env(f"DATABASE_URL={CANARY}"))


@contextlib.contextmanager
def _client_proxies(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - docker only
    """The Docker CLI copies ``proxies`` from its config.json into every container."""
    with _scratch() as d:
        proxy = {"httpProxy": f"http://user:{CANARY}@proxy:3128", "noProxy": "localhost"}
        (d / "config.json").write_text(json.dumps({"proxies": {"default": proxy}}))
        yield Mutation(docker_config=str(d))


def _mount(source: str, target: str) -> Mutation:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["mounts"].append(
            {"destination": target, "type": "bind", "source": source, "options": ["rbind", "rprivate", "ro"]}
        )

    return Mutation(docker_args=("-v", f"{source}:{target}:ro"), oci=edit)


def _merge(a: Mutation, b: Mutation) -> Mutation:
    def edit(cfg: dict[str, Any]) -> None:
        for m in (a, b):
            if m.oci is not None:
                m.oci(cfg)

    return Mutation(docker_args=(*a.docker_args, *b.docker_args), oci=edit)


def _build_shim(d: Path) -> None:
    (d / "shim.c").write_text(SHIM_C)
    cmd = ["gcc", "-shared", "-fPIC", "-O2", "-o", str(d / "shim.so"), str(d / "shim.c")]
    subprocess.run(cmd, check=True, capture_output=True)
    (d / "shim.so").chmod(0o755)


@contextlib.contextmanager
def _preload_shim(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
    with _scratch() as d:
        _build_shim(d)
        env = Mutation(
            docker_args=("--env", "LD_PRELOAD=/opt/shim/shim.so"), oci=_oci_env("LD_PRELOAD=/opt/shim/shim.so")
        )
        yield _merge(_mount(str(d), "/opt/shim"), env)


@contextlib.contextmanager
def _ld_so_preload(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
    """/etc/ld.so.preload: no variable at all, the loader reads the file."""
    with _scratch() as d:
        _build_shim(d)
        (d / "ld.so.preload").write_text("/opt/shim/shim.so\n")
        yield _merge(_mount(str(d), "/opt/shim"), _mount(str(d / "ld.so.preload"), "/etc/ld.so.preload"))


@contextlib.contextmanager
def _replaced_libc(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
    """The image's own libc with one byte appended: loads and runs, but is not the image's."""
    with _scratch() as d:
        libc = "/lib/x86_64-linux-gnu/libc.so.6"
        img = image.rootfs(image.build(_claim()))
        data = (img / libc.lstrip("/")).read_bytes() + b"\0"
        (d / "libc.so.6").write_bytes(data)
        (d / "libc.so.6").chmod(0o755)
        yield _mount(str(d / "libc.so.6"), libc)


def _claim() -> Profile:
    from sandproof import profile  # noqa: PLC0415 - only when the weakening runs

    return profile.load("default")


def _value_of(name: str, value: str) -> Any:
    """A value for a runtime-set name, through an env file: the argv (kept in the evidence)
    names the file, never the value."""

    @contextlib.contextmanager
    def setup(runtime: str) -> Iterator[Mutation]:  # noqa: ARG001 - the same on both
        with _scratch() as d:
            (d / "vars.env").write_text(f"{name}={value}\n")
            yield Mutation(docker_args=("--env-file", str(d / "vars.env")), oci=_oci_env(f"{name}={value}"))

    return setup


def _no_hostname(cfg: dict[str, Any]) -> None:
    cfg.pop("hostname", None)  # a new UTS namespace then keeps a copy of the host's name


def _hostname(cfg: dict[str, Any]) -> None:
    cfg["hostname"] = "build-host-7"


def _workdir(cfg: dict[str, Any]) -> None:
    cfg["process"]["cwd"] = "/out"


DOMAIN = "corp.internal"


def _domainname(cfg: dict[str, Any]) -> None:
    # runc 1.1 ignores the config's "domainname" (runtime-spec 1.1 added it); its sysctl it writes
    cfg["linux"].setdefault("sysctl", {})["kernel.domainname"] = DOMAIN


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "env-database-url", ENV, "DATABASE_URL passed in (no secret pattern knows it)", apply=_env(DATABASE_URL=CANARY)
    ),
    Weakening("env-gh-pat", ENV, "GH_PAT passed in", apply=_env(GH_PAT=CANARY)),
    Weakening(
        "env-config-value", ENV, "CONFIG=ghp_... (a token as the value of a bland name)", apply=_env(CONFIG=CANARY)
    ),
    Weakening("env-file", ENV, "--env-file with a connection string", setup=_env_file),
    Weakening(
        "docker-client-proxies",
        ENV,
        "proxies from the Docker client's config.json",
        setup=_client_proxies,
        runtimes=("docker",),
    ),
    Weakening("env-ld-library-path", ENV, "LD_LIBRARY_PATH set", apply=_env(LD_LIBRARY_PATH="/tmp")),
    Weakening("ld-preload-shim", INTEGRITY, "LD_PRELOAD of a shim that makes libc answer EPERM", setup=_preload_shim),
    Weakening(
        "ld-so-preload", INTEGRITY, "/etc/ld.so.preload naming a shim (no variable at all)", setup=_ld_so_preload
    ),
    Weakening("libc-replaced", INTEGRITY, "the image's libc replaced by a modified copy", setup=_replaced_libc),
    Weakening(
        "env-hostname-value",
        ENV,
        "a token as the value of HOSTNAME, a name the runtime sets",
        setup=_value_of("HOSTNAME", CANARY),
    ),
    Weakening(
        "env-path-value",
        ENV,
        "PATH with a token in it",
        setup=_value_of("PATH", f"/usr/bin:/{CANARY}"),
    ),
    Weakening(
        "hostname-chosen",
        ENV,
        "a hostname the runtime would not give (--hostname; another UTS namespace)",
        mutation=Mutation(docker_args=("--hostname", "build-host-7"), oci=_hostname),
    ),
    Weakening(
        "workdir-elsewhere",
        "PR-PROC-1",
        "the process started in /out (-w, process.cwd): relative paths land in the output; only the"
        " recorded argv showed it",
        mutation=Mutation(docker_args=("-w", "/out"), oci=_workdir),
    ),
    Weakening(
        "domainname-chosen",
        "PR-SYSCTL-1",
        "a NIS domain name handed in (--domainname): host-chosen data no engine view shows",
        mutation=Mutation(docker_args=("--domainname", DOMAIN), oci=_domainname),
        runtimes=("docker", "runc"),  # podman run has no --domainname and refuses the sysctl
    ),
    Weakening(
        "host-hostname",
        ENV,
        "the host's hostname kept in the sandbox's UTS namespace",
        mutation=Mutation(oci=_no_hostname),
        runtimes=("runc",),
    ),
)
