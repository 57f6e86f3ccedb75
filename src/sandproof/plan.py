"""The probe plan: what each probe does and expects, derived from the profile.

The plan reaches the harness through the read-only input directory; the verifier
derives it again from the profile and never takes an expectation from a bundle.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sandproof.inspector import catalog
from sandproof.profile import Profile

PLAN_NAME = "sandproof-plan.json"
PROBE_TIMEOUT_S = 3.0
CONNECT_TIMEOUT_S = 2.0


def runtime_errno(profile: Profile, syscall: str) -> str | None:
    """The errno the runtime's seccomp filter answers for a syscall, if it denies it."""
    for rule in profile.seccomp.rules:
        if syscall in rule.names:
            return rule.errno
    return None


def guard_errno(profile: Profile, syscall: str) -> str | None:
    g = profile.seccomp.inprocess
    return g.errno if g is not None and syscall in g.deny else None


def _denial(profile: Profile, syscall: str, fallback_layer: str) -> tuple[list[str], str]:
    if (e := guard_errno(profile, syscall)) is not None:
        return [e], "inprocess-seccomp (L2)"
    if (e := runtime_errno(profile, syscall)) is not None:
        return [e], "runtime-seccomp"
    # nothing in the profile denies it: the kernel's own answer for an unprivileged caller
    return ["EPERM"], fallback_layer


def probes(profile: Profile) -> list[dict[str, Any]]:
    host, port = profile.probe_target
    net_errnos = {"ENETUNREACH"}  # no route: a network namespace with only lo
    sock_errnos, sock_layer = _denial(profile, "socket", "network-namespace")
    if runtime_errno(profile, "socket") or guard_errno(profile, "socket"):
        net_errnos |= set(sock_errnos)
    exec_errnos, exec_layer = _denial(profile, "execve", "none")
    ptrace_errnos, ptrace_layer = _denial(profile, "ptrace", "capabilities")
    workdir = profile.workdir.rstrip("/")
    tmpfs_flags = {
        t.path: [f for f in ("noexec", "nosuid", "nodev") if t.has(f)] for t in profile.tmpfs if not t.has("ro")
    }
    rows: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        (
            "PR-NET-1",
            "runtime-seccomp" if runtime_errno(profile, "socket") else "network-namespace",
            {"host": host, "port": port, "timeout": CONNECT_TIMEOUT_S},
            {"errno_in": sorted(net_errnos)},
        ),
        ("PR-NET-2", "network-namespace", {}, {"interfaces_subset": ["lo"]}),
        ("PR-SOCK-1", sock_layer, {}, {"errno_in": sock_errnos}),
        ("PR-ENV-1", "runtime-environment", {}, {"secret_pattern": catalog.SECRET_ENV_PATTERN}),
        ("PR-FS-RO-IN", "mount", {"path": f"{profile.input_path}/__probe"}, {"errno_in": ["EROFS"]}),
        ("PR-FS-ESC-1", "mount (read-only rootfs)", {"path": "/etc/__probe"}, {"errno_in": ["EROFS"]}),
        ("PR-FS-ESC-2", "mount (read-only rootfs)", {"path": f"{workdir}/__probe"}, {"errno_in": ["EROFS"]}),
        ("PR-FS-OUT-OK", "mount", {"path": f"{profile.output_path}/.pr-fs-out-ok"}, {"succeeds": True}),
        ("PR-EXEC-1", exec_layer, {}, {"errno_in": exec_errnos}),
        (
            "PR-MOUNT-1",
            "mount",
            {},
            {
                "root_read_only": profile.read_only_rootfs,
                "read_only": [profile.input_path],
                "read_write": [profile.output_path],
                "flags": tmpfs_flags,
                "writable_allowed": sorted(w.path for w in profile.writable),
            },
        ),
        ("PR-SOCK-DOCKER", "mount", {"paths": list(catalog.ENGINE_SOCKETS)}, {"absent": list(catalog.ENGINE_SOCKETS)}),
        ("PR-PTRACE-1", ptrace_layer, {}, {"errno_in": ptrace_errnos}),
    ]
    out = []
    for pid, layer, params, expect in rows:
        info = catalog.PROBES[pid]
        out.append(
            {
                "probe_id": pid,
                "kind": info.kind,
                "operation": info.operation,
                "requirement": info.requirement,
                "layer": layer,
                "params": params,
                "expect": expect,
            }
        )
    return out


def harness_args(profile: Profile, run_date: str) -> list[str]:
    """The harness's arguments: the seed's two flags, then what differs from its defaults."""
    args = ["--attest", "--run-date", run_date]
    if profile.input_path != "/in":
        args += ["--plan", f"{profile.input_path}/{PLAN_NAME}"]
    if profile.output_path != "/out":
        args += ["--out", profile.output_path]
    g = profile.seccomp.inprocess
    if g is not None:
        args += ["--guard", f"{','.join(g.deny)}:{g.errno}"]
    return args


def build(profile: Profile) -> dict[str, Any]:
    body: dict[str, Any] = {
        "profile": profile.name,
        "profile_sha256": profile.digest,
        "probe_timeout": PROBE_TIMEOUT_S,
        "probes": probes(profile),
    }
    body["sha256"] = digest(body)
    return body


def digest(plan: dict[str, Any]) -> str:
    """sha256 of the plan without its own digest and run date, canonical JSON."""
    core = {k: v for k, v in plan.items() if k not in ("sha256", "run_date")}
    return hashlib.sha256(json.dumps(core, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def expectations(profile: Profile) -> dict[str, dict[str, Any]]:
    """probe_id -> plan row, for the verifier."""
    return {p["probe_id"]: p for p in probes(profile)}
