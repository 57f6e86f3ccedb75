"""The verifier's ``engine-view`` check: the engine's recorded view, field by field, against
what the profile derives for this run.

The per-run host paths (input, output, runc's cgroup) are read from the recorded argv or OCI
config, which the "rendered" check binds to the profile; every other expected value comes
from the profile and the runtime's documented defaults alone.

A bundle without the record (written before sandproof recorded it) gets no check, unless
the policy requires one, or checks that the inspector that ran is this sandproof's (whose
attest records the view on every run of a runtime with an adapter): then it FAILs. Otherwise
the matrix row bound to the check is reported as not attested (never as PASS).
"""

from __future__ import annotations

import itertools

import msgspec

from sandproof.engineview import ADAPTERS
from sandproof.engineview.core import SHOWN_DIFFERENCES, Context, differences, expected_for
from sandproof.inspector.wire import Verdict
from sandproof.model import EvidenceBundle
from sandproof.profile import Profile
from sandproof.provenance import Check, Derived, Policy
from sandproof.render.podman import Engine

NAME = "engine-view"


def _host_path(data: EvidenceBundle, target: str) -> str:
    """The host directory the run bound at ``target``: from ``-v SRC:TARGET:MODE`` in the
    docker argv, or the OCI config's mount of that destination."""
    for flag, value in itertools.pairwise(data.argv):
        if flag == "-v" and value.rsplit(":", 2)[1:2] == [target]:
            return value.rsplit(":", 2)[0]
    cfg = data.oci_config if isinstance(data.oci_config, dict) else {}
    mounts = cfg.get("mounts")
    for m in mounts if isinstance(mounts, list) else []:
        if isinstance(m, dict) and m.get("destination") == target and isinstance(m.get("source"), str):
            return str(m["source"])
    return ""


def _seccomp_file(data: EvidenceBundle) -> str:
    """The file of ``--security-opt seccomp=FILE`` in the argv (podman records only this path)."""
    for flag, value in itertools.pairwise(data.argv):
        if flag == "--security-opt" and value.startswith("seccomp="):
            return value.removeprefix("seccomp=")
    return ""


def context(data: EvidenceBundle, profile: Profile, derived: Derived) -> Context:
    cfg = data.oci_config if isinstance(data.oci_config, dict) else None
    linux = cfg.get("linux") if cfg else None
    cgroup = linux.get("cgroupsPath") if isinstance(linux, dict) else None
    eng = Engine.from_argv(data.argv) if data.runtime == "podman" else Engine("", "", "", "")
    return Context(
        in_dir=_host_path(data, profile.filesystem.input),
        out_dir=_host_path(data, profile.filesystem.output),
        image_id=derived.image_id,
        cgroup=cgroup if isinstance(cgroup, str) else "",
        workload=derived.workload,
        seccomp_file=_seccomp_file(data),
        rootless=data.rootless is True,
        run_date=data.run_date,
        podman_run=f"{eng.runroot}/{eng.driver}-containers",
        podman_static=f"{eng.root}/{eng.driver}-containers",
    )


def check(data: EvidenceBundle, profile: Profile, derived: Derived, policy: Policy) -> Check | None:  # noqa: PLR0911 - one reason per failure
    """None when the bundle has no engine view and the policy does not require one."""
    view = data.engine_view
    if isinstance(view, msgspec.UnsetType):
        if policy.require_engine_view:
            why = "no engine view recorded (the bundle predates it); the policy requires one"
            return Check(NAME, Verdict.FAIL, why)
        if policy.check_inspector and data.runtime in ADAPTERS:
            # the inspector is checked to be this sandproof's, whose attest always records a view
            # (or a problem) on this runtime: an absent one was taken out, a downgrade to "predates it"
            return Check(
                NAME,
                Verdict.FAIL,
                f"no engine view recorded, yet the inspector that ran is checked to be this sandproof's, "
                f"which records one for every {data.runtime} run: it was removed from the evidence",
            )
        return None
    adapter = ADAPTERS.get(data.runtime)
    if view.runtime != data.runtime or adapter is None:
        return Check(NAME, Verdict.FAIL, f"an engine view of {view.runtime!r} for a run on {data.runtime!r}")
    if not isinstance(view.problem, msgspec.UnsetType) or isinstance(view.fields, msgspec.UnsetType):
        why = view.problem if isinstance(view.problem, str) else "no fields"
        return Check(NAME, Verdict.FAIL, f"the engine's view ({view.source}) was not recorded: {why}")
    ctx = context(data, profile, derived)
    fields = dict(view.fields)
    try:
        want = expected_for(adapter, profile, ctx)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return Check(NAME, Verdict.FAIL, f"the engine's view cannot be compared: {exc!r}")
    diffs = differences(fields, want)
    if not diffs:
        return Check(NAME, Verdict.PASS, f"{view.source}: all {len(want)} fields are what the profile says")
    more = f"; and {len(diffs) - SHOWN_DIFFERENCES} more" if len(diffs) > SHOWN_DIFFERENCES else ""
    return Check(NAME, Verdict.FAIL, f"{view.source}: " + "; ".join(diffs[:SHOWN_DIFFERENCES]) + more)
