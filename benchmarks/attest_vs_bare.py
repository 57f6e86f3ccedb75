"""Wall time of `attest` (warm image) against a bare run of the same image and flags, on every
runtime installed here (Docker, runc, Podman, runsc), and the harness's own time inside.

The bare runs get what attest gives its runtime: the same input and output directories
(``attest.prepare_dirs``), the same ``docker run``/``podman run`` argv with the same client
environment, the same OCI bundle for runc and runsc (``render/runc.py``, runsc's flags from
``render/runsc.py``), and their exit code must be 0. Only the runtime's client is timed for
them; attest is timed whole, from the call to its return (engine checks, image check,
directories, run, cleanup, merge, verify, files written), and its verdict must be PASS (on
runsc: FAIL only where gVisor really differs, ``runtime_defaults.RUNSC_TRUE_FAILS``, and
UNVERIFIED only where it hides the fact, ``RUNSC_UNVERIFIED``).
Beside the ratio, each runtime's line gives sandproof's own time (attest's wall minus its
runtime client's) and its CPU per attest: steadier than the ratio while others share the
machine, and what the lead's quiet-machine ratio comes down to.

Bare runs and attests alternate, so drift on this shared machine hits both, and which of the
two goes first alternates too (every other pair starts with the attest): whichever run came
second always followed the first's cleanup, and the ratio must not depend on that order. Both
clients get the same stdin (``/dev/null``, as ``supervise`` gives attest's): an inherited one
is the container's own fd 0 under ``runc run``. Medians of N repetitions, and the ratio of each
interleaved pair (median, min, max): compare ratios from the same run, not absolute numbers
across runs. "the run itself" is attest's runtime client against the bare client of the same
pair: above 1.00x the run is longer under attest (its threads, its engine-view requests); the
rest of the gap is sandproof's own time before and after the client. The load average is
printed before and after.
Kubernetes has no bare run to compare with and needs a cluster: it is listed as not measured.

    .venv/bin/python benchmarks/attest_vs_bare.py [--reps N] [--runtimes docker runc podman runsc] [--cli]
        [--json FILE]   # the raw times, for `scripts/readme.py --speed FILE`
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandproof import attest, docs, image, outdir, plan, profile, runtime_defaults, verify
from sandproof.attest import RUNTIMES
from sandproof.inspector.wire import BUNDLE_NAME
from sandproof.render import docker, podman, runc
from sandproof.runtime import docker as docker_rt
from sandproof.runtime import podman as podman_rt
from sandproof.runtime import runc as runc_rt
from sandproof.runtime.docker import Docker
from sandproof.runtime.interface import NO_MUTATION, Seccomp
from sandproof.runtime.podman import Podman
from sandproof.runtime.runc import Runc
from sandproof.runtime.runsc import Runsc
from sandproof.weaken.core import replaced

RUN_DATE = "2026-11-28"
SETTLE_S = 0.3
"""A pause before each timed run: the engine still tidies up after a container it reported
removed, and whichever run came right after another paid for it (attest always followed a
bare run at once, a bare run followed attest's own work after its run)."""


BARE_HARNESS: list[float] = []
"""``harness.duration_ms`` of each bare run's inside bundle: the same probes as attest's,
so the same time inside unless something outside (attest's threads, its requests to the
engine) slows the sandbox down."""


def _bare_inside(staging: outdir.Staging) -> None:
    path = staging.path / BUNDLE_NAME
    if path.is_file():
        BARE_HARNESS.append(float(json.loads(path.read_bytes())["harness"]["duration_ms"]))


def _dirs(work: Path, prof: profile.Profile, runtime: str) -> tuple[Path, outdir.Staging]:
    return attest.prepare_dirs(work, plan.compiled(prof, runtime), prof, NO_MUTATION)


def bare_docker(prof: profile.Profile, img: image.Image) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-docker-"))
    in_dir, staging = _dirs(work, prof, "docker")
    try:
        sc = work / prof.seccomp.file_name
        sc.write_bytes(Seccomp.render(prof).text)
        argv = docker.argv(
            prof,
            in_dir=str(in_dir),
            out_dir=str(staging.path),
            seccomp_file=str(sc),
            run_date=RUN_DATE,
            image_ref=img.image_id,
        )
        (work / "docker-config").mkdir()
        env = {**docker.env(prof, dict(os.environ)), "DOCKER_CONFIG": str(work / "docker-config")}
        Docker().prepare(img)  # untimed, as attest's own check: other users of the engine swap the tag
        t0 = time.perf_counter()
        subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=True, env=env)
        return time.perf_counter() - t0
    finally:
        _bare_inside(staging)
        outdir.remove(staging)
        subprocess.run(["rm", "-rf", str(work)], check=True)


def bare_oci(prof: profile.Profile, rootfs: Path, runtime: str) -> float:
    """``runc run`` or ``runsc run`` of the bundle attest renders (runsc: the same config.json)."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-{runtime}-"))
    in_dir, staging = _dirs(work, prof, runtime)
    cid = f"bench-{uuid.uuid4().hex[:8]}"
    rt = Runsc() if runtime == "runsc" else Runc()
    try:
        policy = Seccomp.render(prof).policy
        cfg = runc.config(
            prof,
            in_dir=str(in_dir),
            out_dir=str(staging.path),
            run_date=RUN_DATE,
            container_id=cid,
            seccomp_policy=policy,
        )
        cfg["root"]["path"] = str(rootfs)
        bundle = work / "bundle"
        bundle.mkdir()
        (bundle / "config.json").write_bytes(runc.config_bytes(cfg))
        argv = rt.argv(prof, bundle, cid)
        t0 = time.perf_counter()
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=False)
        elapsed = time.perf_counter() - t0
        _check_exit(runtime, done)
        return elapsed
    finally:
        rt.remove_leftover(cid)  # what attest does after its run too
        _bare_inside(staging)
        outdir.remove(staging)
        subprocess.run(["rm", "-rf", str(work)], check=True)


def _check_exit(runtime: str, done: subprocess.CompletedProcess[bytes]) -> None:
    """Exit 0: every probe PASSed inside. On runsc the harness exits 1 for the probes gVisor
    really fails (inspector/harness.py: 1 unless all pass); its summary line must then show no
    ERROR and no more FAILs than ``RUNSC_TRUE_FAILS`` names."""
    if done.returncode == 0:
        return
    lines = done.stdout.splitlines()
    summary = json.loads(lines[-1]) if runtime == "runsc" and done.returncode == 1 and lines else {}
    known = len(runtime_defaults.RUNSC_TRUE_FAILS)
    if not (summary.get("error") == 0 and 0 < summary.get("fail", 0) <= known):
        raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)


def bare_podman(prof: profile.Profile, img: image.Image) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-podman-"))
    in_dir, staging = _dirs(work, prof, "podman")
    rt = Podman()
    try:
        sc = work / prof.seccomp.file_name
        sc.write_bytes(Seccomp.render(prof).text)
        argv = podman.argv(
            prof,
            engine=rt.engine(),
            in_dir=str(in_dir),
            out_dir=str(staging.path),
            seccomp_file=str(sc),
            run_date=RUN_DATE,
            image_ref=img.image_id,
        )
        rt.prepare(img)  # untimed, as attest's own check
        env = podman.env(prof, rt.env(dict(os.environ)))
        t0 = time.perf_counter()
        subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=True, env=env)
        return time.perf_counter() - t0
    finally:
        _bare_inside(staging)
        outdir.remove(staging)
        subprocess.run(["rm", "-rf", str(work)], check=True)


CLIENT: list[float] = []
"""Seconds each attest's runtime client ran (``supervise``: from its spawn to its exit). The
attest's wall minus this is sandproof's own time on the run's path, before and after the
client, and far steadier than the ratio on a shared machine: the container's run is not in it."""


def _timed_client() -> None:
    for module in (docker_rt, podman_rt, runc_rt):  # runsc runs through runc's module
        real = module.supervise

        def supervise(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return _real(*args, **kwargs)
            finally:
                CLIENT.append(time.perf_counter() - t0)

        module.supervise = supervise  # type: ignore[attr-defined] # measured, not changed


JUDGED: list[float] = []
"""Seconds attest spent writing the evidence text and in the verifier (strict read, schema,
verify) per run: the part of its time outside the run that the verifier's own speed decides."""


def _timed_judging() -> None:
    real = attest.judged  # measured, not changed

    def judged(
        bundle: dict[str, Any], claim: profile.Profile, ev_name: str, *, ahead: verify.Judged | None = None
    ) -> tuple[str, verify.Report]:
        t0 = time.perf_counter()
        try:
            return real(bundle, claim, ev_name, ahead=ahead)
        finally:
            JUDGED.append(time.perf_counter() - t0)

    attest.judged = judged  # measured, not changed


def _ran_as_designed(report: verify.Report, runtime: str) -> bool:
    """PASS; on runsc, FAIL only by the probes gVisor really fails, UNVERIFIED only where it hides
    the fact (``RUNSC_UNVERIFIED``; their reasons are the engine
    tests' business: a benchmark only needs the run to have been the one attest makes)."""
    if report.verdict == "PASS":
        return True
    if runtime != "runsc" or any(c.verdict != "PASS" for c in report.checks):
        return False
    failed = [p for p in report.probes if p.verdict != "PASS"]
    return all(
        (p.verdict == "FAIL" and p.probe_id in runtime_defaults.RUNSC_TRUE_FAILS)
        or (p.verdict == "UNVERIFIED" and p.probe_id in runtime_defaults.RUNSC_UNVERIFIED)
        for p in failed
    )


OWN_CPU: list[float] = []
"""CPU seconds of this process (all its threads) per attest: sandproof's own work, whatever
the machine's load; the runtime's processes are not in it."""


def attested(prof: profile.Profile, runtime: str, img: image.Image) -> tuple[float, float]:
    if runtime in ("docker", "podman"):
        RUNTIMES[runtime]().prepare(img)  # untimed, as for the bare run
    with tempfile.TemporaryDirectory() as tmp:
        c0 = time.process_time()
        t0 = time.perf_counter()
        result = attest.attest(prof, runtime=runtime, out=Path(tmp), run_date=RUN_DATE)
        elapsed = time.perf_counter() - t0
        OWN_CPU.append(time.process_time() - c0)
        assert _ran_as_designed(result.report, runtime), f"benchmark needs a sandbox that ran as designed ({runtime})"
        inside = json.loads((Path(tmp) / "sandbox-attestation-inside.json").read_text())
        return elapsed, float(inside["harness"]["duration_ms"])


def cli(runtime: str) -> float:
    """``sandproof attest`` as a user runs it: a fresh interpreter, its imports included."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "sandproof", "attest", "--runtime", runtime, "--out", tmp, "--run-date", RUN_DATE]
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)  # exit 1 on runsc: its documented FAILs
        return time.perf_counter() - t0


MEASURED = ("docker", "runc", "podman", "runsc")


def _answering() -> list[str]:
    return [name for name in MEASURED if RUNTIMES[name]().available()]


def _not_measured(runtimes: list[str]) -> dict[str, str]:
    why = {
        name: "not asked for (--runtimes)" if RUNTIMES[name]().available() else "not installed or not answering here"
        for name in MEASURED
        if name not in runtimes
    }
    k8s = RUNTIMES["kubernetes"]()
    why["kubernetes"] = (
        "a cluster answers, but a Job has no bare run to compare with"
        if k8s.available()
        else "no cluster here (`attest --runtime kubernetes` needs one, and none installs offline)"
    )
    return why


def _pair(rep: int, bare: Callable[[], float], attest_run: Callable[[], tuple[float, float]]) -> tuple[float, ...]:
    """One bare run and one attest, each after the same settle; every other pair starts with
    the attest, so neither side always follows the other's cleanup."""
    if rep % 2:
        time.sleep(SETTLE_S)
        wall, inside_ms = attest_run()
        time.sleep(SETTLE_S)
        return bare(), wall, inside_ms
    time.sleep(SETTLE_S)
    bare_s = bare()
    time.sleep(SETTLE_S)
    return (bare_s, *attest_run())


def _say(row: docs.SpeedRow, process: list[float]) -> None:
    runtime = row["runtime"]
    b, a = statistics.median(row["bare_s"]), statistics.median(row["attest_s"])
    j = statistics.median(JUDGED)
    print(f"{runtime:6}  attest minus bare {(a - b) * 1000:5.1f} ms, of which the verifier {j * 1000:5.1f} ms")
    itself = sorted(client / bare for client, bare in zip(CLIENT, row["bare_s"], strict=True))
    print(
        f"{'':6}  the run itself (attest's client / the bare client, median of pairs) "
        f"{statistics.median(itself):4.2f}x ({itself[0]:.2f}-{itself[-1]:.2f})"
    )
    if BARE_HARNESS:
        print(
            f"{'':6}  the harness inside: bare {statistics.median(BARE_HARNESS):5.1f} ms, "
            f"attest {statistics.median(row['harness_ms']):5.1f} ms (medians)"
        )
    own = sorted(w - c for w, c in zip(row["attest_s"], CLIENT, strict=True))
    cpu = statistics.median(OWN_CPU)
    print(
        f"{'':6}  sandproof's own time outside the runtime's client {statistics.median(own) * 1000:5.1f} ms "
        f"(min {own[0] * 1000:.1f}, max {own[-1] * 1000:.1f}); its CPU {cpu * 1000:5.1f} ms per attest"
    )
    if process:
        c = statistics.median(process)
        print(f"{'':6}  `sandproof attest` as a process {c * 1000:6.0f} ms   ratio {c / b:4.2f}x (imports too)")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--cli", action="store_true", help="also time `sandproof attest` as a process of its own")
    ap.add_argument("--runtimes", nargs="+", choices=MEASURED, help="default: every one that answers here")
    ap.add_argument("--json", type=Path, help="write the raw times here (for scripts/readme.py --speed)")
    args = ap.parse_args()
    runtimes: list[str] = args.runtimes or _answering()
    # the default profile under a tag of this benchmark's own: other users of a shared engine
    # load their builds under the default tag, and attest would then time a `docker load`
    prof = replaced(profile.load("default"), "image", name=f"sandproof/bench:{os.getpid()}")
    img = image.build(prof)
    image.ensure_docker(img)
    rootfs = image.rootfs(img)
    for runtime in runtimes:  # warm everything once: page cache, the engine, imports
        attested(prof, runtime, img)
    _timed_judging()
    _timed_client()
    bare_of = {
        "docker": lambda: bare_docker(prof, img),
        "runc": lambda: bare_oci(prof, rootfs, "runc"),
        "runsc": lambda: bare_oci(prof, rootfs, "runsc"),
        "podman": lambda: bare_podman(prof, img),
    }
    load_before = list(os.getloadavg())
    rows: list[docs.SpeedRow] = []
    for runtime in runtimes:
        JUDGED.clear()
        CLIENT.clear()
        BARE_HARNESS.clear()
        OWN_CPU.clear()
        row = docs.SpeedRow(runtime=runtime, bare_s=[], attest_s=[], harness_ms=[])
        process = []
        for rep in range(args.reps):
            bare_s, wall, inside_ms = _pair(rep, bare_of[runtime], functools.partial(attested, prof, runtime, img))
            row["bare_s"].append(bare_s)
            row["attest_s"].append(wall)
            row["harness_ms"].append(inside_ms)
            if args.cli:
                process.append(cli(runtime))
        rows.append(row)
        _say(row, process)
    run = docs.SpeedRun(
        rows=rows,
        load_before=load_before,
        load_after=list(os.getloadavg()),
        cpus=os.cpu_count() or 0,
        not_measured=_not_measured(runtimes),
    )
    print()
    print(docs.speed_table(run), end="")
    print(f"aim: ratio <= 1.05x (issue 10), harness inside <= 150 ms; image {img.image_id[:19]}")
    if args.json:
        args.json.write_text(json.dumps(run, indent=1) + "\n")
    subprocess.run(["docker", "image", "rm", prof.image.name], capture_output=True, check=False)  # the tag only
    subprocess.run(["podman", "image", "rm", prof.image.name], capture_output=True, check=False)


if __name__ == "__main__":
    main()
