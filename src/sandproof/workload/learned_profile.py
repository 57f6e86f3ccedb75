"""The profile ``learn`` writes: the base profile's text with its ``[seccomp]`` table
replaced by a default-deny allowlist, each name commented with the runs that needed it.

It loads as any profile (``default_action = "errno"``, ``default_errno``, ``[seccomp.allow]``,
profile.py) and the renderer adds what runc's init and sandproof's harness need on top
(``runtime_defaults.SECCOMP_RUNTIME_FLOOR``, ``SECCOMP_HARNESS_FLOOR``), so ``attest`` runs
the harness under the very filter the workload gets. Every other table is the base
profile's, byte for byte, so its sandbox is unchanged. The base's ``[[waiver]]`` entries are
not copied: each accepted a doctor finding of the base's filter (default's SPD004 waiver was
one), which the learned allowlist does not have; copied, they would show as unused, or hide
a finding the allowlist really has.
"""

from __future__ import annotations

import json
import re

from sandproof.profile import Profile
from sandproof.workload.learn import Learned

ALLOW_ERRNO = "EPERM"
"""What a call outside the list gets. EPERM, not KILL: a denied call is then a visible
error in the workload's output and its receipt, not a silent SIGSYS."""


def _runs(which: list[int], total: int) -> str:
    if len(which) == total:
        return "all runs" if total > 1 else "run 1"
    return ("run " if len(which) == 1 else "runs ") + ", ".join(map(str, which))


def seccomp_table(profile: Profile, learned: Learned) -> str:
    total = len(learned.runs)
    allow = learned.allow()
    floor = learned.runtime_only()
    width = max((len(n) for n in allow), default=0) + 4  # quotes, comma, one space
    lines = [
        "[seccomp]",
        f'file_name = "seccomp-learned-{learned.image_id.split(":")[-1][:12]}.json"',
        f"# learned by `sandproof learn` from {total} run(s) of {json.dumps(list(learned.command))}",
        f"# in image {learned.image_id}; {len(allow)} names allowed, everything else {ALLOW_ERRNO}.",
        "# The filter also lets through what runc's init and sandproof's harness need (the floors",
        "# in sandproof's runtime_defaults.py), so `sandproof attest` checks this very filter.",
        'default_action = "errno"',
        f'default_errno = "{ALLOW_ERRNO}"',
        f'architectures = ["{learned.arch}"]',
        f"deny_clone_namespaces = {str(profile.seccomp.deny_clone_namespaces).lower()}",
        "# the base profile's own denials, kept with their errno (clone3 must stay ENOSYS: moby#42681)",
        "rules = [",
    ]
    for rule in profile.seccomp.rules:
        names = ", ".join(json.dumps(n) for n in rule.names)
        lines.append(f'  {{ errno = "{rule.errno}", names = [{names}] }},')
    lines += ["]", "", "[seccomp.allow]", f"{learned.arch} = ["]
    for name, which in allow.items():
        why = _runs(which, total) + ("; runc's init after its filter, before the exec" if name in floor else "")
        lines.append(f"  {json.dumps(name) + ',':<{width}}# {why}")
    lines.append("]")
    if learned.denied:
        lines.append(
            f"# tried but denied by the base profile's rules (left denied): {', '.join(sorted(learned.denied))}"
        )
    if learned.refused:
        # an allowlist base refused these in the traced runs: never learned into an allow
        lines += [
            "# tried but denied by the base profile's default action (outside its allowlist; left denied,",
            "# add a name to the list above by hand only if the workload must have it):",
            f"# {', '.join(sorted(learned.refused))}",
        ]
    return "\n".join(lines) + "\n\n"


_NAME = r"\s*(?P<{}>[^\[\]\s#]+)\s*"
_HEADER = re.compile(rf"^(?:\[\[{_NAME.format('array')}\]\]|\[{_NAME.format('table')}\])\s*(?:#.*)?$")
"""A ``[table]`` or ``[[array-of-tables]]`` header (an optional comment after it)."""
REPLACED = "seccomp"
DROPPED = ("waiver", "seccomp.allow")
"""Left out: the waivers, and a base allowlist's own list (the learned one replaces it)."""


def _drop_comment_above(out: list[str]) -> None:
    """The comment block right above a dropped header is that header's."""
    while out and out[-1].lstrip().startswith("#"):
        out.pop()


def render(profile: Profile, learned: Learned, name: str) -> str:
    """The base profile's text with its top-level ``name`` and ``[seccomp]`` replaced and
    its ``[[waiver]]`` entries left out."""
    out = [
        f"# Written by `sandproof learn` from profile {profile.source}: every table is that profile's as it",
        "# was except the seccomp table, the learned default-deny allowlist; its doctor waivers are not copied.",
    ]
    table: str | None = None  # None: the top level, before any [table]
    for line in profile.text.splitlines():
        header = _HEADER.match(line)
        if header is not None:
            table = header["array"] or header["table"]
            if table == REPLACED:
                out.append(seccomp_table(profile, learned).rstrip("\n") + "\n")
                continue
            if table in DROPPED:
                _drop_comment_above(out)
        if table == REPLACED or table in DROPPED:
            continue
        out.append(f"name = {json.dumps(name)}" if table is None and line.startswith("name = ") else line)
    return "\n".join(out).rstrip("\n") + "\n"
