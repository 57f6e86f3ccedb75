"""The evidence bundle: the inside bundle merged with the facts only the outside
knows (seed §2's merge step): venue, image digest, seccomp sha256, runtime, argv."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from sandproof import __version__, bundle, dynimport, nodename, plan, regular, seccomp
from sandproof.capture import Captured, printable
from sandproof.contract import EVIDENCE_SCHEMA, SEED_INSIDE_SCHEMA, STATIC_ARTIFACT, STATIC_EXPECT, STATIC_LAYER
from sandproof.errors import BundleError
from sandproof.image import Image
from sandproof.inspector import judge
from sandproof.inspector.catalog import PROBES
from sandproof.inspector.wire import BUNDLE_NAME, STDOUT_MARKER
from sandproof.inspector.wire import SCHEMA as INSIDE_SCHEMA
from sandproof.profile import Profile
from sandproof.runtime.interface import RunResult
from sandproof.workload.carried import Workload

SCHEMA = EVIDENCE_SCHEMA
INSIDE_NAME = BUNDLE_NAME
STDERR_LINE_CHARS = 1000


# DMI vendors of the usual VM and cloud hosts (/sys/class/dmi/id/sys_vendor)
VM_VENDORS = (
    "QEMU",
    "KVM",
    "Amazon EC2",
    "Google",
    "DigitalOcean",
    "Hetzner",
    "Microsoft Corporation",
    "Xen",
    "OpenStack",
    "VMware",
    "Scaleway",
    "Linode",
    "Vultr",
    "Firecracker",
)


def _dmi(field: str) -> str | None:
    try:
        with open(f"/sys/class/dmi/id/{field}", encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError:
        return None


def venue() -> tuple[str, dict[str, Any]]:
    """Where this run happened, read from the environment: a claim, not a proof (only a
    signature bound to the runner's identity proves it)."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        server, repo, run = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
        return "ci", {
            "platform": "github-hosted-runner",
            "runner_os": os.environ.get("RUNNER_OS"),
            "runner_arch": os.environ.get("RUNNER_ARCH"),
            "github_repository": repo,
            "github_run_id": run,
            "invocation_id": f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None,
            "node": platform.node() or None,
            "not_mac_local": True,
        }
    system = platform.system()
    vendor, product = _dmi("sys_vendor"), _dmi("product_name")
    identity: dict[str, Any] = {
        "os": f"{system} {platform.release()}",
        "arch": platform.machine(),
        "dmi_vendor": vendor,
        "dmi_product": product,
        # the host's name, for the fleet view's per-node table (``verify`` over many bundles)
        "node": platform.node() or None,
        "not_mac_local": system != "Darwin",
    }
    if system == "Darwin":  # Docker Desktop on macOS: the seed's "Mac-local", refused where CI is required
        return "mac-local", {"platform": "macos-docker-desktop", **identity}
    if vendor and any(v.lower() in vendor.lower() for v in VM_VENDORS):
        return "vps", {"platform": "virtual-machine", **identity}
    return "local", {"platform": "local-host", **identity}


def file_name(venue_name: str, run_date: str, node: str | None = None) -> str:
    """The evidence file's name; a fleet's (``attest --kind daemonset``: one per node) names its
    node too, made safe (``nodename.safe_name``), as ``nodename.named_for`` reads it back."""
    of_node = "" if node is None else f"-node-{nodename.safe_name(node)}"
    return f"sandbox-attestation-evidence-{venue_name}-{run_date}{of_node}.json"


def read_sandbox_file(path: str) -> bytes:
    """Read a file the sandbox wrote into a host directory. It chose what that name is:
    never follow a symlink to a host file, never open anything but a regular file (/out is a
    tmpfs without nodev, as PR-MOUNT-1 wants its flags exactly the profile's: the name may be
    a device node; ``regular.open_regular``), never block, never read unbounded."""
    fd, _ = regular.open_regular(path)
    with os.fdopen(fd, "rb") as f:
        return f.read(bundle.MAX_BYTES + 1)


class Inside(NamedTuple):
    bundle: dict[str, Any] | None
    """The inside bundle, schema-checked; None when there is none or it was refused."""
    channel: str
    """"file", "stdout" or "none"."""
    problem: str | None
    """Why a bundle that was there was refused (a FAIL, never a crash)."""


def _checked(raw: bytes, where: str) -> dict[str, Any]:
    data = bundle.parse(raw, where)
    if bundle.validate(data, where) != INSIDE_SCHEMA:
        raise BundleError(f"bundle {where}: schema {data['schema']!r}, expected {INSIDE_SCHEMA!r}")
    return data


def _stdout_line(stdout: Captured) -> bytes | None:
    """The last complete line starting with the harness's marker, from the bounded capture."""
    text = stdout.tail if stdout.dropped else stdout.head + stdout.tail
    marker = STDOUT_MARKER.encode()
    at = text.rfind(b"\n" + marker)
    start = at + 1 if at >= 0 else (0 if text.startswith(marker) and not stdout.dropped else -1)
    if start < 0:
        return None
    end = text.find(b"\n", start)
    return text[start + len(marker) : end if end >= 0 else len(text)]


def read_inside(out_dir: str, stdout: Captured) -> Inside:
    """The inside bundle and the channel it came through: its file in /out, or the
    harness's fallback line on stdout when /out could not be written. Whatever ran in
    the sandbox wrote it, so it is read as hostile input: bounded, strict JSON, then its
    schema, before anything reads a field of it."""
    return inside_of(fetch_inside(out_dir), stdout)


def fetch_inside(out_dir: str) -> bytes | str | None:
    """The inside bundle's bytes as the harness left them in /out (bounded, never through a
    link), read before /out goes; None when there is none, or why it could not be read.
    attest then starts detaching /out (a few ms the kernel takes) and reads them meanwhile."""
    try:
        return read_sandbox_file(os.path.join(out_dir, BUNDLE_NAME))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{BUNDLE_NAME} in /out: {exc.strerror or exc}"


def inside_of(raw: bytes | str | None, stdout: Captured) -> Inside:
    """``read_inside`` of what ``fetch_inside`` read."""
    if isinstance(raw, str):
        return Inside(None, "none", raw)
    if raw is not None:
        return file_inside(raw)
    line = _stdout_line(stdout)
    if line is None:
        return Inside(None, "none", None)
    try:
        return Inside(_checked(line, "on stdout"), "stdout", None)
    except BundleError as exc:
        return Inside(None, "none", exc.message)


def file_inside(raw: bytes) -> Inside:
    """The inside bundle from its file's bytes (``fetch_inside``), checked, or why it was refused."""
    try:
        return Inside(_checked(raw, BUNDLE_NAME), "file", None)
    except BundleError as exc:
        return Inside(None, "none", exc.message)


def merge(
    inside: Mapping[str, Any] | None,
    channel: str,
    *,
    profile: Profile,
    claim: Profile,
    image: Image,
    runtime: str,
    runtime_version: str,
    result: RunResult,
    run_date: str,
    output: Mapping[str, object] | None = None,
    problem: str | None = None,
    expected: plan.Compiled | None = None,
    seccomp_sha256: str | None = None,
    static: dict[str, Any] | None = None,
    workload: Workload | None = None,
) -> dict[str, Any]:
    """``expected`` is the claim's plan, ``seccomp_sha256`` the run profile's policy and
    ``static`` the build-time record as attest made them once for the run (derived here only
    when not given)."""
    venue_name, identity = venue()
    body: dict[str, Any] = dict(inside) if inside else {"probes": [], "summary": {}, "raw": {}}
    body["probes"] = [*body["probes"], static or static_record()]
    # untrusted: escaped here, where it enters the evidence, and bounded per line
    stderr_lines = [printable(ln)[:STDERR_LINE_CHARS] for ln in result.stderr.text().splitlines() if ln.strip()]
    body.update(
        {
            "schema": SCHEMA,
            "inside_schema": inside.get("schema") if inside else None,
            "run_date": run_date,
            "venue": venue_name,
            "venue_identity": identity,
            "image_digest": image.image_id,
            "image_name": image.name,
            "seccomp_sha256": seccomp_sha256 or seccomp.sha256(profile),
            "runtime": runtime,
            "runtime_version": runtime_version,
            "argv": result.argv,
            "container_exit": result.exit_code,
            "container_started": inside is not None,
            "bundle_channel": channel,
            "stderr_tail": stderr_lines[-5:],
            "profile": {
                "name": profile.name,
                "source": profile.source,
                "sha256": profile.digest,
            },
            "claim_profile": claim.name,
            "expected_plan_sha256": (expected or plan.compiled(claim, runtime, workload)).sha256,
            "sandproof_version": __version__,
            "wall_s": round(result.wall_s, 3),
            "host": {
                "stdout_bytes": result.stdout.total,
                "stderr_bytes": result.stderr.total,
                "timed_out": result.timed_out,
                **({"output": dict(output)} if output else {}),
                **({"inside_problem": printable(problem)[:STDERR_LINE_CHARS]} if problem else {}),
            },
            **result.details,
            # the user's image and the carried harness: outside facts the verifier derives from
            **({"workload": workload.record()} if workload else {}),
        }
    )
    return body


def static_record() -> dict[str, Any]:
    """PR-DYNIMPORT, run here at build time over the inspector bytes the image carries."""
    obs = dynimport.scan()
    v = judge.judge("static", STATIC_EXPECT, obs)
    info = PROBES["PR-DYNIMPORT"]
    return {
        "probe_id": "PR-DYNIMPORT",
        "operation": info.operation,
        "expected": STATIC_EXPECT,
        "actual_stderr_or_value": v.reason,
        "errno_or_exit": "n/a",
        "verdict": v.verdict,
        "reason": v.reason,
        "artifact_path": STATIC_ARTIFACT,
        "kind": info.kind,
        "requirement": info.requirement,
        "layer": STATIC_LAYER,
        "observation": obs,
        "duration_ms": 0.0,
    }


_ORJSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def dumps(data: Mapping[str, Any]) -> str:
    """Sorted, indented JSON, byte for byte what ``json.dumps(indent=2, sort_keys=True)``
    writes (ASCII, escapes included). orjson writes it ~40x faster (0.15 ms against 6 ms for a
    50 KiB bundle: ``indent`` sends the stdlib down its pure-Python encoder), and attest waits
    for this after every run; wherever its text could differ, the stdlib writes it instead:
    non-ASCII text (orjson keeps it raw), lone surrogates and integers past 64 bits (orjson
    refuses them), small floats. NaN is never here (bundles are parsed refusing it)."""
    try:
        text = orjson.dumps(data, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        text = b"\x80"
    if text.isascii() and not plan.float_differs(text):
        return text.decode() + "\n"
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


__all__ = [
    "INSIDE_SCHEMA",
    "SCHEMA",
    "SEED_INSIDE_SCHEMA",
    "STATIC_EXPECT",
    "STATIC_LAYER",
    "Inside",
    "dumps",
    "fetch_inside",
    "file_inside",
    "file_name",
    "inside_of",
    "merge",
    "read_inside",
    "static_record",
    "venue",
]
