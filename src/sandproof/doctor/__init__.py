"""``sandproof doctor``: lint a profile, or a repository layout, for every known sandbox pitfall.

Each rule has a stable ID (``SPDnnn``), a title, why it matters and the fix; one module per
family. A profile's ``[[waiver]]`` accepts a rule's findings with a reason: the finding is
still shown in every report, marked waived with that reason, and no longer fails the run.
Waivers are the doctor's alone: a verify FAIL is never waived.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from sandproof.doctor import image, limits, locate, mounts, namespaces, privileges, seccomp, workflow
from sandproof.doctor.core import Finding, Hit, Level, Result, Rule, SeccompFile, Workflow
from sandproof.errors import ProfileError

__all__ = ["RULES", "RULE_IDS", "Finding", "Level", "Result", "Rule", "run"]

RULES: tuple[Rule, ...] = (
    *seccomp.RULES,
    *mounts.RULES,
    *privileges.RULES,
    *limits.RULES,
    *namespaces.RULES,
    *image.RULES,
    *workflow.RULES,
)
RULE_IDS = tuple(r.id for r in RULES)
assert len(set(RULE_IDS)) == len(RULE_IDS), "rule IDs are stable and unique"

PROFILE_FILE = "sandproof-profile.toml"  # what `init` writes (render/workflow.PROFILE_FILE)
WORKFLOWS = ".github/workflows"


def _uri(path: str, base: str) -> str:
    """Relative to the directory linted (or the working directory): what code scanning
    resolves against the checkout; a file elsewhere by its absolute file: URI."""
    rel = os.path.relpath(path, base or os.getcwd())
    return Path(rel).as_posix() if not rel.startswith("..") else Path(os.path.abspath(path)).as_uri()


def _profile_file(source: str) -> str:
    """The file a profile came from (a shipped one's, inside the package)."""
    if source.startswith("shipped:"):
        return os.path.join(os.path.dirname(os.path.dirname(__file__)), "profiles", f"{source[8:]}.toml")
    return source


class _Collector:
    def __init__(self, base: str) -> None:
        self.base = base
        self.findings: list[Finding] = []
        self.files: list[str] = []
        self.seen: dict[tuple[str, str, str], int] = {}

    def add(self, rule: Rule, hits: Iterable[Hit], path: str, line_of: object = None) -> None:
        for h in hits:
            line = h.line or (locate.toml_line(line_of, h.key, h.token) if isinstance(line_of, str) else 1)
            uri = _uri(path, self.base)
            # the same thing found twice in one file (one expression in two steps): the second is
            # its own finding, with its own fingerprint
            n = self.seen[rule.id, uri, h.subject] = self.seen.get((rule.id, uri, h.subject), 0) + 1
            subject = h.subject if n == 1 else f"{h.subject} #{n}"
            self.findings.append(Finding(rule, h.message, subject, path, uri, line))


def _lint_profile(c: _Collector, ref: str) -> list[tuple[str, str]]:
    from sandproof import profile as profiles  # noqa: PLC0415 # the doctor's rules import it too
    from sandproof import seccomp as filters  # noqa: PLC0415

    prof = profiles.load(ref)
    path = _profile_file(prof.source)
    c.files.append(path)
    rendered = filters.policy(prof)
    virtual = SeccompFile(path, "", rendered)
    for rule in RULES:
        if rule.profile is not None:
            c.add(rule, rule.profile(prof), path, prof.text)
        if rule.seccomp is not None:  # on the JSON the profile renders, placed at its keys
            hits = [Hit(h.message, h.subject, h.key, h.token) for h in rule.seccomp(virtual)]
            c.add(rule, hits, path, prof.text)
    return [(w.rule, w.reason) for w in prof.waivers]


def _lint_seccomp_file(c: _Collector, path: str) -> None:
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProfileError(f"seccomp file {path}: not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"seccomp file {path}: expected a JSON object")
    c.files.append(path)
    f = SeccompFile(path, text, data)
    for rule in RULES:
        if rule.seccomp is not None:
            c.add(rule, rule.seccomp(f), path)


def _lint_workflow(c: _Collector, path: str) -> None:
    import yaml  # noqa: PLC0415 # only a workflow needs it

    text = Path(path).read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ProfileError(f"workflow {path}: not YAML: {exc}") from exc
    c.files.append(path)
    w = Workflow(path, text, root)
    for rule in RULES:
        if rule.workflow is not None:
            c.add(rule, rule.workflow(w), path)


def run(target: str) -> Result:
    """Lint a shipped profile (by name), a profile file, or a directory: its init layout's profile
    and seccomp JSON and every workflow under .github/workflows. ProfileError for bad input."""
    c = _Collector(target if os.path.isdir(target) else "")
    waivers: list[tuple[str, str]] = []
    if os.path.isdir(target):
        profile_path = os.path.join(target, PROFILE_FILE)
        if os.path.isfile(profile_path):
            waivers = _lint_profile(c, profile_path)
            from sandproof import profile as profiles  # noqa: PLC0415

            seccomp_path = str(profiles.load(profile_path).seccomp.path_in(target))
            if os.path.isfile(seccomp_path):
                _lint_seccomp_file(c, seccomp_path)
        flows = Path(target, WORKFLOWS)
        for p in sorted([*flows.glob("*.yml"), *flows.glob("*.yaml")]) if flows.is_dir() else []:
            _lint_workflow(c, str(p))
        if not c.files:
            raise ProfileError(f"{target}: no {PROFILE_FILE} and no workflow under {WORKFLOWS}: nothing to lint")
    else:
        waivers = _lint_profile(c, target)
    accepted: dict[str, str] = {}
    for rule, reason in waivers:  # two waivers of one rule: both reasons shown
        accepted[rule] = f"{accepted[rule]}; {reason}" if rule in accepted else reason
    findings = tuple(
        Finding(f.rule, f.message, f.subject, f.path, f.uri, f.line, accepted.get(f.rule.id)) for f in c.findings
    )
    hit = {f.rule.id for f in findings}
    unused = tuple((rule, reason) for rule, reason in waivers if rule not in hit)
    return Result(target, tuple(c.files), findings, RULES, unused)
