"""``attest``: build or reuse the image, run the harness in the sandbox, merge the
outside facts, verify, and write the bundles and report into the output directory.

What only the steps after the run need (the evidence reader, the verifier, the report, the
compiled schemas) is imported and prepared in a thread while the container runs
(``_after_run``), not before the run nor after it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sandproof import atomic, contract, dirwatch, image, leftover, outdir, outfiles, plan, profilecheck, safedir
from sandproof import progress as steps
from sandproof.capture import printable
from sandproof.errors import BundleError, EngineError, Error, OutputError
from sandproof.inspector.wire import BUNDLE_NAME, Verdict
from sandproof.profile import Profile
from sandproof.runtime.interface import (
    NO_MUTATION,
    RUN_TIMEOUT_S,
    Mutation,
    RunRequest,
    RunResult,
    Runtime,
    Seccomp,
)

if TYPE_CHECKING:
    from sandproof.evidence import Inside
    from sandproof.report.markdown import Rows
    from sandproof.verify import Judged, Report
    from sandproof.workload.carried import Workload


T = TypeVar("T")


# each runtime's module imported when that runtime is asked for: a `sandproof attest` on runc
# loaded Docker's, Podman's and Kubernetes' clients and renderers too (~15-30 ms of imports)
def _docker() -> Runtime:
    from sandproof.runtime.docker import Docker

    return Docker()


def _runc() -> Runtime:
    from sandproof.runtime.runc import Runc

    return Runc()


def _runsc() -> Runtime:
    from sandproof.runtime.runsc import Runsc

    return Runsc()


def _podman() -> Runtime:
    from sandproof.runtime.podman import Podman

    return Podman()


def _kubernetes() -> Runtime:
    from sandproof.runtime.kubernetes import Kubernetes

    return Kubernetes()


RUNTIMES: dict[str, Callable[[], Runtime]] = {
    "docker": _docker,
    "runc": _runc,
    "runsc": _runsc,
    "podman": _podman,
    "kubernetes": _kubernetes,
}


@dataclass(frozen=True)
class Attestation:
    report: Report
    evidence_path: Path
    inside_path: Path | None
    report_path: Path
    wall_s: float
    refused: str | None = None
    """The engine's own message when it refused the configuration (nothing ran): exit 2."""


def select_runtime(name: str | Runtime) -> Runtime:
    if isinstance(name, Runtime):  # configured by the caller (kubernetes: context, namespace, image)
        if not name.available():
            raise EngineError(_unanswered(name))
        return name
    if name == "auto":
        docker = RUNTIMES["docker"]()
        if docker.available():
            return docker
        runc = RUNTIMES["runc"]()
        if runc.available():
            return runc
        raise EngineError(
            "no container engine answers: neither a Docker daemon nor runc "
            "(install docker.io or runc, or start dockerd)"
        )
    runtime = RUNTIMES[name]()
    if not runtime.available():
        raise EngineError(_unanswered(runtime))
    return runtime


def _unanswered(runtime: Runtime) -> str:
    if runtime.name == "kubernetes":
        from sandproof.runtime.kubernetes import no_cluster

        return no_cluster()
    if runtime.name == "docker":  # which socket, and why: DOCKER_HOST may point anywhere
        # the endpoint's value is never printed: a tcp:// or ssh:// DOCKER_HOST may carry credentials
        why = getattr(runtime, "unreachable", "") or (
            "`docker version` reached no engine" if shutil.which("docker") else "no docker CLI on PATH"
        )
        return (
            f"runtime docker does not answer ({why}); start dockerd, check DOCKER_HOST, or use --runtime runc "
            "or --runtime podman"
        )
    hint = {"runc": " (apt-get install runc)"}.get(runtime.name, "")
    return f"runtime {runtime.name} does not answer on this machine{hint}"


def check_run_date(value: str) -> str:
    """The date the evidence is named and dated by, as the verifier reads it back (``contract.date_ok``)."""
    if not contract.date_ok(value):
        raise Error(f"--run-date {value!r}: expected a date as YYYY-MM-DD")
    return value


def check_out_dir(out: Path) -> None:
    # review 19: --out through another user's directory or link; a file there, or /proc: said below
    with contextlib.suppress(safedir.Unreachable):
        safedir.check(out, "--out", create=True, sticky_ok=False)
    try:
        out.mkdir(parents=True, exist_ok=True)
        _write_test(out)
    except OSError as exc:
        why = "a file is there, not a directory" if out.exists() and not out.is_dir() else exc.strerror
        raise OutputError(
            f"--out {out}: not a writable directory ({why}); give a new directory or one attest wrote"
        ) from exc


def _write_test(out: Path) -> None:
    """Create a file in ``out`` and drop it. An unnamed one (``O_TMPFILE``, open(2)) where the
    filesystem makes them: no name enters the directory and none is unlinked after (an unlink
    took up to a few ms on this machine's busy ext4); else a named one, removed at once."""
    try:
        os.close(os.open(out, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        return
    except OSError as exc:  # EOPNOTSUPP: not on this filesystem; EISDIR: a kernel before 3.11
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR):
            raise
    fd, probe = tempfile.mkstemp(prefix=outfiles.WRITE_TEST_PREFIX, dir=out)
    os.close(fd)
    os.unlink(probe)


def prepare_dirs(work: Path, compiled: plan.Compiled, run: Profile, mutation: Mutation) -> tuple[Path, outdir.Staging]:
    """The sandbox's /in (the packet and the claim's plan, read-only) and its bounded /out, under ``work``."""
    in_dir = work / "in"
    in_dir.mkdir()
    (in_dir / contract.INPUT_PACKET[0]).write_bytes(contract.INPUT_PACKET[1])
    (in_dir / plan.PLAN_NAME).write_bytes(compiled.text)
    for name, data in mutation.inputs:
        (in_dir / name).write_bytes(data)
    for f in in_dir.iterdir():
        f.chmod(0o444)
    in_dir.chmod(0o555)  # read-only input, as seed §2 makes it
    staging = outdir.for_profile(work / "out", run)
    return in_dir, staging


def preflight(
    profile: Profile, runtime: str | Runtime, *, out: Path, run_date: str, force: bool
) -> tuple[Runtime, str, bool]:
    """Every refusal before anything is built, run or written, in one place for ``attest`` and
    the DaemonSet run (fleet.py), so both refuse alike: the runtime, its version, whether
    ``out`` is created here (removed again when the run fails)."""
    check_run_date(run_date)
    outfiles.check(out, force=force)
    profilecheck.host(profile)  # bind sources: only the machine that runs the sandbox can say
    rt = select_runtime(runtime)
    rt.check(profile)  # what this runtime cannot express on this host
    version = rt.version()
    created = not out.exists()
    check_out_dir(out)
    return rt, version, created


def attest(
    profile: Profile,
    *,
    claim: Profile | None = None,
    runtime: str | Runtime = "auto",
    out: Path,
    run_date: str,
    progress: Callable[[str], None] = lambda _: None,
    step: steps.Step = steps.quiet,
    mutation: Mutation = NO_MUTATION,
    timeout_s: float = RUN_TIMEOUT_S,
    force: bool = False,
) -> Attestation:
    """Run one attestation. ``claim`` is the profile judged against (default: the one run);
    a weakened sandbox is run with ``profile`` (and ``mutation``) and judged against ``claim``.
    ``out`` may hold only attest's own earlier files (replaced), or others too with ``force``."""
    claim = claim or profile
    rt, version, created = preflight(profile, runtime, out=out, run_date=run_date, force=force)
    with no_trace_on_error(out, created=created):
        img, workload = _image(profile, progress, step)
        # held from the load until the attest ends: another build loaded under the same tag
        # meanwhile (another sandproof, another profile) leaves this one in the engine
        with image.in_use(img.image_id), _harness_held(workload):
            return _attest(
                profile,
                claim,
                rt,
                img,
                workload,
                version=version,
                out=out,
                run_date=run_date,
                progress=progress,
                step=step,
                mutation=mutation,
                timeout_s=timeout_s,
            )


@contextlib.contextmanager
def no_trace_on_error(out: Path, *, created: bool) -> Iterator[None]:
    """An ``--out`` that preflight created is removed again when the run fails with an error
    (only if still empty: leave no trace of a run that did not happen)."""
    try:
        yield
    except Error:
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise


def _attest(
    profile: Profile,
    claim: Profile,
    rt: Runtime,
    img: image.Image,
    workload: Workload | None,
    *,
    version: str,
    out: Path,
    run_date: str,
    progress: Callable[[str], None],
    step: steps.Step,
    mutation: Mutation,
    timeout_s: float,
) -> Attestation:
    with step(f"image: handing it to {rt.name}"):
        rt.prepare(img)
    progress(f"run: {rt.name} ({version}), image {img.image_id[:19]}")
    # derived once for the whole run and passed down: the plan the harness reads, the
    # evidence names and the report is judged by; the seccomp policy the engine loads
    compiled = plan.compiled(claim, rt.name, workload)
    policy = Seccomp.render(profile)
    work = leftover.scratch("sandproof-run-", reaping=False)  # what killed runs left: reaped in _Alongside
    staging = None
    tidy = None
    alongside = None
    try:
        in_dir, staging = prepare_dirs(work, compiled, profile, mutation)
        if not staging.bounded:
            progress(f"warning: {profile.filesystem.output} is not bounded (mounting a tmpfs needs root)")
        alongside = _Alongside(str(staging.path), claim, rt.name, workload)
        request = RunRequest(
            profile, img, in_dir, staging.path, work, run_date, mutation, timeout_s, policy, alongside.start, workload
        )
        with step(f"run: the probes in the sandbox ({rt.name}, killed after {timeout_s:g}s)"):
            result = rt.run(request)
        from sandproof import evidence  # imported in _after_run while the run went on, or here

        raw = evidence.fetch_inside(str(staging.path))
        tidy = _Tidy(staging, work)  # /out detached (a few ms in the kernel) while the bundle is read and judged
        static = alongside.after_run.result()
        early = alongside.ahead.result(raw)
    finally:
        if tidy is None:  # the run or the read failed: all of it removed before the error goes on
            if alongside is not None:
                alongside.close()
            _remove_scratch(staging, work)
    try:
        found = early.found if early is not None else evidence.inside_of(raw, result.stdout)
        if result.timed_out:
            progress(f"timed out after {timeout_s:g}s: the container was killed and removed")
        inside = found.bundle
        with step("verify: recomputing every verdict"):
            bundle = evidence.merge(
                inside,
                found.channel,
                profile=profile,
                claim=claim,
                image=img,
                runtime=rt.name,
                runtime_version=version,
                expected=compiled,
                seccomp_sha256=policy.sha256,
                result=result,
                run_date=run_date,
                output=staging.facts(),
                problem=found.problem,
                static=static,
                workload=workload,
            )
            ev_name = evidence.file_name(bundle["venue"], run_date)
            ev_text, report = judged(bundle, claim, ev_name, ahead=early.judged if early is not None else None)
            report = _refused_inside(report, found.problem)
        from sandproof.report import markdown

        table = early.rows if early is not None else None
        files = {ev_name: ev_text, outfiles.REPORT_NAME: markdown.render(report, ahead=table)}
        if inside is not None:
            files[evidence.INSIDE_NAME] = early.text if early is not None else evidence.dumps(inside)
        atomic.publish(out, {name: text.encode() for name, text in files.items()}, what="--out")
        # then no earlier run's file stays beside this one's (an inside bundle when this run has none)
        outfiles.clear(out, keep=frozenset(files))
    finally:
        # attest neither returns nor raises before the scratch space is gone; the files, whole
        # (staged, then renamed), are written meanwhile: the kernel's detach of /out outlasts
        # the judging by ~1 ms (an RCU grace period after the container's mount namespace)
        alongside.close()
        tidy.wait()
    return Attestation(
        report,
        out / ev_name,
        out / evidence.INSIDE_NAME if inside else None,
        out / outfiles.REPORT_NAME,
        result.wall_s,
        _refusal(result) if inside is None else None,
    )


def _refused_inside(report: Report, problem: str | None) -> Report:
    """A bundle that was there and was refused: the report says why, not just "no evidence"."""
    if problem is None:
        return report
    from sandproof.verify import Check

    reason = f"the inside bundle was refused: {printable(problem)}"
    return dataclasses.replace(report, checks=(Check("inside-bundle", Verdict.FAIL, reason), *report.checks))


def _harness_held(workload: Workload | None) -> contextlib.AbstractContextManager[None]:
    """The harness tree a user's image gets, held as its image is (``image.in_use``): ``cache
    prune`` removed one a running container had mounted (review 18)."""
    if workload is None:
        return contextlib.nullcontext()
    from sandproof.workload import harness_mount

    return image.in_use(harness_mount.lock_key(Path(workload.harness_tree).name))


def _image(profile: Profile, progress: Callable[[str], None], step: steps.Step) -> tuple[image.Image, Workload | None]:
    """The image the sandbox runs: ours, assembled; or the user's, the harness carried in (issue 11)."""
    if profile.image.workload:
        from sandproof.workload import harness_mount

        progress(f"image: {profile.image.workload}, the harness carried in at {harness_mount.MOUNT_POINT}")
        with step(f"image: reading {profile.image.workload}"):
            return harness_mount.workload(profile.image.workload)
    progress(f"image: {profile.image.name}, assembled from pinned Debian packages (fetched once, then cached)")
    with step(f"image: assembling {profile.image.name}"):
        return image.build(profile), None


def judged(bundle: dict[str, Any], claim: Profile, ev_name: str, *, ahead: Judged | None = None) -> tuple[str, Report]:
    """The evidence file's text, and its report: the very bytes written, read as ``verify``
    reads the file (strict JSON, then the schema). They were a stdlib re-encoding before,
    which the strict reader's canonical fast path never matched: ~6 ms of every attest after
    the run went to its slow path."""
    from sandproof import bundle as bundles
    from sandproof import evidence
    from sandproof.verify import Check, Report, verify

    text = evidence.dumps(bundle)
    try:  # the inside part came from the sandbox: check its shape before judging it
        return text, verify(bundles.decode(text.encode(), ev_name), claim, source=ev_name, ahead=ahead)
    except BundleError as exc:
        return text, Report(
            ev_name,
            evidence.SCHEMA,
            claim.name,
            "sandproof",
            bundle["venue"],
            checks=(Check("schema", Verdict.FAIL, exc.message),),
            profile_sha256=claim.digest,
            profile_source=claim.source,
        )


def _after_run(claim: Profile | None = None, runtime: str = "", workload: Workload | None = None) -> dict[str, Any]:
    """What the steps after the run need and the run does not. In a fresh ``sandproof attest``
    process that is the imports of the evidence reader, the verifier and the report and the
    schemas' compilation (fastjsonschema), ~0.2 s paid after the run before, and the claim's
    expectations the verifier derives; the build-time record PR-DYNIMPORT (a hash of the
    inspector's files) in every run."""
    from sandproof import bundle, evidence, verify
    from sandproof.report import markdown  # noqa: F401 - imported for the steps after the run

    if claim is not None:
        verify.prepare(claim, runtime, workload)

    for schema in (evidence.INSIDE_SCHEMA, evidence.SCHEMA):
        with contextlib.suppress(BundleError):  # an empty document: only its schema is compiled
            bundle.validate({"schema": schema}, "warm-up")
    return evidence.static_record()


def _remove_scratch(staging: outdir.Staging | None, work: Path) -> None:
    if staging is not None:
        outdir.remove(staging)
    leftover.remove(work)


class _Tidy:
    """The run's scratch space (its /in, /out and bundle) removed in a thread while the
    evidence is read, merged, verified, rendered and written: the removal waits on the kernel
    (the tmpfs's umount, 5-8 ms after a runc run here: its namespace's RCU grace period; each
    rmdir and unlink on a busy disk), the rest on the CPU. ``wait`` joins it and raises what
    it raised."""

    def __init__(self, staging: outdir.Staging, work: Path) -> None:
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(staging, work), name="sandproof-tidy", daemon=True)
        self._thread.start()

    def _run(self, staging: outdir.Staging, work: Path) -> None:
        try:
            _remove_scratch(staging, work)
        except BaseException as exc:  # raised again in the main thread, by wait
            self._error.append(exc)

    def wait(self) -> None:
        self._thread.join()
        if self._error:
            raise self._error[0]


class _Meanwhile(Generic[T]):
    """``work`` in a thread, started when the runtime's client runs: the main thread then
    only waits (select on a pidfd) and the pumps copy pipes, so it takes nothing from the
    run's critical path."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._work = work
        self._box: list[T] = []
        self._thread = threading.Thread(target=self._run, name="sandproof-meanwhile", daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(Exception):  # the main thread does the same again and reports there
            self._box.append(self._work())

    def start(self) -> None:
        self._thread.start()

    def result(self) -> T | None:
        """Its result, waited for; None if it failed or never started (the run did not)."""
        if self._thread.ident is not None:
            self._thread.join()
        return self._box[0] if self._box else None

    def done(self) -> T | None:
        """Its result, waited for; the work done here when it never started (a runtime that
        refused before its client ran still gets it done)."""
        if self._thread.ident is None:
            self._run()
        return self.result()


@dataclass(frozen=True)
class _Early:
    raw: bytes
    """The inside bundle's file as read on its arrival."""
    found: Inside
    text: str
    """Its text as attest writes it beside the evidence."""
    judged: Judged | None
    """Its probes judged as they will be in the merged evidence (``verify.judge_ahead``)."""
    rows: Rows | None
    """Their rows of report.md (``markdown.rows``)."""


class _Ahead:
    """The steps after the run that need only the harness's bundle, taken in a thread while
    the engine still tears the sandbox down: ~11 ms pass between the harness's rename into
    /out and runc's client exiting (``dirwatch``), and these steps took ~3 ms after it. The
    bundle is read on its arrival (as after the run: bounded, never through a link), checked,
    written out as text, and its probes judged for the evidence it will be merged into.
    ``result`` hands that over only when the bytes read after the run are these very bytes:
    a sandbox that rewrites its bundle after the rename gets the whole work done again on
    what it left. Without inotify nothing is read early."""

    def __init__(
        self,
        out_dir: str,
        after_run: _Meanwhile[dict[str, Any]],
        claim: Profile,
        runtime: str,
        workload: Workload | None,
    ) -> None:
        self._out_dir = out_dir
        self._after_run = after_run
        self._judge = (claim, runtime, workload)
        self._box: list[_Early] = []
        self._thread = threading.Thread(target=self._run, name="sandproof-ahead", daemon=True)
        try:
            self._arrival: dirwatch.Arrival | None = dirwatch.Arrival(out_dir, BUNDLE_NAME)
        except OSError:
            self._arrival = None

    def start(self) -> None:
        if self._arrival is not None:
            self._thread.start()

    def _run(self) -> None:
        assert self._arrival is not None
        with contextlib.suppress(Exception):  # the main thread does the same again and reports there
            if not self._arrival.wait():
                return
            from sandproof import bundle, evidence, model, verify
            from sandproof.report import markdown

            raw = evidence.fetch_inside(self._out_dir)
            static = self._after_run.result()
            if not isinstance(raw, bytes) or static is None:
                return
            found = evidence.file_inside(raw)
            if found.bundle is None:
                return
            claim, runtime, workload = self._judge
            typed = bundle.typed(found.bundle, BUNDLE_NAME)
            judged = rows = None
            if isinstance(typed, model.InsideBundle):
                judged = verify.judge_ahead(typed, model.record(static), claim, runtime, workload)
                rows = markdown.rows(judged.probes)
            self._box.append(_Early(raw, found, evidence.dumps(found.bundle), judged, rows))

    def result(self, raw: bytes | str | None) -> _Early | None:
        """The work done ahead, when it was done on ``raw`` (the bytes read after the run)."""
        self._stop()
        early = self._box[0] if self._box else None
        return early if early is not None and early.raw == raw else None

    def _stop(self) -> None:
        if self._arrival is not None:
            self._arrival.stop()
        if self._thread.ident is not None:
            self._thread.join()

    def close(self) -> None:
        """Stop waiting and let go of the watch (again: nothing more)."""
        self._stop()
        if self._arrival is not None:
            self._arrival.close()
            self._arrival = None


class _Alongside:
    """What runs beside the container, each in a thread started when the runtime's client
    runs: the imports and derivations the steps after the run need (``_after_run``); what
    killed runs left removed (``leftover.reap``: ~0.6 ms of listing the temporary directory
    before the run, more with a dead run's sandbox to stop); and the steps that need only the
    harness's bundle, once it is there (``_Ahead``)."""

    def __init__(self, out_dir: str, claim: Profile, runtime: str, workload: Workload | None) -> None:
        self.after_run = _Meanwhile(functools.partial(_after_run, claim, runtime, workload))
        self.ahead = _Ahead(out_dir, self.after_run, claim, runtime, workload)
        self._reaped = _Meanwhile(leftover.reap)

    def start(self) -> None:
        self.after_run.start()
        self.ahead.start()
        self._reaped.start()

    def close(self) -> None:
        """Each of them ended and waited for."""
        self.ahead.close()
        self._reaped.done()  # killed runs' leftovers go even when this run's client never started
        self.after_run.result()


def _refusal(result: RunResult) -> str | None:
    """The engine's own message, escaped, when it refused the configuration."""
    if not result.refused:
        return None
    lines = [printable(ln) for ln in result.stderr.text().splitlines() if ln.strip()]
    return "; ".join(lines[-3:])[:2000] or f"exit {result.exit_code} with no message"
