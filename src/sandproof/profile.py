"""The sandbox profile: the single source of truth every artifact is derived from.

A profile is a TOML file; the model is nested exactly like it (``profile.resources.memory``
is ``[resources] memory``) and each key is stated once, as a field here: the loader
(``tomldata.build``) derives the accepted keys, types and defaults from these dataclasses
and refuses anything else with one line naming the file, the key and what was expected.
Cross-field checks run next (``profilecheck``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandproof import caps, contract, profilecheck, runtime_defaults, tomldata
from sandproof.errors import ProfileError
from sandproof.inspector import syscalls
from sandproof.inspector.judges.limits import RLIMIT_NAMES, UNLIMITED
from sandproof.tomldata import Size, Table, key

SHIPPED = contract.SHIPPED_PROFILES
__all__ = [
    "SHIPPED", "Bind", "Environment", "Filesystem", "Image", "InprocessGuard", "Ipc", "Namespaces", "Network",
    "Profile", "Resources", "Seccomp", "SeccompRule", "Security", "Size", "Tmpfs", "User", "Waiver",
    "WritablePath", "load", "parse",
]  # fmt: skip

# what docker --tmpfs and the kernel's tmpfs take (mm/shmem.c shmem_fs_parameters), in the
# forms mountplan predicts mountinfo from; anything else the engine or kernel would refuse
# fullmatch and [0-9]: "\d" takes any Unicode digit and "$" a final newline, both refused by the kernel's shmem parser
_TMPFS_OPTION = re.compile(
    r"rw|ro|noexec|exec|nosuid|suid|nodev|dev|size=[0-9]{1,19}[kmgKMG]?|mode=[0-7]{1,4}|[ug]id=[0-9]{1,10}"
)
_HOST = re.compile(r"[0-9A-Za-z.:\[\]-]{1,253}")
"""An IP address (v4, or v6 in brackets) or a DNS name, ASCII only."""
HOST_OR_PRIVATE = ("private", "host")

# The image reference grammar of distribution/reference (reference.go's grammar, regexp.go):
# [domain[:port]/]path[:tag][@digest], path components lowercase with . _ __ or -+ between.
# ASCII classes and fullmatch only (re's \w and "$" take Unicode and a final newline). Only a
# sha256 digest: it is the one the engines compute and what "pinned" means here.
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"(?P<name>(?:(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?"
    rf"{_PATH_PART}(?:/{_PATH_PART})*)"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?P<digest>@sha256:[0-9a-f]{64})?"
)
_NAME_MAX = 255
"""distribution/reference NameTotalLengthMax: the name (domain and path) at most 255 bytes."""
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""A plain file name: no '/', never '.' or '..' (it starts with a letter or digit), no control
character, no space; the seccomp file is written by that name into a directory, as root."""


_PAIRS = (("ro", "rw"), ("noexec", "exec"), ("nosuid", "suid"), ("nodev", "dev"))
_OPPOSITE = {**dict(_PAIRS), **{b: a for a, b in _PAIRS}}
"""Each tmpfs flag and the one that undoes it."""


# value checks: None, or what was expected instead


def _abspath(value: str) -> str | None:
    if not value.startswith("/") or ".." in value.split("/"):
        return f"an absolute path without '..', got {value!r}"
    # docker -v SRC:DST:MODE and --tmpfs PATH:OPTS split on ':' and ','; a Dockerfile line ending
    # in a backslash goes on to the next (WORKDIR /app\ swallowed the COPY after it: review 14)
    if any(c in ":,\\" or not c.isprintable() for c in value):
        return f"a path without ':', ',', '\\' or control characters, got {value!r}"
    return None


def image_reference(value: str) -> re.Match[str] | None:
    """The parts of an image reference (``name``, ``digest``), or None when it is not one."""
    m = _REFERENCE.fullmatch(value) if len(value) <= _NAME_MAX + 200 else None
    return m if m is not None and len(m["name"]) <= _NAME_MAX else None


def pinned(value: str) -> bool:
    """The whole of ``value`` is one image reference, and it names its bytes by digest."""
    m = image_reference(value)
    return m is not None and m["digest"] is not None


def _image_ref(value: str) -> str | None:
    # written into the Dockerfile's FROM line, docker's argv and the k8s manifests as is
    if image_reference(value):
        return None
    return (
        "an image reference [HOST[:PORT]/]PATH[:TAG][@sha256:<64 hex>] (distribution/reference: lowercase "
        f"path components separated by '/', '.', '_', '__' or '-'), got {value!r}"
    )


def _file_name(value: str) -> str | None:
    if _FILE_NAME.fullmatch(value):
        return None
    return f"a plain file name ([A-Za-z0-9][A-Za-z0-9._-]{{0,127}}: no '/', '..' or control characters), got {value!r}"


def _errno(value: str) -> str | None:
    return None if re.fullmatch(r"E[A-Z0-9]+", value) else f"an errno name such as 'EPERM', got {value!r}"


def _id(value: int) -> str | None:
    # (uid_t)-1 is "no change" to setuid(2); the kernel maps no higher
    return None if value <= 4294967294 else f"an id 0..4294967294, got {value}"


def _umask(value: str) -> str | None:
    # as /proc/self/status prints it (fs/proc/array.c task_state: "%#04o"); umask(2) keeps 0777
    return None if re.fullmatch(r"0[0-7]{3}", value) else f"a umask of four octal digits such as '0022', got {value!r}"


def _container_name(value: str) -> str | None:
    # moby daemon/names/names.go: validContainerNamePattern
    if re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", value):
        return None
    return f"a name matching [a-zA-Z0-9][a-zA-Z0-9_.-]+, got {value!r}"


def _capability(value: str) -> str | None:
    if caps.normal(value) in caps.ALL:
        return None
    return f"capability names such as NET_BIND_SERVICE, got {value!r}{tomldata.hint(caps.normal(value), caps.ALL)}"


def _tmpfs_option(value: str) -> str | None:
    if _TMPFS_OPTION.fullmatch(value):
        return None
    return f"tmpfs options (rw, ro, [no]exec, [no]suid, [no]dev, size=N[kmg], mode=N), got {value!r}"


def _output_limit(value: Size) -> str | None:
    # the inside bundle alone is ~200 KB; below 1 MiB no honest run fits
    return None if value.bytes >= 1 << 20 else f"at least 1m, got {value.text!r}"


def _output_files(value: int) -> str | None:
    return None if 8 <= value <= 1 << 20 else f"an integer from 8 to {1 << 20}, got {value!r}"


def _cpu_shares(value: int) -> str | None:
    # the kernel clamps cpu.shares to [2, 262144] (kernel/sched/sched.h MIN_SHARES/MAX_SHARES)
    return None if not value or 2 <= value <= 262144 else f"0 (not set) or 2..262144, got {value}"


def _rule_id(value: str) -> str | None:
    # imported here, not at the top: the doctor's rules import this module, and a profile
    # without a waiver (attest's path) never loads them
    from sandproof import doctor  # noqa: PLC0415

    if value in doctor.RULE_IDS:
        return None
    return (
        f"a doctor rule ID (SPDnnn; a verify probe or check cannot be waived), got {value!r}"
        f"{tomldata.hint(value, doctor.RULE_IDS)}"
    )


def _reason(value: str) -> str | None:
    return None if value.strip() else "a non-empty reason (why this finding is accepted)"


# readers of values no plain type describes


def _host_port(t: Table, name: str) -> tuple[str, int]:
    value = t.text(name)
    host, sep, port = value.rpartition(":")
    ok = sep and _HOST.fullmatch(host) and re.fullmatch(r"[0-9]{1,5}", port) and 0 < int(port) < 65536
    if not ok:
        t.fail(name, f"'HOST:PORT', got {value!r}")
    return host, int(port)


def _variables(t: Table, name: str) -> dict[str, str]:
    value = t.str_map(name)
    for var in value:
        # docker --env NAME=VALUE: a name holding '=' would put a value into the argv
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
            t.fail(f"{name}.{var}", "a variable name ([A-Za-z_][A-Za-z0-9_]*)")
    return value


def _limit(t: Table, name: str, value: object) -> int:
    if value == "unlimited":
        return UNLIMITED
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < UNLIMITED:
        t.fail(name, f'a non-negative integer or "unlimited", got {value!r}')
    return value


def _ulimits(parent: Table, name: str) -> dict[str, tuple[int, int]]:
    """``name = N`` (soft and hard), ``"unlimited"``, or ``{ soft = N, hard = M }``."""
    t = parent.table(name)
    t.keys_only(*RLIMIT_NAMES)
    out = {}
    for limit in t.data:
        value = t.get(limit)
        if isinstance(value, dict):
            pair = t.table(limit)
            pair.keys_only("soft", "hard")
            soft, hard = _limit(pair, "soft", pair.get("soft")), _limit(pair, "hard", pair.get("hard"))
        else:
            soft = hard = _limit(t, limit, value)
        if soft > hard:
            t.fail(limit, f"a soft limit no higher than the hard one, got {soft} > {hard}")
        out[limit] = (soft, hard)
    return out


def _allow(parent: Table, name: str) -> dict[str, tuple[str, ...]]:
    """``[seccomp.allow]``: per architecture, the syscalls a default-deny filter lets through,
    each a name of that architecture's table (runc would silently skip any other name)."""
    t = parent.table(name)
    t.keys_only(*syscalls.ARCHES)
    out = {}
    for arch in t.data:
        table = syscalls.TABLES[arch]
        names = t.str_list(arch)
        for n in names:
            if n not in table:
                t.fail(arch, f"syscall names of {arch}, got {n!r}{tomldata.hint(n, table)}")
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            t.fail(arch, f"each syscall once, got {', '.join(twice)} more than once")
        out[arch] = names
    return out


SYSCTL_PREFIXES = ("net.", "fs.mqueue.")
_SYSCTL_NAME = re.compile(r"[A-Za-z0-9_-]+(?:[./][A-Za-z0-9_-]+)+")
"""A sysctl's name: /proc/sys path components joined by '.' (or '/'). Docker splits --sysctl at
its first '=': a name holding one set another sysctl to another value (review 14)."""


def _sysctls(parent: Table, name: str) -> dict[str, str]:
    """Namespaced sysctls only (which namespace the sandbox owns is profilecheck's)."""
    t = parent.table(name)
    exact = (*runtime_defaults.IPC_SYSCTLS, *runtime_defaults.UTS_SYSCTLS)
    out = {}
    for sysctl, value in t.data.items():
        if not _SYSCTL_NAME.fullmatch(sysctl):
            t.fail(sysctl, "a sysctl name: letters, digits, '_' and '-', in components joined by '.'")
        if sysctl not in exact and not sysctl.startswith(SYSCTL_PREFIXES):
            t.fail(
                sysctl,
                f"a namespaced sysctl (net.*, fs.mqueue.*, {', '.join(runtime_defaults.IPC_SYSCTLS)}, "
                f"{', '.join(runtime_defaults.UTS_SYSCTLS)}){tomldata.hint(sysctl, exact)}",
            )
        if isinstance(value, bool) or not isinstance(value, str | int):
            t.fail(sysctl, f"a string or integer, got {type(value).__name__}")
        out[sysctl] = " ".join(str(value).split())
    return out


def _host_kernel(parent: Table, name: str) -> dict[str, tuple[int, ...] | dict[str, int]]:
    """``[host_kernel]``: per host-wide setting (runtime_defaults.HOST_KERNEL names them), a list
    of the values allowed or ``{ min = N }``; the defaults for every setting it leaves out."""
    t = parent.table(name)
    known = runtime_defaults.HOST_KERNEL
    out = dict(known)
    for knob, value in t.data.items():
        if knob not in known:
            nested = (
                ' (quote a dotted name: "kernel.x" = ...)' if isinstance(value, dict) and "min" not in value else ""
            )
            t.fail(knob, f"a host-wide kernel setting ({', '.join(known)}){tomldata.hint(knob, known)}{nested}")
        if isinstance(value, list):
            ints = [v for v in value if type(v) is int]
            if not value or len(ints) != len(value):
                t.fail(knob, f"a non-empty list of integers or {{ min = N }}, got {value!r:.60}")
            out[knob] = tuple(sorted(set(ints)))
        elif isinstance(value, dict):
            t.table(knob).keys_only("min")
            if type(value.get("min")) is not int:
                t.fail(knob, f"{{ min = N }} with an integer N, got {value!r:.60}")
            out[knob] = {"min": value["min"]}
        else:
            t.fail(knob, f"a list of the values allowed or {{ min = N }}, got {type(value).__name__}")
    return out


# the model, nested like the TOML


@dataclass(frozen=True)
class Image:
    name: str = field(metadata=key(check=_image_ref))
    base: str = field(metadata=key(check=_image_ref))
    """The base the rendered Dockerfile starts FROM."""
    workdir: str = field(metadata=key(check=_abspath))
    entrypoint: tuple[str, ...] = field(metadata=key(nonempty=True))
    container_name: str | None = field(default=None, metadata=key(check=_container_name))
    """None: attest names each run's container uniquely."""
    workload: str | None = field(default=None, metadata=key(check=_image_ref, omit_default=True, nonempty=True))
    """The user's image the harness is carried into (``busybox``, ``example`` or an image of
    the local engine; ``attest --image`` sets it); None: sandproof's own probe image."""


@dataclass(frozen=True)
class User:
    uid: int = field(metadata=key(check=_id))
    gid: int = field(metadata=key(check=_id))
    umask: str = field(
        default=runtime_defaults.UMASK,
        metadata=key(check=_umask, omit_default=True, doc="the file mode creation mask the process starts with"),
    )


@dataclass(frozen=True)
class Network:
    mode: str = field(metadata=key(choices=("none", "host")))
    probe_target: tuple[str, int] = field(metadata=key(read=_host_port, doc="the address PR-NET-1 must not reach"))


@dataclass(frozen=True)
class Tmpfs:
    path: str = field(metadata=key(check=_abspath))
    options: tuple[str, ...] = field(metadata=key(check=_tmpfs_option))

    def has(self, flag: str) -> bool:
        """Whether ``flag`` (ro, rw, [no]exec, [no]suid, [no]dev) holds: the last of it and its
        opposite wins, as the kernel's mount(8) options, moby's mergeTmpfsOptions (reverse order,
        one per flag) and runc's parseMountOptions (set or clear, in order) all read them."""
        other = _OPPOSITE[flag]
        for option in reversed(self.options):
            if option == flag:
                return True
            if option == other:
                return False
        return False


@dataclass(frozen=True)
class Bind:
    """A host path bind-mounted into the sandbox."""

    source: str = field(metadata=key(check=_abspath))
    target: str = field(metadata=key(check=_abspath))
    mode: str = field(metadata=key(choices=("ro", "rw")))


@dataclass(frozen=True)
class WritablePath:
    path: str = field(metadata=key(check=_abspath))
    reason: str


@dataclass(frozen=True)
class Filesystem:
    """The input is always mounted read-only and the output read-write (seed §2, §5)."""

    read_only_rootfs: bool
    input: str = field(metadata=key(check=_abspath))
    output: str = field(metadata=key(check=_abspath))
    tmpfs: tuple[Tmpfs, ...]
    writable: tuple[WritablePath, ...]
    binds: tuple[Bind, ...] = ()
    output_limit: Size = field(default=Size(16 << 20, "16m"), metadata=key(check=_output_limit, unit="bytes (k, m, g)"))
    """The most bytes the sandbox may write to its output directory (a tmpfs of that size)."""
    output_files: int = field(default=1024, metadata=key(check=_output_files))
    """The most files and directories it may create there (the tmpfs's inodes)."""


@dataclass(frozen=True)
class Security:
    capabilities: tuple[str, ...] = field(metadata=key(check=_capability))
    no_new_privileges: bool
    privileged: bool = False
    cap_drop_all: bool = True
    """False keeps the engine's default capability set instead of starting from none."""


@dataclass(frozen=True)
class Namespaces:
    pid: str = field(default="private", metadata=key(choices=HOST_OR_PRIVATE))
    uts: str = field(default="private", metadata=key(choices=HOST_OR_PRIVATE))
    cgroup: str = field(default="engine-default", metadata=key(choices=HOST_OR_PRIVATE))
    """No key: no flag (Docker 20.10 on cgroup v1 shares the host's)."""
    user: str = field(default="engine-default", metadata=key(choices=("host",)))
    """"host" (no user namespace) is the only mode both runtimes give without daemon
    configuration: Docker remaps users only with dockerd's --userns-remap."""


@dataclass(frozen=True)
class Resources:
    pids: int = field(metadata=key(unit="processes; 0: no limit"))
    memory: Size = field(metadata=key(unit="bytes (k, m, g); 0: no limit"))
    memory_swap: Size = field(metadata=key(unit="bytes (k, m, g)"))
    """memory + swap, as docker's --memory-swap."""
    cpus: float = field(metadata=key(unit="CPUs; 0: no limit"))
    ulimits: Mapping[str, tuple[int, int]] = field(default_factory=dict, metadata=key(read=_ulimits))
    """rlimit name -> (soft, hard); ``UNLIMITED`` for "unlimited". Undeclared limits are
    inherited from the engine's own process and differ per host."""
    cpu_shares: int = field(default=0, metadata=key(check=_cpu_shares))
    """0: not set (the kernel's default: cpu.shares 1024, cpu.weight 100)."""
    oom_kill_disable: bool = False


@dataclass(frozen=True)
class Ipc:
    mode: str = field(metadata=key(choices=("none", "private", "host", "engine-default")))


@dataclass(frozen=True)
class Environment:
    variables: Mapping[str, str] = field(metadata=key(read=_variables, secret=True))
    """Values never enter the digest: it must not be a way to test a guessed secret."""
    env_file: str | None = None


@dataclass(frozen=True)
class SeccompRule:
    names: tuple[str, ...] = field(metadata=key(nonempty=True))
    errno: str = field(metadata=key(check=_errno))


@dataclass(frozen=True)
class InprocessGuard:
    """The L2 layer: a seccomp filter the harness stacks on itself as its first act."""

    deny: tuple[str, ...] = field(metadata=key(nonempty=True))
    errno: str = field(metadata=key(check=_errno))


@dataclass(frozen=True)
class Seccomp:
    file_name: str = field(metadata=key(check=_file_name))
    default_action: str = field(metadata=key(choices=("allow", "errno")))
    """"allow": a deny list (``rules``); "errno": default-deny, only ``allow`` gets through."""
    architectures: tuple[str, ...] = field(metadata=key(choices=("x86_64", "aarch64"), nonempty=True))
    deny_clone_namespaces: bool
    rules: tuple[SeccompRule, ...]
    inprocess: InprocessGuard | None = None
    enabled: bool = True
    """False renders ``seccomp=unconfined``: no runtime filter at all."""
    arch_specific: tuple[str, ...] = ()
    """Denied names that may be missing on some listed architecture (denied where they exist)."""
    default_errno: str | None = field(default=None, metadata=key(check=_errno, omit_default=True))
    """What every call outside ``allow`` gets (default_action "errno" only)."""
    allow: Mapping[str, tuple[str, ...]] = field(default_factory=dict, metadata=key(read=_allow, omit_default=True))
    """architecture -> the syscalls let through (default_action "errno" only). The filter also
    lets through the runtime's and the harness's floors (``runtime_defaults``)."""

    def plain_file_name(self) -> str:
        """``file_name``, checked again where it is used: the loader refused every other
        name, but a Seccomp built in code (``dataclasses.replace``) never met the loader."""
        wrong = _file_name(self.file_name)
        if wrong is not None:
            raise ProfileError(f"seccomp.file_name: expected {wrong}")
        return self.file_name

    def path_in(self, directory: str | os.PathLike[str]) -> Path:
        """Where the policy file goes in ``directory``: always directly inside it."""
        return Path(directory, self.plain_file_name())


@dataclass(frozen=True)
class Waiver:
    """``[[waiver]]``: a doctor finding accepted, with the reason every report shows beside it.
    Doctor rules only: a verify FAIL is never waived (a waiver could otherwise turn it into a PASS)."""

    rule: str = field(metadata=key(check=_rule_id))
    reason: str = field(metadata=key(check=_reason))


@dataclass(frozen=True)
class Profile:
    """A loaded, validated sandbox profile."""

    name: str
    description: str
    image: Image
    user: User
    network: Network
    filesystem: Filesystem
    security: Security
    resources: Resources
    ipc: Ipc
    environment: Environment
    seccomp: Seccomp
    namespaces: Namespaces = Namespaces()
    sysctls: Mapping[str, str] = field(default_factory=dict, metadata=key(read=_sysctls))
    host_kernel: Mapping[str, tuple[int, ...] | Mapping[str, int]] = field(
        default_factory=lambda: dict(runtime_defaults.HOST_KERNEL),
        metadata=key(read=_host_kernel, omit_default=True),
    )
    """Host-wide kernel settings every sandbox on the host shares (PR-HOSTK-1): per setting the
    values allowed, or { min = N }; a setting left out keeps sandproof's default."""
    waivers: tuple[Waiver, ...] = field(default=(), metadata=key(toml="waiver", omit_default=True))
    """Doctor findings accepted on purpose (``sandproof doctor`` shows each as waived)."""
    source: str = field(default="", metadata=key(internal=True))
    """Where it came from: ``shipped:NAME`` or a file path."""
    text: str = field(default="", metadata=key(internal=True))
    """The TOML text as read; hashed into the evidence."""

    @functools.cached_property
    def digest(self) -> str:
        """sha256 of what the profile says (every key, defaults filled in, but not its text or
        source), so a profile changed in code, not only in its file, gets another digest."""
        said = tomldata.canonical(self)
        # a waiver is the doctor's, not the sandbox's: it changes no artifact and no expectation,
        # so accepting a finding does not orphan the evidence recorded for the same sandbox
        said.pop("waiver", None)
        return hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()


def load(ref: str) -> Profile:
    """Load a shipped profile by name, or a profile file by path."""
    text, source = tomldata.read(ref, package="sandproof.profiles", shipped=SHIPPED, what="profile", error=ProfileError)
    return parse(text, source)


def parse(text: str, source: str) -> Profile:
    data: dict[str, Any] = tomldata.loads(text, source=source, what="profile", error=ProfileError)
    loaded = tomldata.build(Profile, Table(data, source, what="profile", error=ProfileError), source=source, text=text)
    profilecheck.check(loaded)
    return loaded


def with_workload(profile: Profile, ref: str | None) -> Profile:
    """``attest --image REF``: the profile with ``[image] workload = REF`` (its digest
    changes with it: the evidence names the sandbox around that image). None: unchanged."""
    if not ref:
        return profile
    if (why := _image_ref(ref)) is not None:  # it reaches docker's argv: "--format=..." is no image
        raise ProfileError(f"--image: expected {why}")
    return dataclasses.replace(profile, image=dataclasses.replace(profile.image, workload=ref))
