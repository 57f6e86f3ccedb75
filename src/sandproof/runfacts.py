"""What the evidence says about its own run, held against the other records of the same run.

Each field here is one the verifier reads for a verdict or shows as a fact, so a forger who
edits it alone must meet a contradiction: the host's record of the run (timed out or not,
its wall time) against the harness's exit code and durations; the harness's PID against what
PR-PROC-1 saw; the plan file the harness listed in /in against the plan this profile compiles
to; the runtime's version string against the form the runtime writes it in
(``runtime/*.py version``) and the other facts recorded beside it. A field nothing reads and
no report shows (``image_name``, ``host.stdout_bytes``, ``venue_identity``) stays a label.
"""

from __future__ import annotations

import re

import msgspec

from sandproof.inspector.catalog import OUTSIDE_PROBES
from sandproof.inspector.wire import PLAN_NAME, Verdict
from sandproof.model import EvidenceBundle, JsonObject
from sandproof.profile import Profile
from sandproof.provenance import Check, Derived, check
from sandproof.runtime_defaults import HOSTNAME

KILLED_EXIT = 124
"""What every runtime records as the exit code of a run it killed at its timeout
(runtime/docker.py, runc.py, podman.py, kubernetes.py: ``RunResult(124, ...)``)."""
ROUNDING_MS = 0.005
"""Each duration is recorded rounded to 0.01 ms (inspector/harness.py): half of that, per record."""
_VERSION = r"[0-9A-Za-z][0-9A-Za-z.+~:_-]{0,100}"
VERSION_FORMS = {
    "docker": re.compile(rf"Docker Engine {_VERSION}"),  # runtime/docker.py: the engine's Version
    "runc": re.compile(rf"runc version {_VERSION}"),  # `runc --version`'s first line
    "runsc": re.compile(rf"runsc version {_VERSION}"),
    "podman": re.compile(rf"podman version {_VERSION} \((root|rootless), runc\)"),
    "kubernetes": re.compile(rf"kubernetes ({_VERSION}) \(kubectl {_VERSION}\)"),
}


def _observation(data: EvidenceBundle, pid: str) -> JsonObject | None:
    return next((r.observation for r in data.probes if r.probe_id == pid), None)


def timed_out(data: EvidenceBundle) -> list[Check]:
    """A run attest killed at its timeout is no passing run, and it exits 124, never 0."""
    host = data.host
    if isinstance(host, msgspec.UnsetType):
        return []
    code = data.container_exit
    if not host.timed_out:
        return [Check("timed-out", Verdict.PASS, "the run ended before attest's timeout")]
    said = "" if code == KILLED_EXIT else f"; yet the run exited {code}, not the {KILLED_EXIT} of a killed run"
    return [Check("timed-out", Verdict.FAIL, f"attest records the run as killed at its timeout{said}")]


def harness_pid(data: EvidenceBundle) -> list[Check]:
    """The harness's own PID (``harness.pid``) is the one PR-PROC-1 saw it run as."""
    obs = _observation(data, "PR-PROC-1")
    if isinstance(data.harness, msgspec.UnsetType) or obs is None:
        return []
    startup = obs.get("startup")
    seen = {obs.get("harness"), startup.get("self") if isinstance(startup, dict) else None}
    pid = data.harness.pid
    return [
        check(
            "harness-pid",
            seen == {pid},
            f"the harness ran as PID {pid}, as PR-PROC-1 saw",
            f"the harness says it ran as PID {pid}, PR-PROC-1 saw {sorted(map(str, seen))}",
        )
    ]


def plan_file(data: EvidenceBundle, derived: Derived) -> list[Check]:
    """The plan file PR-IN-1 hashed in /in is, byte for byte, the plan this profile compiles to
    (its own digest cannot be in the plan: the verifier holds it against the compiled text)."""
    obs = _observation(data, "PR-IN-1")
    entries = obs.get("entries") if obs is not None else None
    if not data.container_started or not isinstance(entries, dict) or not derived.plan_file_sha256:
        return []
    entry = entries.get(PLAN_NAME)
    got = entry.get("sha256") if isinstance(entry, dict) else None
    return [
        check(
            "plan-file",
            got == derived.plan_file_sha256,
            "the plan file in /in is the one this profile compiles to",
            f"the plan file in /in hashes to {str(got)[:80]!r}, not the compiled plan's {derived.plan_file_sha256}",
        )
    ]


def runtime_version(data: EvidenceBundle) -> list[Check]:
    """The version string is shown beside the runtime in every report: it must be the form
    that runtime's client writes, and agree with what is recorded beside it."""
    text, form = data.runtime_version, VERSION_FORMS.get(data.runtime)
    m = form.fullmatch(text) if form is not None else None
    bad = None if m is not None else f"{text[:120]!r} is not how sandproof records {data.runtime}'s version"
    rootless = data.rootless
    if m is not None and data.runtime == "podman" and isinstance(rootless, bool) and (m[1] == "rootless") != rootless:
        bad = f"{text[:120]!r} contradicts the recorded rootless={data.rootless}"
    if m is not None and data.runtime == "kubernetes" and isinstance(data.kubernetes, dict):
        server = data.kubernetes.get("server_version")
        if isinstance(server, str) and server != m.group(1):
            bad = f"{text[:120]!r} names another server version than the recorded {server[:60]!r}"
    return [Check("runtime-version", Verdict.FAIL, bad)] if bad else []


def probe_time(data: EvidenceBundle) -> list[Check]:
    """The harness runs its probes one after another inside its own run: their durations add
    up to no more than the harness's (``timing`` holds that against the run's wall time)."""
    if isinstance(data.harness, msgspec.UnsetType):
        return []
    inside = [r.duration_ms for r in data.probes if r.probe_id not in OUTSIDE_PROBES]
    total, took = sum(inside), data.harness.duration_ms
    return [
        check(
            "probe-timing",
            total <= took + ROUNDING_MS * (len(inside) + 1),  # and the harness's own rounding
            "the probes ran within the harness's own time",
            f"the probes' durations add up to {total:.2f} ms, more than the harness's {took} ms",
        )
    ]


def profile_name(data: EvidenceBundle, profile: Profile) -> list[Check]:
    """The profile's digest covers its name (``Profile.digest``): a bundle that ran this
    profile by digest ran it under this name (the ``profile`` check compares the digests)."""
    ran = data.profile
    if ran.sha256 != profile.digest or ran.name == profile.name:
        return []
    why = f"the bundle names the profile it ran {ran.name[:80]!r}, but its digest is that of {profile.name!r}"
    return [Check("profile-name", Verdict.FAIL, why)]


def run_date(data: EvidenceBundle) -> list[Check]:
    """The run date the harness was started with (PID 1's ``--run-date``, as PR-PROC-1 saw it;
    the plan leaves it open) is the evidence's."""
    obs = _observation(data, "PR-PROC-1")
    startup = obs.get("startup") if obs is not None else None
    processes = startup.get("processes") if isinstance(startup, dict) else None
    one = processes.get("1") if isinstance(processes, dict) else None
    argv = one.get("cmdline") if isinstance(one, dict) else None
    if not isinstance(argv, list) or "--run-date" not in argv[:-1]:
        return []  # PR-PROC-1 judges an argv without it (not the profile's entrypoint)
    given = argv[argv.index("--run-date") + 1]
    if given == data.run_date:
        return []
    return [
        Check(
            "run-date-harness",
            Verdict.FAIL,
            f"the harness ran with --run-date {str(given)[:40]!r}, the evidence says {data.run_date!r}",
        )
    ]


DOCKER_ID_MOUNT = re.compile(r"^\S+ \S+ \S+ \S*/containers/([0-9a-f]{64})/hostname /etc/hostname ", re.MULTILINE)
"""moby mounts its per-container ``hostname`` file (``<data-root>/containers/<ID>/hostname``,
daemon/container_operations_unix.go) at /etc/hostname: the mount table names the container ID."""


def hostname(data: EvidenceBundle) -> list[Check]:
    """The sandbox's hostname is observed twice (PR-ENV-1 and PR-ETC-1, from uname): the two
    agree, and with what the runtime was told: runc's recorded OCI config ``hostname``, or
    Docker's default, the container ID's first 12 hex digits (moby daemon/container.go
    generateHostname) where the mount table names the ID and the profile names no hostname."""
    seen = {pid: obs.get("hostname") for pid in ("PR-ENV-1", "PR-ETC-1") if (obs := _observation(data, pid))}
    names = {v for v in seen.values() if isinstance(v, str)}
    bad = None
    if len(names) > 1:
        bad = "the sandbox's hostname is observed as " + ", ".join(f"{v!r} by {k}" for k, v in sorted(seen.items()))
    elif names:
        (name,) = names
        oci = data.oci_config.get("hostname") if isinstance(data.oci_config, dict) else None
        ids = set(DOCKER_ID_MOUNT.findall(data.raw.mountinfo)) if data.runtime == "docker" and data.raw else set()
        if isinstance(oci, str) and oci != name:
            bad = f"the sandbox's hostname is {name[:80]!r}, the recorded OCI config gives it {oci[:80]!r}"
        elif len(ids) == 1 and _plan_hostname(data) == HOSTNAME["docker"] and name != (cid := ids.pop())[:12]:
            bad = f"the sandbox's hostname is {name[:80]!r}, not {cid[:12]!r} of the container {cid} it ran in"
    return [Check("hostname", Verdict.FAIL, bad)] if bad else []


def _plan_hostname(data: EvidenceBundle) -> object:
    return next((r.expected.get("hostname") for r in data.probes if r.probe_id == "PR-ENV-1"), None)


def arch(data: EvidenceBundle) -> list[Check]:
    """The machine is recorded by the guard and by each seccomp probe (the syscall numbers the
    sweep called, the foreign ABIs tried): one machine, one name."""
    seen = {pid: obs.get("arch") for pid in ("PR-SECCOMP-SWEEP", "PR-SECCOMP-ABI") if (obs := _observation(data, pid))}
    if not isinstance(data.guard, msgspec.UnsetType) and isinstance(data.guard.arch, str):
        seen["the guard"] = data.guard.arch
    if len(set(map(str, seen.values()))) <= 1:
        return []
    said = ", ".join(f"{str(v)[:40]!r} by {k}" for k, v in sorted(seen.items()))
    return [Check("arch", Verdict.FAIL, f"the machine is recorded as {said}")]


def checks(data: EvidenceBundle, derived: Derived, profile: Profile) -> list[Check]:
    return [
        *timed_out(data),
        *harness_pid(data),
        *plan_file(data, derived),
        *runtime_version(data),
        *probe_time(data),
        *profile_name(data, profile),
        *run_date(data),
        *hostname(data),
        *arch(data),
    ]


__all__ = ["checks"]
