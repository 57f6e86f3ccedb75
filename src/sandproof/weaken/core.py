"""What a weakening is, and the small profile edits the suites are made of.

An attestation is only worth the weakenings it can catch: each weakening runs the
sandbox with one claim taken away (by a profile change, or by a run-time mutation no
profile can express) and is judged against the unweakened profile; the named probe must
then FAIL while the run still writes its bundle.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sandproof.profile import Bind, Profile, Seccomp, SeccompRule, Tmpfs
from sandproof.runtime.interface import NO_MUTATION, Mutation
from sandproof.weaken import gvisor

BOTH = ("docker", "runc", "podman")
"""Every runtime (the name is older than podman): where a profile change or a Docker flag can say it."""
ENGINE_SOCKET = "/var/run/docker.sock"


def _same(p: Profile) -> Profile:
    return p


@dataclass(frozen=True)
class Weakening:
    name: str
    probe_id: str
    """The probe that must FAIL, or a bundle-level check a matrix row is bound to
    (``matrix.BOUND_CHECKS``: ``engine-view``) for what no probe inside can see."""
    note: str
    apply: Callable[[Profile], Profile] = _same
    """The profile the weakened sandbox is run with."""
    mutation: Mutation = field(default=NO_MUTATION)
    """What the run changes beyond the profile (extra flags, an edited OCI config)."""
    runtimes: tuple[str, ...] = BOTH
    """Where the weakening can be expressed at all."""
    setup: Callable[[str], contextlib.AbstractContextManager[Mutation]] | None = None
    """For weakenings that need something on the host first (another container, a named
    volume, a socket): given the runtime, yields the mutation to run with and cleans up."""
    no_effect: Callable[[str], str | None] = lambda _runtime: None
    """Why the weakening cannot change anything on this host (e.g. an LSM that is not
    enabled), or None: such a weakening is reported as "no effect here", never as caught."""
    base: str | None = None
    """A shipped profile the weakening is made to and judged against instead of the one under
    test, for a claim only that profile makes (e.g. a learned seccomp allowlist)."""
    host_wide: bool = False
    """Its setup changes the whole host (a kernel setting every sandbox shares) and holds
    ``hostlock.exclusive`` while it does: whoever runs it must not hold the lock shared."""

    def target(self, runtime: str) -> str:
        """The probe (or bundle-level check) that must FAIL on ``runtime``: ``probe_id``, but on
        runsc the one ``gvisor.AIMED`` names where gVisor leaves ``probe_id``'s view unchanged."""
        aimed = gvisor.AIMED.get(self.name) if runtime == "runsc" else None
        return aimed[0] if aimed is not None else self.probe_id

    @contextlib.contextmanager
    def prepared(self, runtime: str) -> Iterator[Mutation]:
        if self.setup is None:
            yield self.mutation
        else:
            with self.setup(runtime) as mutation:
                yield mutation


def docker_flags(*args: str) -> Mutation:
    return Mutation(docker_args=args)


def oci_edit(edit: Callable[[dict[str, Any]], None]) -> Mutation:
    return Mutation(oci=edit)


def allow_syscalls(*syscalls: str) -> Callable[[Profile], Profile]:
    def apply(p: Profile) -> Profile:
        rules = tuple(SeccompRule(tuple(n for n in r.names if n not in syscalls), r.errno) for r in p.seccomp.rules)
        return dataclasses.replace(p, seccomp=dataclasses.replace(p.seccomp, rules=tuple(r for r in rules if r.names)))

    return apply


def chain(*steps: Callable[[Profile], Profile]) -> Callable[[Profile], Profile]:
    def apply(p: Profile) -> Profile:
        for step in steps:
            p = step(p)
        return p

    return apply


def replaced(p: Profile, table: str, **changes: object) -> Profile:
    """``p`` with keys of one table changed: ``replaced(p, "network", mode="host")``."""
    return dataclasses.replace(p, **{table: dataclasses.replace(getattr(p, table), **changes)})


def set_fields(table: str, **changes: object) -> Callable[[Profile], Profile]:
    return lambda p: replaced(p, table, **changes)


def bind_mode(point: str, mode: str) -> Mutation:
    """attest's /in or /out bound with another mode: no profile can say so (the input is always
    read-only, the output always read-write), so only the run is changed."""

    def docker(argv: list[str]) -> None:
        i = next(i for i, a in enumerate(argv) if a.startswith("/") and f":{point}:" in a)
        argv[i] = f"{argv[i].rpartition(':')[0]}:{mode}"

    def oci(cfg: dict[str, Any]) -> None:
        m = next(m for m in cfg["mounts"] if m["destination"] == point)
        m["options"] = [mode if o in ("ro", "rw") else o for o in m["options"]]

    return Mutation(docker=docker, oci=oci)


def no_guard(p: Profile) -> Profile:
    sc: Seccomp = dataclasses.replace(p.seccomp, inprocess=None)
    return dataclasses.replace(p, seccomp=sc)


def bind(source: str, target: str, mode: str) -> Callable[[Profile], Profile]:
    return lambda p: replaced(p, "filesystem", binds=(*p.filesystem.binds, Bind(source, target, mode)))


def seccomp_fields(**changes: object) -> Callable[[Profile], Profile]:
    return set_fields("seccomp", **changes)


def clone3_eperm(p: Profile) -> Profile:
    """The seed's rule: clone3 answered EPERM instead of ENOSYS (moby#42681)."""
    rules = tuple(SeccompRule(r.names, "EPERM") if r.names == ("clone3",) else r for r in p.seccomp.rules)
    return dataclasses.replace(p, seccomp=dataclasses.replace(p.seccomp, rules=rules))


def tmp_exec(p: Profile) -> Profile:
    # "exec", not just no "noexec": Docker's --tmpfs defaults to noexec,nosuid,nodev
    tmpfs = tuple(Tmpfs(t.path, tuple("exec" if o == "noexec" else o for o in t.options)) for t in p.filesystem.tmpfs)
    return replaced(p, "filesystem", tmpfs=tmpfs)


def tmp_size(size: str) -> Callable[[Profile], Profile]:
    def apply(p: Profile) -> Profile:
        tmpfs = tuple(
            Tmpfs(t.path, tuple(f"size={size}" if o.startswith("size=") else o for o in t.options))
            if t.path == "/tmp"
            else t
            for t in p.filesystem.tmpfs
        )
        return replaced(p, "filesystem", tmpfs=tmpfs)

    return apply


def extra_tmpfs(p: Profile) -> Profile:
    return replaced(p, "filesystem", tmpfs=(*p.filesystem.tmpfs, Tmpfs("/data", ("rw", "mode=1777", "size=1m"))))


def bind_engine_socket(p: Profile) -> Profile:
    return bind(ENGINE_SOCKET, ENGINE_SOCKET, "ro")(p)
