"""``attest``: build or reuse the image, run the harness in the sandbox, merge the
outside facts, verify, and write the bundles and report into the output directory."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandproof import atomic, cleanup, contract, evidence, image, outdir, plan, profilecheck
from sandproof import bundle as bundles
from sandproof.capture import printable
from sandproof.errors import BundleError, EngineError, Error, OutputError
from sandproof.inspector import judge
from sandproof.profile import Profile
from sandproof.report import markdown
from sandproof.runtime.docker import Docker
from sandproof.runtime.interface import NO_MUTATION, RUN_TIMEOUT_S, Mutation, RunRequest, RunResult, Runtime
from sandproof.runtime.runc import Runc
from sandproof.verify import Check, Report, verify

RUNTIMES: dict[str, Callable[[], Runtime]] = {"docker": Docker, "runc": Runc}


@dataclass(frozen=True)
class Attestation:
    report: Report
    evidence_path: Path
    inside_path: Path | None
    report_path: Path
    wall_s: float
    refused: str | None = None
    """The engine's own message when it refused the configuration (nothing ran): exit 2."""


def select_runtime(name: str) -> Runtime:
    if name == "auto":
        docker = Docker()
        if docker.available():
            return docker
        runc = Runc()
        if runc.available():
            return runc
        raise EngineError(
            "no container engine answers: neither a Docker daemon nor runc "
            "(install docker.io or runc, or start dockerd)"
        )
    runtime = RUNTIMES[name]()
    if not runtime.available():
        raise EngineError(
            f"runtime {name} does not answer on this machine"
            + (" (is dockerd running?)" if name == "docker" else " (apt-get install runc)")
        )
    return runtime


def check_run_date(value: str) -> str:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise Error(f"--run-date {value!r}: expected a date as YYYY-MM-DD") from None
    if len(value) != 10:
        raise Error(f"--run-date {value!r}: expected a date as YYYY-MM-DD")
    return value


def check_out_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".sandproof-write-test-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"--out {out}: not a writable directory ({exc.strerror})") from exc


def prepare_dirs(
    work: Path, claim: Profile, run: Profile, runtime: str, mutation: Mutation
) -> tuple[Path, outdir.Staging]:
    """The sandbox's /in (the packet and the plan, read-only) and its bounded /out, under ``work``."""
    in_dir = work / "in"
    in_dir.mkdir()
    (in_dir / contract.INPUT_PACKET[0]).write_bytes(contract.INPUT_PACKET[1])
    (in_dir / plan.PLAN_NAME).write_text(json.dumps(plan.build(claim, runtime), sort_keys=True) + "\n")
    for name, data in mutation.inputs:
        (in_dir / name).write_bytes(data)
    for f in in_dir.iterdir():
        f.chmod(0o444)
    in_dir.chmod(0o555)  # read-only input, as seed §2 makes it
    staging = outdir.create(
        work / "out",
        uid=run.user.uid,
        gid=run.user.gid,
        limit_bytes=run.filesystem.output_limit.bytes,
        limit_files=run.filesystem.output_files,
    )
    return in_dir, staging


def attest(
    profile: Profile,
    *,
    claim: Profile | None = None,
    runtime: str = "auto",
    out: Path,
    run_date: str,
    progress: Callable[[str], None] = lambda _: None,
    mutation: Mutation = NO_MUTATION,
    timeout_s: float = RUN_TIMEOUT_S,
) -> Attestation:
    """Run one attestation. ``claim`` is the profile judged against (default: the one run);
    a weakened sandbox is run with ``profile`` (and ``mutation``) and judged against ``claim``."""
    claim = claim or profile
    check_run_date(run_date)
    profilecheck.host(profile)  # bind sources: only the machine that runs the sandbox can say
    rt = select_runtime(runtime)
    version = rt.version()
    created = not out.exists()
    check_out_dir(out)
    try:
        return _attest(
            profile,
            claim,
            rt,
            version=version,
            out=out,
            run_date=run_date,
            progress=progress,
            mutation=mutation,
            timeout_s=timeout_s,
        )
    except Error:
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()  # only if still empty: leave no trace of a run that did not happen
        raise


def _attest(
    profile: Profile,
    claim: Profile,
    rt: Runtime,
    *,
    version: str,
    out: Path,
    run_date: str,
    progress: Callable[[str], None],
    mutation: Mutation,
    timeout_s: float,
) -> Attestation:
    progress(f"image: assembling {profile.image.name} (first build fetches pinned Debian packages)")
    img = image.build(profile)
    rt.prepare(img)
    progress(f"run: {rt.name} ({version}), image {img.image_id[:19]}")
    work = Path(tempfile.mkdtemp(prefix="sandproof-run-"))
    staging = None
    try:
        in_dir, staging = prepare_dirs(work, claim, profile, rt.name, mutation)
        if not staging.bounded:
            progress(f"warning: {profile.filesystem.output} is not bounded (mounting a tmpfs needs root)")
        request = RunRequest(profile, img, in_dir, staging.path, work, run_date, mutation, timeout_s)
        result = rt.run(request)
        found = evidence.read_inside(str(staging.path), result.stdout)
    finally:
        if staging is not None:
            outdir.remove(staging)
        cleanup.remove_tree(work)
    if result.timed_out:
        progress(f"timed out after {timeout_s:g}s: the container was killed and removed")
    inside = found.bundle
    bundle = evidence.merge(
        inside,
        found.channel,
        profile=profile,
        claim=claim,
        image=img,
        runtime=rt.name,
        runtime_version=version,
        result=result,
        run_date=run_date,
        output=staging.facts(),
        problem=found.problem,
    )
    ev_name = evidence.file_name(bundle["venue"], run_date)
    try:  # the inside part came from the sandbox: check its shape before judging it
        report = verify(bundles.from_mapping(bundle, ev_name), claim, source=ev_name)
    except BundleError as exc:
        report = Report(
            ev_name,
            evidence.SCHEMA,
            claim.name,
            "sandproof",
            bundle["venue"],
            checks=(Check("schema", judge.FAIL, exc.message),),
            profile_sha256=claim.digest,
            profile_source=claim.source,
        )
    if found.problem is not None:  # a bundle was there and was refused: say why, not just "no evidence"
        reason = f"the inside bundle was refused: {printable(found.problem)}"
        report = dataclasses.replace(report, checks=(Check("inside-bundle", judge.FAIL, reason), *report.checks))
    files = {ev_name: evidence.dumps(bundle), "report.md": markdown.render(report)}
    if inside is not None:
        files[evidence.INSIDE_NAME] = evidence.dumps(inside)
    else:
        # never leave an older run's bundle beside this one
        (out / evidence.INSIDE_NAME).unlink(missing_ok=True)
    atomic.publish(out, {name: text.encode() for name, text in files.items()}, what="--out")
    return Attestation(
        report,
        out / ev_name,
        out / evidence.INSIDE_NAME if inside else None,
        out / "report.md",
        result.wall_s,
        _refusal(result) if inside is None else None,
    )


def _refusal(result: RunResult) -> str | None:
    """The engine's own message, escaped, when it refused the configuration."""
    if not result.refused:
        return None
    lines = [printable(ln) for ln in result.stderr.text().splitlines() if ln.strip()]
    return "; ".join(lines[-3:])[:2000] or f"exit {result.exit_code} with no message"
