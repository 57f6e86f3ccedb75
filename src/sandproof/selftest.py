"""The mutation suite: run the sandbox once per single weakening of a profile and check
that the probe bound to the weakened claim FAILs and that the run still wrote its bundle.
A weakening no probe catches is a bug in the probes."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandproof import attest, hostlock, plan
from sandproof.inspector.wire import Verdict
from sandproof.profile import Profile
from sandproof.profile import load as load_profile
from sandproof.provenance import Cause
from sandproof.report import visible
from sandproof.verify import Report
from sandproof.weaken import WEAKENINGS, Weakening, unrun


@dataclass(frozen=True)
class Outcome:
    weakening: Weakening
    verdict: Verdict
    """The target probe's recomputed verdict."""
    reason: str
    failing: tuple[str, ...]
    """Every probe that FAILed in this run."""
    bundle_written: bool
    """The harness ran to the end and its bundle holds every planned probe."""
    wall_s: float
    no_effect: str | None = None
    """Why the weakening cannot change anything on this host (it still ran, to show it)."""
    started: bool = True
    """The weakened sandbox ran at all (an engine may refuse what this host cannot give)."""
    unweakened: tuple[Verdict, str] | None = None
    """The target's verdict and reason in the same run of the profile without the weakening;
    None where that was not measured."""
    unweakened_failing: tuple[str, ...] | None = None
    """Every probe that FAILed in that run without the weakening; None where not measured."""
    target_id: str = ""
    """The probe (or check) that must FAIL on this runtime (``Weakening.target``); the
    weakening's own ``probe_id`` when empty."""

    @property
    def aimed(self) -> str:
        return self.target_id or self.weakening.probe_id

    @property
    def beyond(self) -> tuple[str, ...]:
        """What FAILs weakened but not unweakened, beside the target: an effect, whatever the
        target says (review 15: runsc host-ipc, "no effect" though a 1777 /dev/shm FAILed three
        probes)."""
        if not self.started:  # nothing ran: every probe FAILs as missing, no effect of the weakening
            return ()
        before = set(self.unweakened_failing or ())
        return tuple(p for p in self.failing if p not in before and p != self.aimed)

    @property
    def caught(self) -> bool:
        """The target FAILs weakened, and PASSed without the weakening: a probe that FAILs either
        way shows nothing of the weakening (review 15: rootless podman, where the cgroup limits
        never apply, scored 5/5 on FAILs its unweakened run had too)."""
        shown = self.unweakened is None or self.unweakened[0] == Verdict.PASS
        return self.verdict == Verdict.FAIL and self.bundle_written and shown

    @property
    def settled(self) -> bool:
        """Caught, or shown to have no effect here (the target still PASSes)."""
        return self.caught or self.inert

    @property
    def inert(self) -> bool:
        """Said to have no effect here, and shown: the target still PASSes and nothing else FAILs
        that PASSed unweakened; or the engine refused the weakened sandbox, so nothing ran (every
        probe then FAILs as missing, which is no effect of the weakening)."""
        shown = self.no_effect is not None and shown_inert(self.verdict, self.started)
        return shown and not self.caught and not self.beyond


def shown_inert(target_verdict: Verdict, started: bool) -> bool:
    """A weakening with no effect here changed nothing: its probe still PASSes, or the engine
    refused to run the weakened sandbox at all (nothing weakened ever ran)."""
    return target_verdict == Verdict.PASS or not started


def target(report: Report, name: str) -> tuple[Verdict, str] | None:
    """The verdict and reason of a weakening's target: a probe, or a bundle-level check
    (``engine-view``); None when the report has neither (the bundle was refused first)."""
    for p in report.probes:
        if p.probe_id == name:
            return p.verdict, p.reason
    for c in report.checks:
        if c.name == name:
            return c.verdict, c.reason
    return None


def attempt(w: Weakening, profile: Profile, runtime: str, out: Path, run_date: str) -> attest.Attestation:
    """Run the sandbox weakened by ``w`` and judge it against ``profile``."""
    if w.base is not None:  # the claim only that profile makes
        profile = load_profile(w.base)
    # a host-wide weakening holds the host lock exclusively in its setup (weaken/hostkernel.py);
    # every other run holds it shared, so none flips the host under another selftest's run
    held = contextlib.nullcontext() if w.host_wide else hostlock.shared()
    with held, w.prepared(runtime) as mutation:
        return attest.attest(
            w.apply(profile), claim=profile, runtime=runtime, out=out, run_date=run_date, mutation=mutation
        )


def run(
    profile: Profile, runtime: str, *, only: list[str] | None = None, progress: Callable[[str], None] = lambda _: None
) -> list[Outcome]:
    # a weakening that cannot change anything here still runs: its target must then PASS ("settled")
    chosen = [w for w in WEAKENINGS if (not only or w.name in only) and runtime in w.runtimes]
    planned = len(plan.build(profile, runtime)["probes"])
    unweakened: dict[str | None, Report] = {}
    failed_before: dict[str | None, tuple[str, ...]] = {}
    outcomes = []
    for i, w in enumerate(chosen, 1):
        if w.base not in unweakened:  # the claim's own run first, once: what FAILs without any weakening
            progress(f"unweakened: {w.base or profile.name}, for the weakenings judged against it")
            unweakened[w.base] = _unweakened(profile if w.base is None else load_profile(w.base), runtime)
            failed_before[w.base] = tuple(p.probe_id for p in unweakened[w.base].probes if p.verdict == Verdict.FAIL)
        progress(f"[{i}/{len(chosen)}] {w.name}: {w.note}")
        with tempfile.TemporaryDirectory(prefix="sandproof-selftest-") as tmp:
            result = attempt(w, profile, runtime, Path(tmp), dt.date.today().isoformat())
            inside = result.inside_path is not None and result.inside_path.exists()
        aimed_id = w.target(runtime)
        aimed = target(result.report, aimed_id)
        if aimed is None:  # the bundle was refused before any probe was judged
            why = "; ".join(c.reason for c in result.report.checks if c.verdict != Verdict.PASS)
            refused = Outcome(w, Verdict.ERROR, why or "no verdict", (), False, result.wall_s, w.no_effect(runtime))
            outcomes.append(dataclasses.replace(refused, target_id=aimed_id))
            continue
        inside_probes = [p for p in result.report.probes if p.probe_id != "PR-DYNIMPORT"]
        written = inside and sum(p.cause is not Cause.MISSING for p in inside_probes) == planned
        failing = tuple(p.probe_id for p in result.report.probes if p.verdict == Verdict.FAIL)
        failing += tuple(c.name for c in result.report.checks if c.name == aimed_id and c.verdict == Verdict.FAIL)
        before = target(unweakened[w.base], aimed_id)
        effect = w.no_effect(runtime)
        got = Outcome(w, aimed[0], aimed[1], failing, written, result.wall_s, effect, inside, before)
        outcomes.append(dataclasses.replace(got, unweakened_failing=failed_before[w.base], target_id=aimed_id))
    return outcomes


def _unweakened(profile: Profile, runtime: str) -> Report:
    with contextlib.ExitStack() as stack:
        stack.enter_context(hostlock.shared())
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="sandproof-selftest-"))
        return attest.attest(profile, runtime=runtime, out=Path(tmp), run_date=dt.date.today().isoformat()).report


def render(outcomes: list[Outcome], runtime: str) -> str:
    rows = [("WEAKENING", "PROBE", "CAUGHT", "ALSO FAILED", "WHY")]
    for o in outcomes:
        others = ",".join(p for p in o.failing if p != o.aimed) or "-"
        why = o.reason if o.bundle_written else f"no complete bundle: {o.reason}"
        if o.no_effect is not None and not o.caught and o.beyond:
            why = f"said to have no effect here ({o.no_effect}), but {', '.join(o.beyond)} FAIL, which PASS unweakened"
        elif o.no_effect is not None and not o.caught:
            why = f"no effect here: {o.no_effect}"
        elif o.verdict == Verdict.FAIL and not o.caught and o.unweakened is not None:
            why = f"FAILs unweakened too, so this shows nothing: {o.unweakened[1]}"
        shown = "yes" if o.caught else "n/a" if o.settled else "NO"
        # a reason quotes what the sandbox recorded: shown, never sent (escapes, no workflow command)
        rows.append((o.weakening.name, o.aimed, shown, visible(others), visible(why)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r[:3])) + f"  {r[3]}  {r[4]}" for r in rows]
    caught = sum(o.caught for o in outcomes)
    # a weakening said to have no effect counts once something beyond the unweakened run FAILs
    counted = [o for o in outcomes if o.caught or o.no_effect is None or o.beyond]
    pct = 100 * caught // len(counted) if counted else 0
    lines.append(f"caught {caught}/{len(counted)} ({pct}%) single weakenings on {runtime}")
    inert = [o.weakening.name for o in outcomes if o not in counted]
    if inert:
        lines.append(f"no effect on this host: {', '.join(inert)}")
    skipped: dict[str, list[str]] = {}
    for w in WEAKENINGS:
        if runtime not in w.runtimes:
            skipped.setdefault(unrun(w, runtime), []).append(w.name)
    lines += [f"{why}: {', '.join(names)}" for why, names in skipped.items()]
    return "\n".join(lines) + "\n"
