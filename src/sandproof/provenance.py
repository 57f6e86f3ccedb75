"""Bundle-level checks: is this evidence of *this* profile's sandbox, run as rendered?

Everything here compares what the bundle says about the run (profile digest, plan,
image ID, seccomp hash, the exact argv or OCI config, the harness's exit code) with what
this sandproof derives from the profile itself. Venue is a claim read from environment
variables; the policy can require one, the report always says it is only a claim.
"""

from __future__ import annotations

import enum
import functools
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from sandproof import contract
from sandproof.inspector import bpf, syscalls
from sandproof.inspector.wire import SCHEMA as INSIDE_SCHEMA
from sandproof.inspector.wire import Verdict
from sandproof.model import Bundle, EvidenceBundle, Guard, InsideBundle, Json, JsonObject, SeedBundle
from sandproof.profile import Profile
from sandproof.render import docker, k8s, oci, podman, runc, runsc
from sandproof.workload import carried
from sandproof.workload.carried import Workload

VENUES = contract.VENUES


@dataclass(frozen=True)
class Policy:
    require_venue: str = "any"
    """``ci``: only a CI venue; ``vps``: only a VPS; ``any``: report the venue, require none."""
    check_inspector: bool = False
    """Require the inspector that ran to be the one this sandproof ships."""
    require_engine_view: bool = False
    """Require the engine's own view in the evidence (bundles before it carry none)."""


class Cause(enum.StrEnum):
    """What kind of reason a verdict carries, for code that must tell them apart (the reason
    text is for people)."""

    JUDGED = "judged"
    """The judge's (or the check's) own reading of the evidence."""
    MISSING = "missing"
    """No record of the probe in the bundle."""
    DUPLICATE = "duplicate"
    """The probe is recorded more than once: no record of it is believed."""
    CONTRADICTED = "contradicted"
    """The record's other fields or the raw evidence disagree with the recomputation."""


@dataclass(frozen=True)
class Check:
    """A bundle-level check (provenance, consistency, policy)."""

    name: str
    verdict: Verdict
    reason: str

    def __init__(self, name: str, verdict: Verdict, reason: str) -> None:
        # as verify.ProbeResult's: the generated frozen __init__ sets each field through
        # object.__setattr__; ~20 checks a bundle (tests/test_verify.py holds the two alike)
        self.__dict__.update(name=name, verdict=verdict, reason=reason)


@dataclass(frozen=True)
class Derived:
    """What the profile implies, computed once per profile."""

    plan_sha256: str
    seccomp_sha256: str
    image_id: str
    workload: Workload | None = None
    """The user's image as the evidence records it (attest --image): trusted, see workload_check."""
    plan_file_sha256: str = ""
    """sha256 of the plan file's bytes as attest writes them into /in (what PR-IN-1 hashes)."""


def check(name: str, ok: bool, good: str, bad: str) -> Check:
    return Check(name, Verdict.PASS if ok else Verdict.FAIL, good if ok else bad)


def _mount_source(cfg: JsonObject, target: str) -> str:
    mounts = cfg.get("mounts")
    for m in mounts if isinstance(mounts, list) else []:  # a bundle's shape is never assumed
        if isinstance(m, dict) and m.get("destination") == target and isinstance(m.get("source"), str):
            return str(m["source"])
    return ""


def _value_after(argv: Sequence[str], flag: str, prefix: str = "") -> list[str]:
    return [b for a, b in itertools.pairwise(argv) if a == flag and b.startswith(prefix)]


def _obj(value: Json) -> JsonObject:
    return value if isinstance(value, dict) else {}


NAMED_CLIENTS = frozenset({"docker", "podman", "runc", "runsc"})
"""The runtimes whose client attest runs by the runtime's own name (attest.py: ``Docker()``,
``Runc()``... with their default ``binary``), the argv's first word; the renders below are
handed it from the record."""


def rendered_as_profiled(data: EvidenceBundle, profile: Profile, workload: Workload | None = None) -> Check:
    """The exact docker argv, or runc's OCI config, is what the profile renders; only the
    per-run paths (input, output, seccomp file, bundle) are taken from the record."""
    argv, runtime, run_date = list(data.argv), data.runtime, data.run_date
    if not argv:
        return Check("rendered", Verdict.FAIL, "no argv recorded")
    if runtime in NAMED_CLIENTS and argv[0] != runtime:  # the renders take the binary from the record
        return Check("rendered", Verdict.FAIL, f"the recorded argv runs {argv[0][:80]!r}, not {runtime}'s {runtime!r}")
    if runtime in ("docker", "podman"):
        seccomp = [v.removeprefix("seccomp=") for v in _value_after(argv, "--security-opt", "seccomp=")]
        vols = _value_after(argv, "-v")
        in_dir = next((v.rsplit(":", 2)[0] for v in vols if v.rsplit(":", 2)[1:2] == [profile.filesystem.input]), "")
        out_dir = next((v.rsplit(":", 2)[0] for v in vols if v.rsplit(":", 2)[1:2] == [profile.filesystem.output]), "")
        shared = functools.partial(
            docker.argv,
            profile,
            in_dir=in_dir,
            out_dir=out_dir,
            seccomp_file=seccomp[0] if seccomp else "",
            run_date=run_date,
            image_ref=data.image_digest,
            workload=workload,
        )
        if runtime == "podman":  # Docker's argv with podman's engine options, its paths from the record
            want = podman.with_engine(shared(docker=argv[0], resolv=False), podman.Engine.from_argv(argv), profile)
        else:
            want = shared(docker=argv[0])
        return check(
            "rendered",
            argv == want,
            f"the {runtime} argv is exactly what the profile renders",
            f"the recorded {runtime} argv is not what the profile renders",
        )
    cfg = data.oci_config
    if runtime in ("runc", "runsc") and isinstance(cfg, dict):
        linux, root = _obj(cfg.get("linux")), _obj(cfg.get("root"))
        cid = str(linux.get("cgroupsPath")).rsplit("/", 1)[-1]
        want_cfg = oci.config(
            profile,
            in_dir=_mount_source(cfg, profile.filesystem.input),
            out_dir=_mount_source(cfg, profile.filesystem.output),
            run_date=run_date,
            # only the ID is the run's: the parent is sandproof's (a cgroup elsewhere is another's limits)
            cgroup=runc.cgroup(cid),
            workload=workload,
        )
        want_cfg["root"]["path"] = root.get("path")
        if runtime == "runsc":  # the same bundle; the argv names the recorded platform
            bundle_dir = argv[-2] if len(argv) >= 2 else ""
            platform = data.runtime_platform if isinstance(data.runtime_platform, str) else ""
            want_argv = runsc.argv(profile, bundle_dir, cid, binary=argv[0], platform=platform)
            shape = bool(platform) and argv == want_argv
        else:
            shape = argv[1:5] == ["--root", contract.RUNC_STATE_ROOT, "run", "--bundle"] and argv[-1] == cid
            shape = shape and len(argv) == 7
        return check(
            "rendered",
            shape and cfg == oci.redacted(want_cfg),
            "the OCI config is exactly what the profile renders",
            f"the recorded {runtime} argv or OCI config is not what the profile renders",
        )
    if runtime == "kubernetes":
        return _rendered_k8s(data, profile)
    return Check("rendered", Verdict.FAIL, f"runtime {runtime!r} with no config to compare")


_APPLIED_KINDS: dict[str, k8s.Kind] = {"Job": "job", "DaemonSet": "daemonset"}  # attest applies no bare Pod


def _rendered_k8s(data: EvidenceBundle, profile: Profile) -> Check:
    """The Job (or DaemonSet) kubectl applied is what the profile renders; only its name (a per-run suffix)
    and the image reference the nodes pulled are taken from the record."""
    facts = data.kubernetes if isinstance(data.kubernetes, dict) else {}
    applied = _obj(facts.get("manifest"))
    try:
        template = _obj(_obj(applied.get("spec")).get("template"))
        image = _obj(template.get("spec")).get("containers", [{}])[0].get("image")  # type: ignore[index]
        # the workload alone is compared: the plan in the input ConfigMap is not compiled again
        kind = _APPLIED_KINDS[str(applied.get("kind"))]
        job = k8s.render(profile, kind=kind, run_date=data.run_date, image=str(image), plan_text=b"")
        want = dict(job.workload)
        want["metadata"] = {**want["metadata"], "name": _obj(applied.get("metadata")).get("name")}
    except (AttributeError, IndexError, KeyError, TypeError):
        want = {}
    return check(
        "rendered",
        bool(applied) and applied == want,
        f"the applied {applied.get('kind')} is exactly what the profile renders",  # a key of _APPLIED_KINDS
        "the recorded Job or DaemonSet is not what the profile renders",
    )


_IMAGE_ID = re.compile(r"(?:docker://)?(sha256:[0-9a-f]{64})")


def _cluster_image(data: EvidenceBundle) -> list[Check]:
    """The image the kubelet reports for the pod (containerStatuses[].imageID) against the
    image ID the evidence names. Only like is compared with like: an image ID (the digest of
    the image's config, what ``docker``/containerd call the ID) equals ours or FAILs; a repo
    digest (``name@sha256:...``) is the digest of the registry's manifest, which names the
    config by digest but is not it, so without the manifest it cannot be matched: UNVERIFIED,
    never PASS. No check where the pod never ran; UNVERIFIED where it ran and no image is recorded."""
    facts = data.kubernetes if isinstance(data.kubernetes, dict) else {}
    ran = facts.get("image_id")
    if not isinstance(ran, str) or not ran:
        if data.runtime == "kubernetes" and data.container_started:
            # the kubelet reports an imageID for every container that ran: deleting it must not
            # turn the check off (a manifest's image is taken from the record as it is)
            return [Check("cluster-image", Verdict.UNVERIFIED, "the pod ran, but no image the kubelet ran is recorded")]
        return []
    ours = data.image_digest
    if (m := _IMAGE_ID.fullmatch(ran)) is not None:
        return [
            check(
                "cluster-image",
                m.group(1) == ours,
                f"the node ran image {ours}, the one the evidence names",
                f"the node ran image {m.group(1)}, the evidence names {ours}",
            )
        ]
    return [
        Check(
            "cluster-image",
            Verdict.UNVERIFIED,
            f"the node ran {ran[:300]} (a registry manifest digest), the evidence names image ID {ours}: "
            "a manifest digest is not an image ID, and the manifest that would link them is not recorded",
        )
    ]


_GUARDS: dict[tuple[str, str | None], Guard] = {}


def _guard_record(profile: Profile, arch: str | None) -> Guard:
    """``_profile_guard``, kept per profile (by digest, which covers the guard) and known
    architecture: what a profile derives (its BPF program, ~10 us a bundle), never a bundle's
    value; any other name the bundle gives is not kept (the table stays bounded)."""
    if arch not in syscalls.AUDIT_ARCH:
        return _profile_guard(profile, arch)
    key = (profile.digest, arch)
    if key not in _GUARDS:
        _GUARDS[key] = _profile_guard(profile, arch)
    return _GUARDS[key]


def _profile_guard(profile: Profile, arch: str | None) -> Guard:
    """What the harness records for the profile's in-process guard (harness.install_guard),
    field for field: the instruction count is that of the program built for the deny list."""
    g = profile.seccomp.inprocess
    if not g:
        return Guard(installed=False)
    try:
        program = bpf.program(list(g.deny), g.errno, str(arch))
    except (KeyError, ValueError):
        return Guard(installed=True, arch="(no filter for this architecture)")
    return Guard(
        installed=True,
        layer="L2-inprocess-seccomp",
        arch=str(arch),
        deny=tuple(g.deny),
        errno=g.errno,
        instructions=len(program),
    )


def run_consistency(data: EvidenceBundle, profile: Profile, inside_verdicts: list[Verdict]) -> list[Check]:
    """The merge's own fields must agree with each other and with the recomputation."""
    started = data.container_started
    channel, code = data.bundle_channel, data.container_exit
    # Kubernetes: the pod's /out goes with the pod, so the harness prints its bundle in the pod's
    # log (--stdout-bundle) after writing it; a broken /out still shows as exit 2
    logged = data.runtime == "kubernetes" and channel == "stdout"
    if not started:
        want_code_ok = code != 0
    elif channel == "stdout" and not logged:
        want_code_ok = code == 2  # the harness could not write /out
    else:
        want_code_ok = code == (0 if inside_verdicts and all(v == Verdict.PASS for v in inside_verdicts) else 1)
    ran = data.guard if isinstance(data.guard, Guard) else None
    arch = ran.arch if ran is not None and isinstance(ran.arch, str) else None
    guard_ok = not started or (ran is not None and ran == _guard_record(profile, arch))
    shown = {} if guard_ok or ran is None else dict(sorted(msgspec.json.decode(msgspec.json.encode(ran)).items()))
    return [
        check(
            "claim",
            data.claim_profile == profile.name,
            f"claims profile {profile.name!r}",
            f"the bundle claims profile {data.claim_profile!r}, not {profile.name!r}",
        ),
        check(
            "channel",
            started == (channel in ("file", "stdout")) and started == (data.inside_schema == INSIDE_SCHEMA),
            "inside bundle, channel and schema agree",
            "container_started, bundle_channel and inside_schema disagree",
        ),
        # the stdout fallback keeps the evidence of a broken /out; it is never a passing run:
        # the bundle did not reach the output directory attest gave the sandbox
        check(
            "bundle-written",
            not started or channel == "file" or logged,
            "the harness wrote its bundle to /out" + (" and its log" if logged else ""),
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
            f"the recorded in-process guard {shown} is not the profile's",
        ),
    ]


def venue(data: Bundle, policy: Policy) -> Check:
    name: Json = None if isinstance(data, InsideBundle) else data.venue
    name = None if name is msgspec.UNSET else name
    identity = data.venue_identity if isinstance(data, EvidenceBundle) else {}
    mac = identity.get("not_mac_local") is not True or name == "mac-local"
    claim = (
        f"venue {name!r} (read from environment variables: a claim, not a proof; only a signature bound to the "
        "runner's identity proves it: `render workflow --sign github`, checked with `gh attestation verify`)"
    )
    if policy.require_venue == "any":
        return Check("venue", Verdict.PASS, f"{claim}; no venue required")
    if mac or name != policy.require_venue:
        refused = "a Mac-local or unknown venue" if mac else "it"
        return Check("venue", Verdict.FAIL, f"{claim}; --require-venue {policy.require_venue} refuses {refused}")
    return Check("venue", Verdict.PASS, f"{claim}; meets --require-venue {policy.require_venue}")


def _host_facts(data: EvidenceBundle, profile: Profile) -> list[Check]:
    """What attest says it gave the sandbox from outside: /out bounded exactly as the profile
    says, and a harness that ran within the run's own wall time."""
    fs = profile.filesystem
    want = (True, fs.output_limit.bytes, fs.output_files)
    out = data.host.output if not isinstance(data.host, msgspec.UnsetType) else msgspec.UNSET
    got = None if isinstance(out, msgspec.UnsetType) else (out.bounded, out.limit_bytes, out.limit_files)
    checks = [
        check(
            "output-bound",
            got == want,
            f"/out bounded to {fs.output_limit.text} and {fs.output_files} files",
            f"/out recorded as (bounded, bytes, files) {got}, the profile says {want}",
        )
    ]
    if not isinstance(data.harness, msgspec.UnsetType):
        took = data.harness.duration_ms
        checks.append(
            check(
                "timing",
                took <= data.wall_s * 1000,
                "the harness ran within the run's wall time",
                f"the harness says it ran {took} ms, longer than the whole run ({data.wall_s} s)",
            )
        )
    return checks


def evidence_checks(
    data: EvidenceBundle, profile: Profile, derived: Derived, policy: Policy, shipped_inspector: Callable[[], str]
) -> list[Check]:
    """Checks of a merged evidence bundle (this tool's)."""
    started = data.container_started
    why = data.stderr_tail[-1] if data.stderr_tail else "no inside bundle"
    ran = data.profile
    dyn = next((r.observation for r in data.probes if r.probe_id == "PR-DYNIMPORT"), None)
    scanned = dyn.get("inspector_sha256") if dyn is not None else None
    inspector = data.inspector_sha256 if isinstance(data.inspector_sha256, str) else None
    plan_ran = data.plan_sha256 if isinstance(data.plan_sha256, str) else None
    out = [
        check(
            "container-started",
            started,
            f"inside bundle via {data.bundle_channel}",
            f"the container did not start or wrote no evidence: {why}",
        ),
        check(
            "profile",
            ran.sha256 == profile.digest,
            f"the sandbox ran profile {profile.name!r} itself",
            f"the sandbox ran profile {ran.name!r} ({ran.sha256}), not {profile.name!r}: "
            "a weakened or different sandbox attests nothing about this one",
        ),
        check(
            "plan",
            data.expected_plan_sha256 == derived.plan_sha256 and (not started or plan_ran == derived.plan_sha256),
            "the harness ran the plan this profile derives",
            "the plan that ran is not the one this profile derives",
        ),
        check(
            "image",
            data.image_digest == derived.image_id,
            "the image this sandproof builds, reproducibly, for the profile",
            f"{data.image_digest!r} is not the image this sandproof builds for the profile ({derived.image_id})",
        ),
        rendered_as_profiled(data, profile, derived.workload),
        *_host_facts(data, profile),
        *_cluster_image(data),
    ]
    if profile.image.workload or data.workload is not msgspec.UNSET:
        out.append(workload_check(data, profile, derived.workload))
    if started:
        out.append(
            check(
                "inspector-scanned",
                scanned == inspector,
                "the inspector that ran is the one PR-DYNIMPORT scanned",
                "the inspector that ran is not the one PR-DYNIMPORT scanned",
            )
        )
    if policy.check_inspector:
        shipped = shipped_inspector()
        out.append(
            check(
                "inspector-shipped",
                inspector == shipped,
                "the inspector that ran is the one this sandproof ships",
                f"inspector {inspector!r} is not the shipped {shipped}",
            )
        )
        if derived.workload is not None:  # the carried tree: the lock's base and these inspector files
            tree = carried.shipped_digest()
            out.append(
                check(
                    "harness-shipped",
                    derived.workload.harness_digest == tree,
                    "the harness tree carried into the image is the one this sandproof ships",
                    f"harness tree {derived.workload.harness_digest} is not the shipped {tree}",
                )
            )
    return out


def _root_image(found: Workload) -> str:
    """Why the image's configured user is, or may be, root ("" when it is a uid other than 0).
    An allow-list: the uid attest resolved from the image must be a number and not 0; a record
    written before attest resolved it is judged by the spellings alone (carried.root_user)."""
    said = f"the image is configured to run as root ({found.user or 'no User'}"
    if carried.root_user(found.user):
        return said + ")"
    uid = found.user_uid
    if not uid:
        return ""
    if uid.startswith("?"):
        return f"the image's configured user names no uid: {uid[1:]}"
    return said + f": uid {uid} in the image)" if uid == "0" or not uid.isdigit() else ""


def workload_check(data: EvidenceBundle, profile: Profile, workload: Workload | None) -> Check:  # noqa: PLR0911 - one reason per fact
    """attest --image: the recorded user's image is the one the profile names and the one
    the engine ran. The verifier cannot open the image: its ID, configured user and
    WorkingDir are taken from this record, and every expectation derived from them (the
    plan hash the harness reported binds image ID and harness digest; the argv or OCI
    config binds the ID, the tree and the working directory)."""
    name = "workload"
    if not profile.image.workload:
        return Check(name, Verdict.FAIL, "the evidence records a user's image; the profile names none")
    found = carried.from_record(data.workload) if workload is None else workload
    if not isinstance(found, Workload):
        return Check(name, Verdict.FAIL, f"the profile names image {profile.image.workload!r}: {found}")
    ref = profile.image.workload
    if ref not in (found.ref, found.image_id):
        return Check(name, Verdict.FAIL, f"the evidence's image is {found.ref!r}, the profile names {ref!r}")
    if ref.startswith("sha256:") and found.image_id != ref:
        return Check(name, Verdict.FAIL, f"the image that ran is {found.image_id}, the profile pins {ref}")
    if data.image_digest != found.image_id:
        return Check(name, Verdict.FAIL, f"the engine ran {data.image_digest}, the record says {found.image_id}")
    if profile.user.uid != 0 and (why := _root_image(found)):
        return Check(name, Verdict.FAIL, why)
    if found.preloads:  # the one file of the image the carried loader reads: none may be there
        return Check(
            name,
            Verdict.FAIL,
            f"the image's /etc/ld.so.preload names {found.preload[:200]!r}: the carried loader runs it inside the "
            "harness, which can then hide it from PR-INTEGRITY-1",
        )
    return Check(
        name,
        Verdict.PASS,
        f"user's image {found.ref} ({found.image_id}), configured user {found.user!r}, harness {found.harness_digest}",
    )


def outside_checks(
    data: Bundle, profile: Profile, derived: Derived, policy: Policy, shipped_inspector: Callable[[], str]
) -> list[Check]:
    run_date = data.run_date
    out = [check("run-date", contract.date_ok(run_date), str(run_date), f"{run_date!r} is not a YYYY-MM-DD date")]
    if isinstance(data, InsideBundle) or (
        isinstance(data, SeedBundle) and data.image_digest is msgspec.UNSET and data.seccomp_sha256 is msgspec.UNSET
    ):
        return [
            *out,
            Check(
                "outside-facts",
                Verdict.UNVERIFIED,
                "an inside bundle alone carries no image digest, seccomp hash or venue: not attested",
            ),
        ]
    if isinstance(data, EvidenceBundle):
        out += evidence_checks(data, profile, derived, policy, shipped_inspector)
    got, digest = (None if v is msgspec.UNSET else v for v in (data.seccomp_sha256, data.image_digest))
    out.append(
        check(
            "seccomp-sha256",
            got == derived.seccomp_sha256,
            "matches the profile's rendered seccomp",
            f"{got!r} is not the sha256 of the profile's rendered seccomp {derived.seccomp_sha256}",
        )
    )
    ok = isinstance(digest, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", digest) is not None
    out.append(check("image-digest", ok, str(digest), f"missing or malformed image digest {digest!r}"))
    return [*out, venue(data, policy)]


__all__ = ["Cause", "Check", "Derived", "Policy", "check", "outside_checks", "run_consistency"]
