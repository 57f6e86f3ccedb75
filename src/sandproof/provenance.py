"""Bundle-level checks: is this evidence of *this* profile's sandbox, run as rendered?

Everything here compares what the bundle says about the run (profile digest, plan,
image ID, seccomp hash, the exact argv or OCI config, the harness's exit code) with what
this sandproof derives from the profile itself. Venue is a claim read from environment
variables; the policy can require one, the report always says it is only a claim.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandproof import contract, crosscheck, evidence
from sandproof.inspector import bpf, judge, wire
from sandproof.profile import Profile
from sandproof.render import docker, oci
from sandproof.runtime.runc import STATE_ROOT

VENUES = contract.VENUES


@dataclass(frozen=True)
class Policy:
    require_venue: str = "any"
    """``ci``: only a CI venue; ``vps``: only a VPS; ``any``: report the venue, require none."""
    check_inspector: bool = False
    """Require the inspector that ran to be the one this sandproof ships."""


@dataclass(frozen=True)
class Check:
    """A bundle-level check (provenance, consistency, policy)."""

    name: str
    verdict: str
    reason: str


@dataclass(frozen=True)
class Derived:
    """What the profile implies, computed once per profile."""

    plan_sha256: str
    seccomp_sha256: str
    image_id: str


def as_dict(value: object) -> dict[str, Any]:
    """A JSON object from a bundle, or an empty one when it is something else."""
    return value if isinstance(value, dict) else {}


def check(name: str, ok: bool, good: str, bad: str) -> Check:
    return Check(name, judge.PASS if ok else judge.FAIL, good if ok else bad)


def date_ok(value: object) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _mount_source(cfg: Mapping[str, Any], target: str) -> str:
    mounts = cfg.get("mounts")
    for m in mounts if isinstance(mounts, list) else []:  # a bundle's shape is never assumed
        if isinstance(m, dict) and m.get("destination") == target and isinstance(m.get("source"), str):
            return str(m["source"])
    return ""


def _value_after(argv: list[Any], flag: str, prefix: str = "") -> list[str]:
    return [str(b) for a, b in itertools.pairwise(argv) if a == flag and str(b).startswith(prefix)]


def rendered_as_profiled(data: Mapping[str, Any], profile: Profile) -> Check:
    """The exact docker argv, or runc's OCI config, is what the profile renders; only the
    per-run paths (input, output, seccomp file, bundle) are taken from the record."""
    argv, runtime, run_date = data.get("argv"), data.get("runtime"), str(data.get("run_date"))
    if not isinstance(argv, list) or not argv:
        return Check("rendered", judge.FAIL, "no argv recorded")
    if runtime == "docker":
        seccomp = [v.removeprefix("seccomp=") for v in _value_after(argv, "--security-opt", "seccomp=")]
        vols = _value_after(argv, "-v")
        in_dir = next((v.rsplit(":", 2)[0] for v in vols if v.rsplit(":", 2)[1:2] == [profile.input_path]), "")
        out_dir = next((v.rsplit(":", 2)[0] for v in vols if v.rsplit(":", 2)[1:2] == [profile.output_path]), "")
        want = docker.argv(
            profile,
            in_dir=in_dir,
            out_dir=out_dir,
            seccomp_file=seccomp[0] if seccomp else "",
            run_date=run_date,
            docker=str(argv[0]),
            image_ref=str(data.get("image_digest")),
        )
        return check(
            "rendered",
            argv == want,
            "the docker argv is exactly what the profile renders",
            "the recorded docker argv is not what the profile renders",
        )
    cfg = data.get("oci_config")
    if runtime == "runc" and isinstance(cfg, dict):
        linux, root = as_dict(cfg.get("linux")), as_dict(cfg.get("root"))
        want_cfg = oci.config(
            profile,
            in_dir=_mount_source(cfg, profile.input_path),
            out_dir=_mount_source(cfg, profile.output_path),
            run_date=run_date,
            cgroup=str(linux.get("cgroupsPath")),
        )
        want_cfg["root"]["path"] = root.get("path")
        cid = str(linux.get("cgroupsPath")).rsplit("/", 1)[-1]
        shape = argv[1:5] == ["--root", STATE_ROOT, "run", "--bundle"] and argv[-1] == cid and len(argv) == 7
        return check(
            "rendered",
            shape and cfg == oci.redacted(want_cfg),
            "the OCI config is exactly what the profile renders",
            "the recorded runc argv or OCI config is not what the profile renders",
        )
    return Check("rendered", judge.FAIL, f"runtime {runtime!r} with no config to compare")


def _guard_record(profile: Profile, arch: object) -> dict[str, Any]:
    """What the harness records for the profile's in-process guard (harness.install_guard),
    field for field: the instruction count is that of the program built for the deny list."""
    g = profile.seccomp.inprocess
    if not g:
        return {"installed": False}
    try:
        program = bpf.program(list(g.deny), g.errno, str(arch))
    except (KeyError, ValueError):
        return {"installed": True, "arch": "(no filter for this architecture)"}
    return {
        "installed": True,
        "layer": "L2-inprocess-seccomp",
        "arch": arch,
        "deny": list(g.deny),
        "errno": g.errno,
        "instructions": len(program),
    }


def run_consistency(data: Mapping[str, Any], profile: Profile, inside_verdicts: list[str]) -> list[Check]:
    """The merge's own fields must agree with each other and with the recomputation."""
    started = data.get("container_started") is True
    channel, code = data.get("bundle_channel"), data.get("container_exit")
    if not started:
        want_code_ok = isinstance(code, int) and code != 0
    elif channel == "stdout":
        want_code_ok = code == 2  # the harness could not write /out
    else:
        want_code_ok = code == (0 if inside_verdicts and all(v == judge.PASS for v in inside_verdicts) else 1)
    guard = as_dict(data.get("guard"))
    guard_ok = not started or crosscheck.same(guard, _guard_record(profile, guard.get("arch")))
    return [
        check(
            "claim",
            data.get("claim_profile") == profile.name,
            f"claims profile {profile.name!r}",
            f"the bundle claims profile {data.get('claim_profile')!r}, not {profile.name!r}",
        ),
        check(
            "channel",
            started == (channel in ("file", "stdout")) and started == (data.get("inside_schema") == wire.SCHEMA),
            "inside bundle, channel and schema agree",
            "container_started, bundle_channel and inside_schema disagree",
        ),
        # the stdout fallback keeps the evidence of a broken /out; it is never a passing run:
        # the bundle did not reach the output directory attest gave the sandbox
        check(
            "bundle-written",
            not started or channel == "file",
            "the harness wrote its bundle to /out",
            "the harness could not write its bundle to /out (it came on stdout)",
        ),
        check(
            "exit-code",
            want_code_ok,
            f"the harness exit code {code} agrees with the verdicts",
            f"the harness exit code {code!r} disagrees with the recomputed verdicts",
        ),
        check(
            "guard",
            guard_ok,
            "the in-process guard recorded is the profile's",
            f"the recorded in-process guard {guard} is not the profile's",
        ),
    ]


def venue(data: Mapping[str, Any], policy: Policy) -> Check:
    name = data.get("venue")
    identity = as_dict(data.get("venue_identity"))
    mac = identity.get("not_mac_local") is not True or name == "mac-local"
    claim = (
        f"venue {name!r} (read from environment variables: a claim, not a proof; only a signature bound to the "
        "runner's identity proves it: `render workflow --sign github`, checked with `gh attestation verify`)"
    )
    if policy.require_venue == "any":
        return Check("venue", judge.PASS, f"{claim}; no venue required")
    if mac or name != policy.require_venue:
        refused = "a Mac-local or unknown venue" if mac else "it"
        return Check("venue", judge.FAIL, f"{claim}; --require-venue {policy.require_venue} refuses {refused}")
    return Check("venue", judge.PASS, f"{claim}; meets --require-venue {policy.require_venue}")


def evidence_checks(
    data: Mapping[str, Any], profile: Profile, derived: Derived, policy: Policy, shipped_inspector: Callable[[], str]
) -> list[Check]:
    """Checks of a merged evidence bundle (this tool's)."""
    started = data.get("container_started") is True
    tail = data.get("stderr_tail") or []
    why = tail[-1] if isinstance(tail, list) and tail and isinstance(tail[-1], str) else "no inside bundle"
    ran = as_dict(data.get("profile"))
    probes = [r for r in data.get("probes", []) if isinstance(r, dict)]
    dyn = next((r.get("observation") for r in probes if r.get("probe_id") == "PR-DYNIMPORT"), None)
    scanned = dyn.get("inspector_sha256") if isinstance(dyn, dict) else None
    out = [
        check(
            "container-started",
            started,
            f"inside bundle via {data.get('bundle_channel')}",
            f"the container did not start or wrote no evidence: {why}",
        ),
        check(
            "profile",
            ran.get("sha256") == profile.digest,
            f"the sandbox ran profile {profile.name!r} itself",
            f"the sandbox ran profile {ran.get('name')!r} ({ran.get('sha256')}), not {profile.name!r}: "
            "a weakened or different sandbox attests nothing about this one",
        ),
        check(
            "plan",
            data.get("expected_plan_sha256") == derived.plan_sha256
            and (not started or data.get("plan_sha256") == derived.plan_sha256),
            "the harness ran the plan this profile derives",
            "the plan that ran is not the one this profile derives",
        ),
        check(
            "image",
            data.get("image_digest") == derived.image_id,
            "the image this sandproof builds, reproducibly, for the profile",
            f"{data.get('image_digest')!r} is not the image this sandproof builds for the profile ({derived.image_id})",
        ),
        rendered_as_profiled(data, profile),
    ]
    if started:
        out.append(
            check(
                "inspector-scanned",
                scanned == data.get("inspector_sha256"),
                "the inspector that ran is the one PR-DYNIMPORT scanned",
                "the inspector that ran is not the one PR-DYNIMPORT scanned",
            )
        )
    if policy.check_inspector:
        shipped = shipped_inspector()
        out.append(
            check(
                "inspector-shipped",
                data.get("inspector_sha256") == shipped,
                "the inspector that ran is the one this sandproof ships",
                f"inspector {data.get('inspector_sha256')!r} is not the shipped {shipped}",
            )
        )
    return out


def outside_checks(
    data: Mapping[str, Any], profile: Profile, derived: Derived, policy: Policy, shipped_inspector: Callable[[], str]
) -> list[Check]:
    run_date = data.get("run_date")
    out = [check("run-date", date_ok(run_date), str(run_date), f"{run_date!r} is not a YYYY-MM-DD date")]
    if "image_digest" not in data and "seccomp_sha256" not in data:
        return [
            *out,
            Check(
                "outside-facts",
                judge.UNVERIFIED,
                "an inside bundle alone carries no image digest, seccomp hash or venue: not attested",
            ),
        ]
    if data.get("schema") == evidence.SCHEMA:
        out += evidence_checks(data, profile, derived, policy, shipped_inspector)
    got = data.get("seccomp_sha256")
    out.append(
        check(
            "seccomp-sha256",
            got == derived.seccomp_sha256,
            "matches the profile's rendered seccomp",
            f"{got!r} is not the sha256 of the profile's rendered seccomp {derived.seccomp_sha256}",
        )
    )
    digest = data.get("image_digest")
    ok = isinstance(digest, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", digest) is not None
    out.append(check("image-digest", ok, str(digest), f"missing or malformed image digest {digest!r}"))
    return [*out, venue(data, policy)]
