"""``profile import docker -- ARGV``: an existing ``docker run`` command as a profile.

Every key a ``docker run`` flag states is taken from the command, and a flag left out means
Docker's own default (no ``--read-only``: a writable root), never the base profile's. What a
command cannot say (the image's base and entrypoint, PR-NET-1's target, the reasons beside
writable paths, the output bounds) comes from the base profile (``--from``, default
``default``). A flag no profile can express is one line in ``Imported.dropped``, never
silently kept or lost. The inverse of ``render/docker.py``: the argv it renders imports back
to the profile it came from (``tests/test_profile_files.py``).

Two kinds of flag are refused outright (exit 2) instead. A bind, volume or mount onto the
profile's own /in or /out that is not of the kind sandproof gives there (/in a read-only
directory, /out a directory; at attest a bounded tmpfs of sandproof's own). And a seccomp file
Docker reads otherwise than its rules say at face value: a rule applied only conditionally
(``includes``/``excludes``), a key given twice or in another case (Go's encoding/json takes
the last, case-insensitively), or any key the import does not model. A dropped flag leaves the
profile silent about it; these would leave the profile stating the opposite of the command (a
host root writable as /in, the Docker socket as /out, a denial Docker never applied), so the
import would look safer than the command it stands for. So are the options that bring in what
another container or the engine holds (``--volumes-from``, ``--use-api-socket``, podman's
``--pod``), podman's ``--read-only`` without ``--read-only-tmpfs=false`` (podman keeps /tmp,
/var/tmp and /run writable), and any option the engine's allow-list below does not name: the
import cannot tell what it does, nor whether it takes the next word. Flags are read as pflag
reads them (``-v/:/in``, ``-u=0``, ``-it``), with ``docker run``'s or ``podman run``'s options
as the command's first word says, ``--mount`` as docker/cli and podman read it (one CSV record).

Review 16 (F3, F4): the command is read only in the forms the import knows, ``docker|podman
[container] run`` (the program also by absolute path), ``run``, or the options alone; a wrapper
(``sudo``), another program, subcommand or a global option before ``run`` (``--context``,
``--root``) is refused, since read as the image it made every flag a harness argument. A scalar
option's last occurrence is the command's (pflag overwrites), and when the import cannot read
it the command is refused, never an earlier value kept. And an option no profile key expresses
is only noted when it takes nothing from the sandbox (``_NOTED``: names, labels, logs, published
ports, extra limits); one that gives the sandbox more (``_WEAKENS``: a device, a group, an
unmasked path, another AppArmor or SELinux label, a volume or ``--mount``) is refused, naming it.

Three flags left out were once the base's values (``--network none``, ``--user 65532:65532``,
its seccomp filter) while the engine gave its own default: a bridge (podman: its default network),
the image's USER (possibly root), the engine's default seccomp filter. No profile states any of
those, so each missing flag is refused, naming what to add (``--network none``, ``--user UID:GID``,
``--security-opt seccomp=FILE``); but ``--privileged`` without ``seccomp=``, which both engines run
with no filter at all, imports as ``seccomp.enabled = false``.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import io
import json
import os
import posixpath
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from sandproof import bundle, profiletoml, runtime_defaults, seccomp
from sandproof import profile as profiles
from sandproof.errors import BundleError, ProfileError
from sandproof.inspector import syscalls
from sandproof.inspector.judges.limits import UNLIMITED
from sandproof.profile import Bind, InprocessGuard, Profile, SeccompRule, Tmpfs, WritablePath
from sandproof.tomldata import Size

# Every option `docker run` and `podman run` take, by whether it takes a value (an allow-list,
# read from docker/cli cli/command/container/opts.go addFlags and run.go, commit 28f75608, and
# podman cmd/podman/common/create.go DefineCreateFlags(CreateMode), netflags.go and
# containers/run.go, commit c6580b4a; podman's --tls-verify is an OptionalBoolFlag). An option
# outside them is refused (exit 2, naming it): the import cannot tell what it does, nor whether
# the next word is its value; read as a boolean, a valued option's value became the image and
# every flag after it a harness argument. Podman's global options (--hooks-dir, --runtime,
# --root, ...) are cobra persistent flags that `podman run` also takes after "run": none is here.
_DOCKER_VALUED = frozenset(
    (
        *("add-host", "annotation", "attach", "blkio-weight", "blkio-weight-device", "cap-add", "cap-drop"),
        *("cgroup-parent", "cgroupns", "cidfile", "cpu-count", "cpu-percent", "cpu-period", "cpu-quota"),
        *("cpu-rt-period", "cpu-rt-runtime", "cpu-shares", "cpus", "cpuset-cpus", "cpuset-mems", "detach-keys"),
        *("device", "device-cgroup-rule", "device-read-bps", "device-read-iops", "device-write-bps"),
        *("device-write-iops", "dns", "dns-opt", "dns-option", "dns-search", "domainname", "entrypoint", "env"),
        *("env-file", "expose", "gpus", "group-add", "health-cmd", "health-interval", "health-retries"),
        *("health-start-interval", "health-start-period", "health-timeout", "hostname", "io-maxbandwidth"),
        *("io-maxiops", "ip", "ip6", "ipc", "isolation", "kernel-memory", "label", "label-file", "link"),
        *("link-local-ip", "log-driver", "log-opt", "mac-address", "memory", "memory-reservation", "memory-swap"),
        *("memory-swappiness", "mount", "name", "net", "net-alias", "network", "network-alias", "oom-score-adj"),
        *("pid", "pids-limit", "platform", "publish", "pull", "restart", "runtime", "security-opt", "shm-size"),
        *("stop-signal", "stop-timeout", "storage-opt", "sysctl", "tmpfs", "ulimit", "user", "userns", "uts"),
        *("volume", "volume-driver", "volumes-from", "workdir"),
    )
)
_DOCKER_BOOLS = frozenset(
    (
        *("detach", "disable-content-trust", "init", "interactive", "no-healthcheck", "oom-kill-disable"),
        *("privileged", "publish-all", "quiet", "read-only", "rm", "sig-proxy", "tty", "use-api-socket"),
    )
)
_PODMAN_VALUED = frozenset(
    (
        *("add-host", "annotation", "arch", "attach", "authfile", "blkio-weight", "blkio-weight-device", "cap-add"),
        *("cap-drop", "cert-dir", "cgroup-conf", "cgroup-parent", "cgroupns", "cgroups", "chrootdirs", "cidfile"),
        *("conmon-pidfile", "cpu-period", "cpu-quota", "cpu-rt-period", "cpu-rt-runtime", "cpu-shares", "cpus"),
        *("cpuset-cpus", "cpuset-mems", "creds", "decryption-key", "detach-keys", "device", "device-cgroup-rule"),
        *("device-read-bps", "device-read-iops", "device-write-bps", "device-write-iops", "dns", "dns-option"),
        *("dns-search", "entrypoint", "env", "env-file", "env-merge", "expose", "gidmap", "gpus", "group-add"),
        *("group-entry", "health-cmd", "health-interval", "health-log-destination", "health-max-log-count"),
        *("health-max-log-size", "health-on-failure", "health-retries", "health-start-period", "health-startup-cmd"),
        *("health-startup-interval", "health-startup-retries", "health-startup-success", "health-startup-timeout"),
        *("health-timeout", "hostname", "hosts-file", "hostuser", "image-volume", "init-path", "ip", "ip6", "ipc"),
        *("kernel-memory", "label", "label-file", "log-driver", "log-opt", "mac-address", "memory"),
        *("memory-reservation", "memory-swap", "memory-swappiness", "mount", "name", "network", "network-alias"),
        *("oom-score-adj", "os", "passwd-entry", "personality", "pid", "pidfile", "pids-limit", "platform", "pod"),
        *("pod-id-file", "preserve-fd", "preserve-fds", "publish", "pull", "rdt-class", "requires", "restart"),
        *("retry", "retry-delay", "sdnotify", "seccomp-policy", "secret", "security-opt", "shm-size"),
        *("shm-size-systemd", "signature-policy", "stop-signal", "stop-timeout", "subgidname", "subuidname"),
        *("sysctl", "systemd", "timeout", "tmpfs", "tz", "uidmap", "ulimit", "umask", "unsetenv", "user", "userns"),
        *("uts", "variant", "volume", "volumes-from", "workdir"),
    )
)
_PODMAN_BOOLS = frozenset(
    (
        *("detach", "disable-content-trust", "env-host", "http-proxy", "init", "interactive", "no-healthcheck"),
        *("no-hostname", "no-hosts", "oom-kill-disable", "passwd", "privileged", "publish-all", "quiet", "read-only"),
        *("read-only-tmpfs", "replace", "rm", "rmi", "rootfs", "sig-proxy", "tls-verify", "tty", "unsetenv-all"),
    )
)
_PODMAN_ALIASES = {
    "--net": "--network",
    "--dns-opt": "--dns-option",
    "--healthcheck-command": "--health-cmd",
    "--healthcheck-interval": "--health-interval",
    "--healthcheck-retries": "--health-retries",
    "--healthcheck-start-period": "--health-start-period",
    "--healthcheck-timeout": "--health-timeout",
}
"""podman's flag names normalised (cmd/podman/utils/alias.go AliasFlags, run's SetNormalizeFunc)."""


@dataclass(frozen=True)
class _Engine:
    name: str
    valued: frozenset[str]
    bools: frozenset[str]
    aliases: dict[str, str]

    def option(self, given: str) -> str:
        """``given`` (``--x``) as the engine names it, or Refused when the engine has no such option."""
        name = self.aliases.get(given, given)
        if name[2:] not in self.valued | self.bools:
            raise Refused(
                f"{given}: not an option of `{self.name} run` the import knows, so it cannot tell what it does "
                "or whether the next word is its value: remove it or write the profile by hand"
            )
        if name in _SHARED_FROM_OUTSIDE:
            raise Refused(f"{given}: {_SHARED_FROM_OUTSIDE[name]}; no profile expresses it: remove the flag")
        return name


_DOCKER = _Engine("docker", _DOCKER_VALUED, _DOCKER_BOOLS, {})
_PODMAN = _Engine("podman", _PODMAN_VALUED, _PODMAN_BOOLS, _PODMAN_ALIASES)
_SHARED_FROM_OUTSIDE = {
    # docker/cli and podman: every mount of another container, its volumes and binds (host paths,
    # read-write unless ":ro"), possibly onto /in or /out; what they are lives in that container
    "--volumes-from": "mounts another container's volumes and binds, which the command does not show "
    "(host paths, read-write by default, possibly onto /in or /out)",
    # docker/cli run.go: binds the Docker API socket into the container (control of the host)
    "--use-api-socket": "binds the Docker API socket into the container",
    # podman: the container joins a pod, sharing the namespaces of the pod's infra container
    "--pod": "joins a pod and shares the namespaces of its infra container, which the command does not show",
    "--pod-id-file": "joins a pod and shares the namespaces of its infra container, which the command does not show",
}
"""Options that bring in what another container or the engine holds: refused, as a bind onto /in."""

_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))
"""Go's strconv.ParseBool: how docker run reads ``--read-only=false`` (a bool flag given a value)."""
# --rm: what sandproof's own render gives, taken without a word (the container goes when it ends)
_BOOLS = frozenset(("--read-only", "--privileged", "--oom-kill-disable", "--rm"))
_BOOLS |= {"--read-only-tmpfs", "--http-proxy"}  # podman's
_ARCHES = {v: k for k, v in syscalls.SCMP_ARCH.items()}
_DEFAULT_NAME = re.compile(r"sandproof-[0-9a-f]{16}")
"""The name render gives a profile without ``image.container_name`` (render/docker.py)."""


class Refused(ProfileError):
    """A flag the import must not turn into a profile (exit 2, one line naming it)."""


@dataclass
class Imported:
    profile: Profile | None
    dropped: list[str] = field(default_factory=list)
    """One line per flag (or fact) the profile cannot express."""


@dataclass
class _Flags:
    """The command's flags, in order, and the words after the image."""

    pairs: list[tuple[str, str | None]]
    image: str | None
    args: list[str]
    engine: str = "docker"


_SHORT = {"a": "--attach", "c": "--cpu-shares", "e": "--env", "h": "--hostname", "l": "--label", "m": "--memory"}
_SHORT |= {"p": "--publish", "u": "--user", "v": "--volume", "w": "--workdir"}
"""The single-letter options that take a value, the same in docker run and podman run (docker/cli
opts.go and podman create.go ``StringVarP``/``VarP``: a, c, e, h, l, m, p, u, v, w)."""
_SHORT_BOOLS = frozenset("ditPq")
"""... and the boolean ones (--detach, --interactive, --tty, --publish-all, --quiet)."""


def _short(w: str, rest: list[str]) -> tuple[list[tuple[str, str | None]], int]:
    """``-XYZ`` as pflag reads it (spf13/pflag flag.go parseSingleShortArg): booleans may be
    combined (``-it``), a boolean may take ``=VALUE`` (``-t=false``), and the first valued letter
    takes the rest of the word, after an optional ``=`` (``-v/:/in``, ``-v=/:/in``, ``-u0``), or
    else the next word. The pairs (names as given, ``-v``) and how many next words were used. A
    letter neither engine has is refused (pflag: "unknown shorthand flag"), as ``-network``."""
    pairs: list[tuple[str, str | None]] = []
    letters = w[1:]
    while letters:
        c, after = letters[0], letters[1:]
        if c in _SHORT_BOOLS:
            if after.startswith("=") and len(after) > 1:
                return [*pairs, (f"-{c}", after[1:])], 0
            pairs.append((f"-{c}", None))
            letters = after
        elif c in _SHORT:
            if after:
                return [*pairs, (f"-{c}", after[1:] if after.startswith("=") and len(after) > 1 else after)], 0
            if rest:
                return [*pairs, (f"-{c}", rest[0])], 1
            return [*pairs, (f"-{c}", None)], 0
        else:
            raise Refused(
                f"{w}: -{c} is no single-letter option of docker run or podman run, so the import cannot tell "
                "what it does: remove it or write the profile by hand"
            )
    return pairs, 0


_ENGINES = {"docker": _DOCKER, "podman": _PODMAN}
_FORMS = "`docker run`, `docker container run`, `podman run` or `podman container run`"


def _prefix(argv: list[str]) -> tuple[_Engine, list[str]]:
    """The engine and the words after ``run``: exactly ``docker|podman [container] run`` (the
    program also as an absolute path), ``run``, or the options alone (both ``docker run``'s).
    Anything else is refused, never guessed (review 16 F3): a wrapper (``sudo``, ``env``), another
    program (``nerdctl``), another subcommand, or a global option before ``run`` (``--context``,
    ``--host``, podman's ``--root``/``--runtime``: another engine, context or storage, which the
    import cannot see). Read as the image, any of them made every real flag a harness argument."""
    if not argv or argv[0].startswith("-"):
        return _DOCKER, argv
    if argv[0] == "run":
        return _DOCKER, argv[1:]
    first, rest = argv[0], argv[1:]
    engine = _ENGINES.get(posixpath.basename(first) if first.startswith("/") else first)
    if engine is None:
        raise Refused(
            f"word 1 {first!r}: the command must start with {_FORMS} (or be their options alone); the import "
            "reads no other program or wrapper, which may change what runs: remove it or write the profile by hand"
        )
    if rest[:1] == ["run"]:
        return engine, rest[1:]
    if rest[:2] == ["container", "run"]:
        return engine, rest[2:]
    if rest[:1] and rest[0].startswith("-"):
        raise Refused(
            f"word 2 {rest[0]!r}: a global option of {engine.name} before `run`, which the import does not read "
            f"(it may choose another engine, context, storage or runtime): expected {_FORMS}; remove it"
        )
    got = " ".join(rest[:2]) or "nothing"
    raise Refused(f"after {first!r}: {got!r}, where {_FORMS} was expected: the import reads only those")


def _split(argv: list[str]) -> _Flags:
    engine, words = _prefix(list(argv))
    pairs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w == "--":  # pflag: the end of the flags; the next word is the image
            image, args = (words[i + 1], words[i + 2 :]) if i + 1 < len(words) else (None, [])
            return _Flags(pairs, image, args, engine.name)
        if not w.startswith("-") or w == "-":
            return _Flags(pairs, w, words[i + 1 :], engine.name)
        if w.startswith("--"):
            given, eq, val = w.partition("=")
            name = engine.option(given)
            if eq:
                pairs.append((name, val))
            elif name[2:] in engine.valued and i + 1 < len(words):
                pairs.append((name, words[i + 1]))
                i += 1
            else:
                pairs.append((name, None))
        else:
            short, used = _short(w, words[i + 1 :])
            pairs += short
            i += used
        i += 1
    return _Flags(pairs, None, [], engine.name)


def _limit(text: str) -> int:
    return UNLIMITED if text == "-1" else int(text)


_SECCOMP_KEYS = {
    "file": frozenset(("defaultAction", "architectures", "syscalls")),
    "rule": frozenset(("names", "action", "errnoRet", "args", "comment", "includes", "excludes")),
    "arg": frozenset(("index", "value", "valueTwo", "op")),
    "includes": frozenset(("caps", "arches", "minKernel")),
}
"""The keys the import models, per object (an allow-list: moby's profiles/seccomp types have more,
``archMap``, ``flags``, ``listenerPath``, ``defaultErrnoRet``, ``name``, ..., and any of them may
change what Docker applies)."""


def _unique(path: str) -> Any:
    """A JSON object hook refusing what Go's encoding/json reads otherwise than Python's json: a
    key given twice, or two keys differing only in case (Go matches a struct field's key
    case-insensitively and the last one wins: a later ``"Syscalls": []`` empties the rules)."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, str] = {}
        for key, _ in pairs:
            if key.casefold() in seen:
                raise Refused(
                    f"--security-opt seccomp={path}: key {key!r} after {seen[key.casefold()]!r} in one object; "
                    "Docker (Go's encoding/json) takes the last, case-insensitively: remove one"
                )
            seen[key.casefold()] = key
        return dict(pairs)

    return hook


def _known(obj: Any, level: str, path: str) -> None:
    """Refuse a key the import does not model (naming the known key it would be in Go)."""
    if not isinstance(obj, dict):
        return  # a shape error, dropped by the reader below
    known = _SECCOMP_KEYS[level]
    for key in obj:
        if key in known:
            continue
        same = [k for k in known if k.casefold() == key.casefold()]
        why = (
            f"differs from {same[0]!r} only in case (Go's encoding/json reads it as that key)"
            if same
            else ("is not one the import models, and it may change what Docker applies")
        )
        raise Refused(f"--security-opt seccomp={path}: key {key!r} {why}: remove it or write the profile by hand")


def _conditions(r: dict[str, Any], path: str) -> None:
    """Refuse a rule Docker applies only conditionally (moby profiles/seccomp/seccomp_linux.go
    setupSeccomp: ``includes``/``excludes`` by caps, arches, minKernel); an empty filter is none."""
    for key in ("includes", "excludes"):
        filt = r.get(key, {})
        if not isinstance(filt, dict):
            raise ValueError(f"{key} not an object")
        _known(filt, "includes", path)
        if any(filt.values()):
            raise Refused(
                f"--security-opt seccomp={path}: the rule for {','.join(map(str, r.get('names', [])))} has {key} "
                f"{json.dumps(filt, sort_keys=True)}: Docker applies it only under that condition, which no profile "
                "expresses: remove the condition or write the profile by hand"
            )


def _seccomp(path: str, base: Profile, out: Imported) -> Any:
    """The deny list the file states (the shape render/seccomp.py writes), or the base's."""
    try:  # a regular file only, bounded (a FIFO would block, /dev/zero never end: review's final read)
        policy = json.loads(bundle.read_bytes(path).decode(), object_pairs_hook=_unique(path))
        _known(policy, "file", path)
        if policy["defaultAction"] != "SCMP_ACT_ALLOW":
            raise ValueError("not a deny list")  # an allowlist keeps its floors: not inverted here
        rules: list[SeccompRule] = []
        clone_bits: set[int] = set()
        for r in policy["syscalls"]:
            _known(r, "rule", path)
            _conditions(r, path)
            if r["action"] != "SCMP_ACT_ERRNO":
                raise ValueError(f"action {r['action']}")
            if not isinstance(r["errnoRet"], int) or isinstance(r["errnoRet"], bool):
                raise ValueError(f"errnoRet {r['errnoRet']!r}")
            if r.get("args"):
                (cond,) = r["args"]
                _known(cond, "arg", path)
                if r["names"] != ["clone"] or cond["op"] != "SCMP_CMP_MASKED_EQ" or cond["index"] != 0:
                    raise ValueError("an argument filter sandproof does not write")
                if cond.get("valueTwo") != cond["value"]:  # MASKED_EQ: (arg & value) == valueTwo
                    raise ValueError("an argument filter sandproof does not write")
                clone_bits.add(cond["value"])
                continue
            if not isinstance(r["names"], list) or not all(isinstance(n, str) for n in r["names"]):
                raise ValueError(f"names {str(r['names'])[:60]!r} is not a list of syscall names")
            rules.append(SeccompRule(tuple(r["names"]), errno.errorcode[r["errnoRet"]]))
        arches = tuple(_ARCHES[a] for a in policy["architectures"])
    except BundleError as exc:
        raise Refused(f"--security-opt seccomp={path}: {exc.message.removeprefix(f'bundle {path}: ')}") from None
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:  # RecursionError: nested too deeply
        # review 16 F4: the base's filter was kept, a profile denying what Docker's filter may allow
        raise Refused(
            f"--security-opt seccomp={path}: not read as a deny list sandproof writes ({exc}), and the profile "
            "would state another filter than the one Docker applies: remove it or write the profile by hand"
        ) from None
    if clone_bits and clone_bits != set(seccomp.CLONE_NAMESPACE_FLAGS.values()):
        out.dropped.append(f"--security-opt seccomp={path}: clone filtered for some namespace flags only; all taken")
    missing = [n for r in rules for n in r.names if not all(syscalls.exists(n, a) for a in arches)]
    return dataclasses.replace(
        base.seccomp,
        file_name=Path(path).name,
        default_action="allow",
        architectures=arches,
        deny_clone_namespaces=bool(clone_bits),
        rules=tuple(rules),
        enabled=True,
        arch_specific=tuple(dict.fromkeys(missing)),
        default_errno=None,
        allow={},
    )


def _harness(args: list[str], out: Imported) -> tuple[str, str, Any]:
    """The input, output and in-process guard the harness's arguments name."""
    input_dir, output_dir, guard = "/in", "/out", None
    if "--attest" not in args:
        out.dropped.append(f"command {' '.join(args) or '(none)'}: not sandproof's harness; the profile runs it")
    i = 0
    while i < len(args):
        a, nxt = args[i], args[i + 1] if i + 1 < len(args) else ""
        if a == "--plan":
            input_dir = nxt.rsplit("/", 1)[0] or "/"
        elif a == "--out":
            output_dir = nxt
        elif a == "--guard":
            names, _, err = nxt.rpartition(":")
            guard = InprocessGuard(tuple(names.split(",")), err) if names else None
        elif a not in ("--run-date", "--attest"):
            out.dropped.append(f"harness argument {a}: not one sandproof writes")
        i += 2 if a in ("--plan", "--out", "--guard", "--run-date") else 1
    return input_dir, output_dir, guard


_MOUNT_OPTIONS = frozenset(("ro", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated"))
_MOUNT_OPTIONS |= {"shared", "rshared", "slave", "rslave", "private", "rprivate"}
"""What may follow the last ':' of ``-v`` (moby volume/mounts/linux_parser.go ValidateMountMode)."""


def _volume(spec: str) -> tuple[str, str, str, str] | None:
    """``(source, target, options, spec)`` as the daemon splits ``-v`` (moby volume/mounts/
    linux_parser.go ParseMountRaw: ``TARGET`` and ``TARGET:OPTS`` are an anonymous volume, a
    source not absolute a named one); the target cleaned as the daemon cleans it
    (filepath.Clean: ``/out/`` and ``//out`` are /out)."""
    parts = spec.split(":")
    if len(parts) == 1 or (len(parts) == 2 and _is_mode(parts[1])):
        parts = ["", *parts]  # an anonymous volume
    if len(parts) == 2:
        parts.append("")
    if len(parts) != 3:
        return None  # the daemon refuses it
    return parts[0], _clean(parts[1]), parts[2], spec


def _is_mode(text: str) -> bool:
    return all(o in _MOUNT_OPTIONS for o in text.split(","))


def _clean(path: str) -> str:
    """An absolute path as the daemon cleans it (Go's filepath.Clean: ``//out/`` is /out); a
    relative one as given (the daemon refuses it, and so does the profile's loader)."""
    return "/" + posixpath.normpath(path).lstrip("/") if path.startswith("/") else path


def _slot(source: str, target: str, mode: str, spec: str, input_dir: str) -> None:
    """Refuse a bind onto /in or /out unlike what sandproof puts there (render/docker.py writes
    ``-v DIR:/in:ro -v DIR:/out:rw``): /in read-only, and a directory as the source of either
    (Docker creates a missing one as a directory; it follows symlinks, so the kind is read
    through them)."""
    gives = "a read-only directory of the input" if target == input_dir else "a bounded tmpfs of its own"
    real = os.path.realpath(source)
    if not source.startswith("/"):
        # a volume replaces /in or /out as surely as a bind (an anonymous one is empty and writable)
        why = f"this is the named volume {source}" if source else "this is an anonymous volume"
    elif mode not in ("ro", "rw"):
        why = f"this bind's options {mode} are not sandproof's"
    elif target == input_dir and mode != "ro":
        why = f"this bind makes it {mode}"
    elif real == "/":
        why = "this bind's source is the host's root directory"
    else:
        try:
            kind = stat.S_IFMT(os.stat(real).st_mode)
        except FileNotFoundError:
            kind = stat.S_IFDIR
        except OSError as exc:
            raise Refused(f"-v {spec}: its source {real} cannot be checked ({exc.strerror})") from None
        if kind == stat.S_IFDIR:
            return
        why = f"this bind's source {real} is {_KINDS.get(kind, 'not a directory')}"
    raise Refused(
        f"-v {spec}: sandproof gives {target} itself, {gives}; {why}, so the profile would show a safer "
        "sandbox than this command: remove the flag or bind elsewhere"
    )


def _mount_target(val: str) -> str | None:
    """``--mount``'s target, cleaned: the value is one CSV record (docker/cli opts/mount.go reads it
    with encoding/csv, so ``"target=/in"`` is a field), and the last of target, dst or destination
    wins (the keys lower-cased; podman's, refusing a second, as given)."""
    try:
        fields = next(csv.reader(io.StringIO(val), strict=True), [])
    except csv.Error as exc:
        raise Refused(f"--mount {val}: not read as docker/cli reads it (CSV: {exc}): remove the flag") from None
    target = None
    for field_ in fields:
        key, _, value = field_.partition("=")
        # podman also takes "dest" (pkg/specgenutil/volumes.go parseMountOptions), case as given
        if key.strip().lower() in ("target", "dst", "destination", "dest") and value:
            target = _clean(value.strip())
    return target


_KINDS = {stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}
_KINDS |= {stat.S_IFREG: "a file", stat.S_IFIFO: "a named pipe"}


@dataclass
class _State:
    """What the flags said, before the model is built (Docker's defaults where none did)."""

    values: dict[str, Any] = field(default_factory=dict)
    tmpfs: list[Tmpfs] = field(default_factory=list)
    volumes: list[tuple[str, str, str, str]] = field(default_factory=list)
    caps: list[str] = field(default_factory=list)
    ulimits: dict[str, tuple[int, int]] = field(default_factory=dict)
    sysctls: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    seccomp_file: str | None = None
    networks: list[str] = field(default_factory=list)


_EXPECTED = {
    ("--log-driver", "none"),
    ("--cap-drop", "ALL"),
    ("--security-opt", "no-new-privileges"),
    # what render/docker.py adds under --network none so that resolv.conf holds no host line
    *zip(runtime_defaults.DOCKER_RESOLV_FLAGS[::2], runtime_defaults.DOCKER_RESOLV_FLAGS[1::2], strict=True),
}


def _security_opt(val: str) -> str:
    """``KEY=VALUE`` as docker/cli parseSecurityOpts reads it (KEY=VALUE, else the older KEY:VALUE)."""
    key, sep, value = val.partition("=")
    if not sep and key != "no-new-privileges":
        key, sep, value = val.partition(":")
    if key == "no-new-privileges" and value and value not in _TRUE | _FALSE:
        raise ValueError(val)
    return f"{key}={value}" if sep else key


_CANON = {f"-{c}": long for c, long in _SHORT.items()}
_CANON |= {"-d": "--detach", "-i": "--interactive", "-t": "--tty", "-P": "--publish-all", "-q": "--quiet"}
_CANON |= {"--net": "--network", "--net-alias": "--network-alias", "--dns-opt": "--dns-option"}
"""One name per option (docker/cli: --net, --net-alias and --dns-opt are hidden aliases)."""

_LAST_WINS = frozenset(
    (
        *("--user", "--pids-limit", "--memory", "--memory-swap", "--cpus", "--cpu-shares", "--ipc", "--pid"),
        *("--uts", "--cgroupns", "--userns", "--name", "--read-only", "--privileged", "--oom-kill-disable"),
        *("--read-only-tmpfs", "--http-proxy", "--log-driver", "--rm", "--no-healthcheck"),
    )
)
"""Scalar options: pflag's Set overwrites, so the last occurrence is the command's value (review 16
F4: the import kept an earlier value when it could not read a later one; only the last is read)."""

_NOTED = frozenset(
    (
        # how the client attaches, names, labels, logs, restarts or stops the container
        *("--attach", "--detach", "--detach-keys", "--interactive", "--tty", "--sig-proxy", "--quiet"),
        *("--cidfile", "--conmon-pidfile", "--pidfile", "--label", "--label-file", "--log-driver", "--log-opt"),
        *("--restart", "--stop-signal", "--stop-timeout", "--timeout", "--replace", "--rmi", "--requires"),
        *("--no-healthcheck", "--health-cmd", "--health-interval", "--health-retries", "--health-timeout"),
        *("--health-start-interval", "--health-start-period", "--health-log-destination"),
        *("--health-max-log-count", "--health-max-log-size", "--health-on-failure", "--health-startup-cmd"),
        *("--health-startup-interval", "--health-startup-retries", "--health-startup-success"),
        *("--health-startup-timeout",),
        # which image and how it is fetched (the profile's image name is the command's)
        *("--pull", "--platform", "--arch", "--os", "--variant", "--disable-content-trust", "--tls-verify"),
        *("--creds", "--authfile", "--cert-dir", "--decryption-key", "--signature-policy", "--retry"),
        *("--retry-delay", "--entrypoint", "--workdir", "--isolation"),
        # names and addresses inside the network the --network flag states (none or host: no more reach)
        *("--hostname", "--domainname", "--dns", "--dns-option", "--dns-search", "--add-host", "--hosts-file"),
        *("--no-hosts", "--no-hostname", "--mac-address", "--ip", "--ip6", "--link-local-ip", "--network-alias"),
        *("--publish", "--publish-all", "--expose", "--link"),
        # the contents of files and variables the image already has, and one engine-owned init
        *("--init", "--tz", "--umask", "--passwd", "--passwd-entry", "--hostuser"),
        *("--unsetenv", "--unsetenv-all", "--secret", "--volume-driver", "--image-volume", "--chrootdirs"),
        # limits and weights beyond the profile's (each only takes away), or Windows-only
        *("--memory-reservation", "--memory-swappiness", "--kernel-memory", "--oom-score-adj", "--blkio-weight"),
        *("--blkio-weight-device", "--device-read-bps", "--device-read-iops", "--device-write-bps"),
        *("--device-write-iops", "--cpu-period", "--cpu-quota", "--cpu-rt-period", "--cpu-rt-runtime"),
        *("--cpuset-cpus", "--cpuset-mems", "--cpu-count", "--cpu-percent", "--io-maxbandwidth", "--io-maxiops"),
        *("--shm-size", "--shm-size-systemd", "--storage-opt", "--rdt-class", "--cgroup-parent", "--cap-drop"),
    )
)
"""Options that no profile key expresses and that take nothing from the sandbox's protections: a
line each, exit 0. An allow-list (review 16 F4): every other option the profile does not express
changes what the sandbox can do, and is refused (``_WEAKENS``)."""

_HARMLESS_VALUES = {
    "--systemd": frozenset(("false",)),  # podman: true/always mount tmpfs on /run, /tmp and the cgroup
    "--cgroups": frozenset(("enabled",)),  # podman: disabled/no-conmon/split drop the container's cgroup
    "--sdnotify": frozenset(("conmon", "ignore")),  # podman: container passes the host's notify socket
    "--seccomp-policy": frozenset(("default",)),  # podman: image takes the filter from the image
}

_WEAKENS = {
    "--device": "gives the sandbox a host device, and the profile states none",
    "--device-cgroup-rule": "lets the sandbox use host devices by number",
    "--gpus": "gives the sandbox the host's GPU devices",
    "--group-add": "adds supplementary groups (group 0, a device's or a socket's group) the profile does not state",
    "--runtime": "runs another OCI runtime, which applies the configuration its own way",
    "--annotation": "sets OCI annotations a runtime acts on (crun's run.oci.keep_original_groups keeps host groups)",
    "--env-host": "passes the host's whole environment, and the profile lists only the command's --env",
    "--env-merge": "sets environment variables the profile does not list",
    "--preserve-fd": "passes open host file descriptors into the sandbox",
    "--preserve-fds": "passes open host file descriptors into the sandbox",
    "--cgroup-conf": "sets cgroup values (pids.max, memory.max) the profile's limits do not show",
    "--uidmap": "maps user ids the profile's namespaces do not state",
    "--gidmap": "maps group ids the profile's namespaces do not state",
    # podman: the container's /etc/group, from which the engine adds the user's supplementary groups
    "--group-entry": "writes /etc/group entries, from which the engine takes the user's supplementary groups",
    "--subuidname": "maps user ids the profile's namespaces do not state",
    "--subgidname": "maps group ids the profile's namespaces do not state",
    "--personality": "changes the execution domain (ADDR_NO_RANDOMIZE turns address randomisation off)",
    "--init-path": "binds a host file the command chooses into the sandbox as its init",
    "--rootfs": "runs a host directory as the root filesystem instead of the image",
    "--mount": "the import reads no --mount (a bind, volume or tmpfs the profile would not list): use -v HOST:TARGET",
    "--systemd": "mounts tmpfs on /run, /tmp and /var/log/journal and the cgroup tree writable (only false is read)",
    "--cgroups": "runs the container outside a cgroup of its own, so no limit applies (only enabled is read)",
    "--sdnotify": "passes the host's systemd notify socket into the sandbox (only conmon or ignore is read)",
    "--seccomp-policy": "may take the seccomp filter from the image's annotation (only default is read)",
    "--volume": "only HOST:TARGET[:ro|rw] binds of a host path are read (a named or anonymous volume, or "
    "mount options, add a mount the profile would not list)",
}
"""Why each refused option takes a protection away; an option in neither list is refused too."""

_SECURITY_NOTED = {"apparmor=docker-default", "mask"}
"""--security-opt values that take nothing away: Docker's own AppArmor profile (moby's default),
podman's mask= (more paths masked). Every other key is refused: apparmor=unconfined or another
profile, label= (SELinux: disable, spc_t), systempaths=unconfined and podman's unmask= (the masked
/proc and /sys paths the profile's plan expects), proc-opts=, and any key the import does not know."""


def _refuse(name: str, val: str | None, why: str) -> Refused:
    shown = f"{name}{' ' + val if val is not None else ''}"
    return Refused(
        f"{shown}: {why}; no profile key expresses it, so the profile would claim more than the command "
        "gives: remove it or write the profile by hand"
    )


_SECURITY_WEAKENS = {
    "apparmor": "runs under another AppArmor profile than the engine's default (unconfined: none at all)",
    "label": "changes or disables the SELinux label the engine gives",
    "systempaths": "unmasks the /proc and /sys paths the engine masks",
    "unmask": "unmasks the /proc and /sys paths the engine masks",
    "proc-opts": "mounts /proc with options the engine does not give",
}
"""docker/cli parseSecurityOpts, moby daemon parseSecurityOpt, podman pkg/specgenutil parseSecurityOpt."""


def _unexpressed(name: str, key: str, val: str | None, out: Imported) -> None:
    """A line when dropping ``name`` takes nothing from the sandbox, else Refused naming it."""
    if key in _NOTED or (key in _HARMLESS_VALUES and val in _HARMLESS_VALUES[key]):
        out.dropped.append(f"{name}{' ' + val if val is not None else ''}: no profile key expresses it")
        return
    if key == "--security-opt" and val is not None:
        if val in _SECURITY_NOTED or val.partition("=")[0] in _SECURITY_NOTED:
            out.dropped.append(f"{name} {val}: no profile key expresses it")
            return
        why = _SECURITY_WEAKENS.get(val.partition("=")[0], "a --security-opt the import does not know")
        raise _refuse(name, val, why)
    raise _refuse(name, val, _WEAKENS.get(key, "changes what the sandbox can do"))


def _flag(name: str, val: str | None, st: _State, out: Imported, env: dict[str, str]) -> None:  # noqa: PLR0912, PLR0915 - one branch per flag
    v = st.values
    key = _CANON.get(name, name)
    if key == "--security-opt" and val:
        val = _security_opt(val)
        if val.partition("=")[0] == "no-new-privileges":
            v[key] = val.partition("=")[2] not in _FALSE  # the last one wins (the daemon's parseSecurityOpt)
            return
    if key in _BOOLS:
        if val is not None and val not in _TRUE | _FALSE:
            raise ValueError(val)
        v[key] = val is None or val in _TRUE  # --read-only=false is a writable root
    elif (key, val) in _EXPECTED or (key == "--cap-drop" and val is not None and val.upper() == "ALL"):
        # the daemon upper-cases cap names; "all" is ALL (moby oci/caps/utils.go NormalizeLegacyCapabilities)
        v[key] = True
    elif key == "--name":
        v[key] = val
    elif key == "--network" and val:
        st.networks.append(val)
    elif key == "--user" and val:
        if not re.fullmatch(r"[0-9]+:[0-9]+", val):
            # a name or a uid alone: the group (and the uid of a name) come from the image's /etc/passwd
            raise Refused(
                f"{name} {val}: not UID:GID in numbers, the only form the import reads (a name or a uid alone "
                "takes the rest from the image's /etc/passwd), and the last --user is the command's: write it "
                "as UID:GID or write the profile by hand"
            )
        v[key] = val
    elif key == "--tmpfs" and val:
        path, _, opts = val.partition(":")
        st.tmpfs.append(Tmpfs(path, tuple(opts.split(",")) if opts else ()))
    elif key == "--cap-add" and val:
        st.caps.append(val.upper().removeprefix("CAP_"))
    elif key == "--security-opt" and val and val.startswith("seccomp="):
        st.seccomp_file = val.split("=", 1)[1]
    elif key == "--pids-limit" and val:
        # docker/cli: "-1 for unlimited"; the daemon reads 0 and below as no limit (the profile's 0)
        v[key] = 0 if val in ("-1", "0") else int(val) if val.isdigit() else _bad(val)
    elif key == "--cpu-shares" and val:
        v[key] = int(val) if val.isdigit() else _bad(val)
    elif key in ("--memory", "--memory-swap") and val:
        v[key] = Size.of(val)
    elif key == "--cpus" and val:
        v[key] = float(val)
    elif key in ("--ipc", "--pid", "--uts", "--cgroupns", "--userns") and val:
        v[key] = val
    elif key == "--ulimit" and val:
        limit, eq, pair = val.partition("=")
        soft, _, hard = pair.partition(":")
        if not eq:
            raise ValueError(val)
        st.ulimits[limit] = (_limit(soft), _limit(hard or soft))
    elif key == "--sysctl" and val:
        sysctl, eq, value = val.partition("=")
        if not eq:
            raise ValueError(val)
        st.sysctls[sysctl] = value
    elif key == "--env" and val:
        var, eq, value = val.partition("=")
        if not eq and var not in env:
            out.dropped.append(f"--env {var}: not set here, so its value is empty in the profile")
        st.variables[var] = value if eq else env.get(var, "")
    elif key == "--env-file" and val:
        if key in v:
            raise _refuse(name, val, f"a second env file after {v[key]} (Docker reads both, a profile names one)")
        v[key] = val
    elif key == "--volume" and val:
        vol = _volume(val)
        if vol is None:
            raise ValueError(val)
        st.volumes.append(vol)
    else:
        _unexpressed(name, key, val, out)


def _bad(val: str) -> NoReturn:
    raise ValueError(val)


def _last(pairs: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """``pairs`` without the earlier occurrences of a scalar option (pflag keeps the last)."""
    last = {_CANON.get(n, n): i for i, (n, _) in enumerate(pairs)}
    return [
        (n, v) for i, (n, v) in enumerate(pairs) if _CANON.get(n, n) not in _LAST_WINS or last[_CANON.get(n, n)] == i
    ]


def from_docker(argv: list[str], base: Profile, env: dict[str, str]) -> Imported:
    """The profile ``argv`` runs; None (and why, in ``dropped``) when it names no image.

    The first refusal a flag gives is raised after the profile is built, so that a bind onto /in
    or /out (refused there, naming what sandproof gives) is the one named when both apply."""
    out = Imported(None)
    flags = _split(argv)
    if flags.image is None:
        out.dropped.append("no image in the command: nothing to import")
        return out
    st = _State()
    refused: list[Refused] = []
    for name, val in _last(flags.pairs):
        try:
            _flag(name, val, st, out, env)
        except ValueError:
            refused.append(
                Refused(
                    f"{name} {val}: not a value `{flags.engine} run` takes, and the import keeps no earlier one: "
                    "correct or remove it"
                )
            )
        except Refused as exc:
            refused.append(exc)
    if st.networks and not (len(set(st.networks)) == 1 and st.networks[0] in ("none", "host")):
        shown = " ".join(f"--network {n}" for n in st.networks)
        refused.append(
            Refused(
                f"{shown}: the profile reads one network mode, none or host, given once (Docker attaches to every "
                "--network given; any other network reaches beyond the sandbox): remove it or write the profile by hand"
            )
        )
    elif st.networks:
        st.values["--network"] = st.networks[0]
    refused += _missing({_CANON.get(n, n) for n, _ in flags.pairs}, st, flags.engine)
    try:
        out.profile = _build(base, flags, st, out)
    except Refused:
        raise
    except ProfileError as exc:
        if refused:
            raise refused[0] from None
        out.dropped.append(f"the command as a profile is refused: {exc.message}")
    if refused:
        raise refused[0]
    return out


def _missing(given: set[str], st: _State, engine: str) -> list[Refused]:
    """A refusal per flag the command leaves out where the engine's default is one no profile
    states: the base's value kept would claim more than the command gives."""
    missing: list[Refused] = []
    if "--network" not in given:
        # docker: the default bridge; podman: its default network (rootful: the podman bridge,
        # rootless: pasta or slirp4netns). Both reach beyond the sandbox; the profile reads none or host
        default = (
            "the default bridge network" if engine == "docker" else "its default network (bridge, pasta or slirp4netns)"
        )
        missing.append(
            Refused(
                f"no --network: {engine} run attaches the container to {default}, which no profile expresses: "
                "add --network none (or --network host) to the command"
            )
        )
    if "--user" not in given:
        missing.append(
            Refused(
                f"no --user: {engine} run runs the image's own USER (root when it names none), which the command "
                "does not show: add --user UID:GID to the command"
            )
        )
    if st.seccomp_file is None and not st.values.get("--privileged"):
        # --privileged without a seccomp= runs with no filter in both engines (moby WithSeccomp, podman
        # specgen/generate/security.go): the profile states that, seccomp.enabled = false
        missing.append(
            Refused(
                f"no --security-opt seccomp=: {engine} run applies its own default filter, which no profile "
                "expresses: add --security-opt seccomp=FILE (or seccomp=unconfined) to the command"
            )
        )
    return missing


def _binds(st: _State, slots: tuple[str, str], out: Imported) -> list[Bind]:
    """The ``-v`` binds the profile lists; one onto /in or /out checked against sandproof's own."""
    binds: list[Bind] = []
    for source, target, mode, spec in st.volumes:
        if target in slots:
            _slot(source, target, mode or "rw", spec, slots[0])  # sandproof's own: the profile's input/output
            if target == slots[0]:
                # review 16: the source of /in is a run-time input (attest binds its own), so the
                # profile cannot record it; this command shows that directory to the sandbox
                out.dropped.append(
                    f"-v {spec}: the profile's input; its source {source} is not recorded (attest binds the "
                    "packet's own directory there)"
                )
        elif source.startswith("/") and mode in ("", "ro", "rw"):
            binds.append(Bind(source, target, mode or "rw"))
        else:
            raise _refuse("-v", spec, _WEAKENS["--volume"])
    return binds


def _build(base: Profile, flags: _Flags, st: _State, out: Imported) -> Profile:
    assert flags.image is not None  # from_docker returned before
    v = st.values
    input_dir, output_dir, guard = _harness(flags.args, out)
    slots = (_clean(input_dir), _clean(output_dir))
    for flag, value in flags.pairs:
        if flag == "--mount" and value and _mount_target(value) in slots:
            raise Refused(
                f"--mount {value}: sandproof gives {_mount_target(value)} itself and the import reads no --mount, so "
                "the profile would show a safer sandbox than this command: remove the flag or mount elsewhere"
            )
    if flags.engine == "podman" and v.get("--read-only") and v.get("--read-only-tmpfs", True):
        # podman's read_only_tmpfs, true by default (docs/source/markdown/options/read-only-tmpfs.md,
        # pkg/specgen/generate/storage.go): --read-only keeps /tmp, /var/tmp and /run writable
        raise Refused(
            "--read-only: podman run still mounts writable tmpfs on /tmp, /var/tmp and /run unless "
            "--read-only-tmpfs=false, so the profile would show a safer sandbox than this command: add "
            "--read-only-tmpfs=false or write the profile by hand"
        )
    if flags.engine == "podman" and v.get("--http-proxy", True):
        # podman's http_proxy, true by default (docs/source/markdown/options/http-proxy.md)
        out.dropped.append(
            "no --http-proxy=false: podman run passes the host's proxy variables (http_proxy, https_proxy, "
            "ftp_proxy, no_proxy and upper-case) into the container; the profile lists only the command's --env"
        )
    binds = _binds(st, slots, out)
    reasons = {w.path: w.reason for w in base.filesystem.writable}
    writable = [output_dir, *(t.path for t in st.tmpfs if not t.has("ro"))]
    writable += [b.target for b in binds if b.mode == "rw"]
    if "as" in base.resources.ulimits and "as" not in st.ulimits:
        # docker run cannot set RLIMIT_AS (go-units has no "as"): render leaves it out, so a
        # command never states it; the base's stays (render refuses any but "unlimited")
        st.ulimits["as"] = base.resources.ulimits["as"]
    name = v.get("--name")
    # no --user, --network or seccomp= is refused (_missing) once the profile is built: the base's
    # values stand in only so that a refusal of a bind onto /in or /out is the one named
    uid, _, gid = str(v.get("--user", f"{base.user.uid}:{base.user.gid}")).partition(":")
    memory = v.get("--memory", Size(0, "0"))
    sc = _seccomp(st.seccomp_file, base, out) if st.seccomp_file not in (None, "unconfined") else base.seccomp
    p = dataclasses.replace(
        base,
        image=dataclasses.replace(
            base.image, name=flags.image, container_name=None if name is None or _DEFAULT_NAME.fullmatch(name) else name
        ),
        user=dataclasses.replace(base.user, uid=int(uid), gid=int(gid)),
        network=dataclasses.replace(base.network, mode=v.get("--network", base.network.mode)),
        filesystem=dataclasses.replace(
            base.filesystem,
            read_only_rootfs=bool(v.get("--read-only")),
            input=input_dir,
            output=output_dir,
            tmpfs=tuple(st.tmpfs),
            binds=tuple(binds),
            writable=tuple(WritablePath(w, reasons.get(w, "imported from docker run")) for w in writable),
        ),
        security=dataclasses.replace(
            base.security,
            capabilities=tuple(st.caps),
            no_new_privileges=bool(v.get("--security-opt")),
            privileged=bool(v.get("--privileged")),
            cap_drop_all=bool(v.get("--cap-drop")),
        ),
        resources=dataclasses.replace(
            base.resources,
            pids=v.get("--pids-limit", 0),
            memory=memory,
            memory_swap=v.get("--memory-swap", memory),
            cpus=v.get("--cpus", 0.0),
            ulimits=st.ulimits,
            cpu_shares=v.get("--cpu-shares", 0),
            oom_kill_disable=bool(v.get("--oom-kill-disable")),
        ),
        ipc=dataclasses.replace(base.ipc, mode=v.get("--ipc", "engine-default")),
        environment=dataclasses.replace(base.environment, variables=st.variables, env_file=v.get("--env-file")),
        # no seccomp= (only with --privileged, else refused): the engine applies no filter at all; nor
        # with --privileged whatever seccomp= names (moby daemon/seccomp_linux.go WithSeccomp returns
        # before loading it for a privileged container; podman's specgen likewise)
        seccomp=dataclasses.replace(
            sc,
            inprocess=guard,
            enabled=st.seccomp_file not in (None, "unconfined") and not v.get("--privileged"),
        ),
        namespaces=dataclasses.replace(
            base.namespaces,
            pid=v.get("--pid", "private"),
            uts=v.get("--uts", "private"),
            cgroup=v.get("--cgroupns", "engine-default"),
            user=v.get("--userns", "engine-default"),
        ),
        sysctls=st.sysctls,
        source="imported",
        text="",
    )
    # through the loader: every check a file gets (choices, cross-field rules) applies here too
    return profiles.parse(profiletoml.dumps(p), "imported")
