"""The sandbox profile: the single source of truth every artifact is derived from.

A profile is a TOML file. Loading validates it with the stdlib alone: unknown keys
and wrong types are refused with one line naming the file, the key and what was
expected (after pypa/build's ``_parse_build_system_table``).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from sandproof import caps, contract, profilecheck, runtime_defaults, tomldata
from sandproof.errors import ProfileError
from sandproof.inspector.judges.limits import RLIMIT_NAMES, UNLIMITED

SHIPPED = contract.SHIPPED_PROFILES
_SIZE = re.compile(r"^(\d+)([kmg]?)$")


@dataclass(frozen=True)
class Tmpfs:
    path: str
    options: tuple[str, ...]

    def has(self, flag: str) -> bool:
        return flag in self.options


@dataclass(frozen=True)
class Bind:
    """A host path bind-mounted into the sandbox."""

    source: str
    target: str
    mode: str
    """"ro" or "rw"."""


@dataclass(frozen=True)
class WritablePath:
    path: str
    reason: str


@dataclass(frozen=True)
class SeccompRule:
    names: tuple[str, ...]
    errno: str


@dataclass(frozen=True)
class InprocessGuard:
    """The L2 layer: a seccomp filter the harness stacks on itself as its first act."""

    deny: tuple[str, ...]
    errno: str


@dataclass(frozen=True)
class Seccomp:
    file_name: str
    default_action: str
    architectures: tuple[str, ...]
    deny_clone_namespaces: bool
    rules: tuple[SeccompRule, ...]
    inprocess: InprocessGuard | None
    enabled: bool = True
    """False renders ``seccomp=unconfined``: no runtime filter at all."""
    arch_specific: tuple[str, ...] = ()
    """Denied names that may be missing on some listed architecture (denied where they exist)."""


@dataclass(frozen=True)
class Profile:
    """A loaded, validated sandbox profile."""

    name: str
    description: str
    source: str
    """Where it came from: ``shipped:NAME`` or a file path."""
    text: str
    """The TOML text as read; hashed into the evidence."""
    image_name: str
    image_base: str
    workdir: str
    entrypoint: tuple[str, ...]
    container_name: str | None
    uid: int
    gid: int
    network_mode: str
    probe_target: tuple[str, int]
    read_only_rootfs: bool
    input_path: str
    output_path: str
    input_mode: str
    output_mode: str
    binds: tuple[Bind, ...]
    tmpfs: tuple[Tmpfs, ...]
    writable: tuple[WritablePath, ...]
    capabilities: tuple[str, ...]
    no_new_privileges: bool
    pids: int
    memory_bytes: int
    memory_swap_bytes: int
    memory_text: str
    memory_swap_text: str
    cpus: float
    ipc_mode: str
    env: Mapping[str, str] = field(default_factory=dict)
    env_file: str | None = None
    seccomp: Seccomp = field(default_factory=lambda: Seccomp("", "allow", (), False, (), None))
    privileged: bool = False
    cap_drop_all: bool = True
    """False keeps the engine's default capability set instead of starting from none."""
    pid_mode: str = "private"
    uts_mode: str = "private"
    cgroupns_mode: str = "engine-default"
    """"private", "host", or "engine-default" (no flag: Docker 20.10 on cgroup v1 shares the host's)."""
    userns_mode: str = "engine-default"
    """"host" (no user namespace) is the only mode both runtimes give without daemon
    configuration: Docker remaps users only with dockerd's --userns-remap."""
    ulimits: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """rlimit name -> (soft, hard); ``UNLIMITED`` for "unlimited". Undeclared limits are
    inherited from the engine's own process and differ per host."""
    cpu_shares: int = 0
    """0: not set (the kernel's default: cpu.shares 1024, cpu.weight 100)."""
    oom_kill_disable: bool = False
    sysctls: Mapping[str, str] = field(default_factory=dict)
    output_limit_bytes: int = 16 << 20
    """The most bytes the sandbox may write to its output directory (a tmpfs of that size)."""
    output_files: int = 1024
    """The most files and directories it may create there (the tmpfs's inodes)."""

    @functools.cached_property
    def digest(self) -> str:
        """sha256 of what the profile says (every field but its text and source), so a
        profile changed in code, not only in its file, gets another digest."""
        fields = dataclasses.asdict(self)
        del fields["text"], fields["source"]
        fields["env"] = sorted(self.env)  # names only: a digest must not be a way to test a guessed secret
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def load(ref: str) -> Profile:
    """Load a shipped profile by name, or a profile file by path."""
    text, source = tomldata.read(ref, package="sandproof.profiles", shipped=SHIPPED, what="profile", error=ProfileError)
    return parse(text, source)


def parse(text: str, source: str) -> Profile:
    data = tomldata.loads(text, source=source, what="profile", error=ProfileError)
    t = _Table(data, source, "")
    t.keys_only(
        "name",
        "description",
        "image",
        "user",
        "network",
        "filesystem",
        "security",
        "resources",
        "ipc",
        "namespaces",
        "environment",
        "seccomp",
        "sysctls",
    )
    image = t.table("image")
    image.keys_only("name", "base", "workdir", "entrypoint", "container_name")
    user = t.table("user")
    user.keys_only("uid", "gid")
    net = t.table("network")
    net.keys_only("mode", "probe_target")
    fs = t.table("filesystem")
    fs.keys_only(
        "read_only_rootfs",
        "input",
        "output",
        "input_mode",
        "output_mode",
        "tmpfs",
        "writable",
        "binds",
        "output_limit",
        "output_files",
    )
    sec = t.table("security")
    sec.keys_only("capabilities", "no_new_privileges", "privileged", "cap_drop_all")
    ns = t.table("namespaces") if t.has("namespaces") else _Table({}, source, "namespaces")
    ns.keys_only("pid", "uts", "cgroup", "user")
    res = t.table("resources")
    res.keys_only("pids", "memory", "memory_swap", "cpus", "ulimits", "cpu_shares", "oom_kill_disable")
    ipc = t.table("ipc")
    ipc.keys_only("mode")
    env = t.table("environment")
    env.keys_only("variables", "env_file")
    memory = res.text("memory")
    swap = res.text("memory_swap")
    memory_bytes, swap_bytes = _size(res, "memory", memory), _size(res, "memory_swap", swap)
    # docker refuses both (daemon/daemon_unix.go verifyPlatformContainerResources): swap is
    # memory+swap, so less than memory is meaningless, and swap alone has nothing to add to
    if swap_bytes and swap_bytes < memory_bytes:
        res.fail("memory_swap", f"at least memory ({memory}), got {swap!r}")
    if swap_bytes and not memory_bytes:
        res.fail("memory_swap", "0 when memory is 0 (a swap limit needs a memory limit)")
    network_mode = net.choice("mode", ("none", "host"))
    ipc_mode = ipc.choice("mode", ("none", "private", "host", "engine-default"))
    uts_mode = ns.choice("uts", ("private", "host")) if ns.has("uts") else "private"
    loaded = Profile(
        name=t.text("name"),
        description=t.text("description"),
        source=source,
        text=text,
        image_name=image.text("name"),
        image_base=image.text("base"),
        workdir=image.abspath("workdir"),
        entrypoint=image.str_list("entrypoint", nonempty=True),
        container_name=_container_name(image) if image.has("container_name") else None,
        uid=_id(user, "uid"),
        gid=_id(user, "gid"),
        network_mode=network_mode,
        probe_target=net.host_port("probe_target"),
        read_only_rootfs=fs.flag("read_only_rootfs"),
        input_path=fs.abspath("input"),
        output_path=fs.abspath("output"),
        input_mode=fs.choice("input_mode", ("ro", "rw")) if fs.has("input_mode") else "ro",
        output_mode=fs.choice("output_mode", ("ro", "rw")) if fs.has("output_mode") else "rw",
        binds=tuple(_bind(x) for x in fs.tables("binds")) if fs.has("binds") else (),
        tmpfs=tuple(_tmpfs(x) for x in fs.tables("tmpfs")),
        writable=tuple(_writable(x) for x in fs.tables("writable")),
        capabilities=_capabilities(sec),
        no_new_privileges=sec.flag("no_new_privileges"),
        pids=res.integer("pids"),
        memory_bytes=memory_bytes,
        memory_swap_bytes=swap_bytes,
        memory_text=memory,
        memory_swap_text=swap,
        cpus=res.number("cpus"),
        ipc_mode=ipc_mode,
        privileged=sec.flag("privileged") if sec.has("privileged") else False,
        cap_drop_all=sec.flag("cap_drop_all") if sec.has("cap_drop_all") else True,
        pid_mode=ns.choice("pid", ("private", "host")) if ns.has("pid") else "private",
        uts_mode=uts_mode,
        cgroupns_mode=ns.choice("cgroup", ("private", "host")) if ns.has("cgroup") else "engine-default",
        userns_mode=ns.choice("user", ("host",)) if ns.has("user") else "engine-default",
        ulimits=_ulimits(res.table("ulimits")) if res.has("ulimits") else {},
        cpu_shares=_cpu_shares(res) if res.has("cpu_shares") else 0,
        oom_kill_disable=res.flag("oom_kill_disable") if res.has("oom_kill_disable") else False,
        sysctls=_sysctls(t.table("sysctls"), network_mode, ipc_mode, uts_mode) if t.has("sysctls") else {},
        output_limit_bytes=_output_limit(fs) if fs.has("output_limit") else 16 << 20,
        output_files=_output_files(fs) if fs.has("output_files") else 1024,
        env=env.str_map("variables"),
        env_file=env.text("env_file") if env.has("env_file") else None,
        seccomp=_seccomp(t.table("seccomp")),
    )
    profilecheck.check(loaded)
    return loaded


# what docker --tmpfs and the kernel's tmpfs take (mm/shmem.c shmem_fs_parameters), in the
# forms mountplan predicts mountinfo from; anything else the engine or kernel would refuse
_TMPFS_OPTION = re.compile(r"^(rw|ro|noexec|exec|nosuid|suid|nodev|dev|size=\d+[kmgKMG]?|mode=[0-7]{1,4}|[ug]id=\d+)$")


def _capabilities(t: _Table) -> tuple[str, ...]:
    values = t.str_list("capabilities")
    for v in values:
        if caps.normal(v) not in caps.ALL:
            close = difflib.get_close_matches(caps.normal(v), caps.ALL, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            t.fail("capabilities", f"capability names such as NET_BIND_SERVICE, got {v!r}{hint}")
    return values


def _container_name(t: _Table) -> str:
    value = t.text("container_name")
    # moby daemon/names/names.go: validContainerNamePattern
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", value):
        t.fail("container_name", f"a name matching [a-zA-Z0-9][a-zA-Z0-9_.-]+, got {value!r}")
    return value


def _id(t: _Table, key: str) -> int:
    value = t.integer(key)
    if value > 4294967294:  # (uid_t)-1 is "no change" to setuid(2); the kernel maps no higher
        t.fail(key, f"an id 0..4294967294, got {value}")
    return value


def _output_limit(fs: _Table) -> int:
    value = _size(fs, "output_limit", fs.text("output_limit"))
    if value < 1 << 20:  # the inside bundle alone is ~200 KB; below 1 MiB no honest run fits
        fs.fail("output_limit", f"at least 1m, got {fs.text('output_limit')!r}")
    return value


def _output_files(fs: _Table) -> int:
    value = fs.integer("output_files")
    if not 8 <= value <= 1 << 20:
        fs.fail("output_files", f"an integer from 8 to {1 << 20}, got {value!r}")
    return value


def _tmpfs(t: _Table) -> Tmpfs:
    t.keys_only("path", "options")
    options = t.str_list("options")
    for o in options:
        if not _TMPFS_OPTION.match(o):
            t.fail("options", f"tmpfs options (rw, ro, [no]exec, [no]suid, [no]dev, size=N[kmg], mode=N), got {o!r}")
    return Tmpfs(t.abspath("path"), options)


def _bind(t: _Table) -> Bind:
    t.keys_only("source", "target", "mode")
    return Bind(t.abspath("source"), t.abspath("target"), t.choice("mode", ("ro", "rw")))


def _writable(t: _Table) -> WritablePath:
    t.keys_only("path", "reason")
    return WritablePath(t.abspath("path"), t.text("reason"))


def _seccomp(t: _Table) -> Seccomp:
    t.keys_only(
        "file_name",
        "default_action",
        "architectures",
        "deny_clone_namespaces",
        "rules",
        "inprocess",
        "enabled",
        "arch_specific",
    )
    rules = []
    for r in t.tables("rules"):
        r.keys_only("names", "errno")
        rules.append(SeccompRule(r.str_list("names", nonempty=True), r.errno("errno")))
    guard = None
    if t.has("inprocess"):
        g = t.table("inprocess")
        g.keys_only("deny", "errno")
        guard = InprocessGuard(g.str_list("deny", nonempty=True), g.errno("errno"))
    return Seccomp(
        file_name=t.text("file_name"),
        default_action=t.choice("default_action", ("allow",)),
        architectures=tuple(t.choice_list("architectures", ("x86_64", "aarch64"))),
        deny_clone_namespaces=t.flag("deny_clone_namespaces"),
        rules=tuple(rules),
        inprocess=guard,
        enabled=t.flag("enabled") if t.has("enabled") else True,
        arch_specific=t.str_list("arch_specific") if t.has("arch_specific") else (),
    )


def _limit(t: _Table, key: str, value: object) -> int:
    if value == "unlimited":
        return UNLIMITED
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < UNLIMITED:
        t.fail(key, f'a non-negative integer or "unlimited", got {value!r}')
    return value


def _ulimits(t: _Table) -> dict[str, tuple[int, int]]:
    """``name = N`` (soft and hard), ``"unlimited"``, or ``{ soft = N, hard = M }``."""
    t.keys_only(*RLIMIT_NAMES)
    out = {}
    for name in t.data:
        value = t.get(name)
        if isinstance(value, dict):
            pair = t.table(name)
            pair.keys_only("soft", "hard")
            soft, hard = _limit(pair, "soft", pair.get("soft")), _limit(pair, "hard", pair.get("hard"))
        else:
            soft = hard = _limit(t, name, value)
        if soft > hard:
            t.fail(name, f"a soft limit no higher than the hard one, got {soft} > {hard}")
        out[name] = (soft, hard)
    return out


def _cpu_shares(t: _Table) -> int:
    value = t.integer("cpu_shares")
    # the kernel clamps cpu.shares to [2, 262144] (kernel/sched/sched.h MIN_SHARES/MAX_SHARES)
    if value and not 2 <= value <= 262144:
        t.fail("cpu_shares", f"0 (not set) or 2..262144, got {value}")
    return value


def _sysctls(t: _Table, network_mode: str, ipc_mode: str, uts_mode: str) -> dict[str, str]:
    """Only sysctls of a namespace the sandbox owns: runc refuses the rest
    (libcontainer/configs/validate/validator.go sysctl)."""
    owned = {
        "net.": network_mode != "host",
        "fs.mqueue.": ipc_mode != "host",
        **dict.fromkeys(runtime_defaults.IPC_SYSCTLS, ipc_mode != "host"),
        **dict.fromkeys(runtime_defaults.UTS_SYSCTLS, uts_mode != "host"),
    }
    out = {}
    for name, value in t.data.items():
        match = next((k for k in owned if name == k or (k.endswith(".") and name.startswith(k))), None)
        if match is None:
            close = difflib.get_close_matches(name, [k for k in owned if not k.endswith(".")], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            t.fail(
                name,
                f"a namespaced sysctl (net.*, fs.mqueue.*, {', '.join(runtime_defaults.IPC_SYSCTLS)}, "
                f"{', '.join(runtime_defaults.UTS_SYSCTLS)}){hint}",
            )
        if not owned[match]:
            t.fail(name, "a sysctl of a namespace the sandbox owns; this one is shared with the host")
        if isinstance(value, bool) or not isinstance(value, str | int):
            t.fail(name, f"a string or integer, got {type(value).__name__}")
        out[name] = " ".join(str(value).split())
    return out


def _size(t: _Table, key: str, text: str) -> int:
    m = _SIZE.match(text.lower())
    if not m:
        t.fail(key, f"a size like '256m' (digits then k, m or g), got {text!r}")
    number, unit = m.groups()
    return int(number) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]


class _Table:
    """A TOML table with typed getters that fail with the file and dotted key."""

    def __init__(self, data: Mapping[str, Any], source: str, prefix: str) -> None:
        self.data = data
        self.source = source
        self.prefix = prefix

    def where(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def fail(self, key: str, expected: str) -> NoReturn:
        raise ProfileError(f"profile {self.source}: key '{self.where(key)}': expected {expected}")

    def keys_only(self, *allowed: str) -> None:
        for key in self.data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                where = f"[{self.prefix}]" if self.prefix else "the top level"
                raise ProfileError(
                    f"profile {self.source}: unknown key '{self.where(key)}' in {where}{hint}; "
                    f"expected one of: {', '.join(allowed)}"
                )

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> Any:
        if key not in self.data:
            self.fail(key, "a value (the key is missing)")
        return self.data[key]

    def table(self, key: str) -> _Table:
        value = self.get(key)
        if not isinstance(value, dict):
            self.fail(key, f"a table, got {type(value).__name__}")
        return _Table(value, self.source, self.where(key))

    def tables(self, key: str) -> list[_Table]:
        value = self.get(key)
        if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
            self.fail(key, "a list of tables")
        return [_Table(x, self.source, f"{self.where(key)}[{i}]") for i, x in enumerate(value)]

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            self.fail(key, f"a string, got {type(value).__name__}")
        return value

    def abspath(self, key: str) -> str:
        value = self.text(key)
        if not value.startswith("/") or ".." in value.split("/"):
            self.fail(key, f"an absolute path without '..', got {value!r}")
        # docker -v SRC:DST:MODE and --tmpfs PATH:OPTS split on ':' and ','
        if any(c in ":," or not c.isprintable() for c in value):
            self.fail(key, f"a path without ':', ',' or control characters, got {value!r}")
        return value

    def flag(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            self.fail(key, f"true or false, got {type(value).__name__}")
        return value

    def integer(self, key: str) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(key, f"a non-negative integer, got {value!r}")
        return value

    def number(self, key: str) -> float:
        value = self.get(key)
        # docker keeps cpus as int64 nano-CPUs (api/types/container NanoCPUs): nan, inf and
        # anything that overflows it cannot be rendered
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 9e9:
            self.fail(key, f"a number 0..9e9 (0: no limit), got {value!r}")
        return float(value)

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in choices:
            self.fail(key, f"one of {', '.join(choices)}, got {value!r}")
        return value

    def choice_list(self, key: str, choices: tuple[str, ...]) -> list[str]:
        values = self.str_list(key, nonempty=True)
        for v in values:
            if v not in choices:
                self.fail(key, f"items from {', '.join(choices)}, got {v!r}")
        return list(values)

    def str_list(self, key: str, *, nonempty: bool = False) -> tuple[str, ...]:
        value = self.get(key)
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            self.fail(key, "a list of strings")
        if nonempty and not value:
            self.fail(key, "a non-empty list of strings")
        return tuple(value)

    def str_map(self, key: str) -> dict[str, str]:
        value = self.get(key)
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            self.fail(key, "a table of string values")
        for name in value:
            # docker --env NAME=VALUE: a name holding '=' would put a value into the argv
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                self.fail(f"{key}.{name}", "a variable name ([A-Za-z_][A-Za-z0-9_]*)")
        return dict(value)

    def errno(self, key: str) -> str:
        value = self.text(key)
        if not re.fullmatch(r"E[A-Z0-9]+", value):
            self.fail(key, f"an errno name such as 'EPERM', got {value!r}")
        return value

    def host_port(self, key: str) -> tuple[str, int]:
        value = self.text(key)
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            self.fail(key, f"'HOST:PORT', got {value!r}")
        return host, int(port)
