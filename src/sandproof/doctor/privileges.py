"""Privilege rules: no capability, no privileged mode, no way to gain privileges, no root."""

from __future__ import annotations

from collections.abc import Iterator

from sandproof.doctor.core import Hit, Level, Rule
from sandproof.profile import Profile


def capabilities(p: Profile) -> Iterator[Hit]:
    sec = p.security
    for cap in sec.capabilities:
        yield Hit(f"capability {cap} is added", cap, "security.capabilities", cap)
    if not sec.cap_drop_all:
        yield Hit(
            "the engine's default capability set is kept (cap_drop_all = false): 14 capabilities on Docker",
            "engine defaults",
            "security.cap_drop_all",
        )


def privileged(p: Profile) -> Iterator[Hit]:
    if p.security.privileged:
        yield Hit(
            "privileged mode: every capability and device, no seccomp, no AppArmor, /sys and /proc writable",
            "privileged",
            "security.privileged",
        )


def new_privileges(p: Profile) -> Iterator[Hit]:
    if not p.security.no_new_privileges:
        yield Hit(
            "no_new_privileges is off: a setuid or file-capability binary raises the process's privileges",
            "no_new_privileges",
            "security.no_new_privileges",
        )


def root(p: Profile) -> Iterator[Hit]:
    if p.user.uid == 0:
        yield Hit("the sandbox runs as uid 0 (root)", "uid 0", "user.uid")


RULES = (
    Rule(
        "SPD020",
        "Capabilities added",
        "Each capability is a kernel privilege check the workload passes (CAP_SYS_ADMIN alone opens mount, "
        "bpf and namespaces); deny-by-default starts from none.",
        "security.capabilities = [] and cap_drop_all = true; add one only with a written reason.",
        Level.ERROR,
        profile=capabilities,
    ),
    Rule(
        "SPD021",
        "Privileged container",
        "--privileged turns off every other layer: all capabilities, all devices, no seccomp or AppArmor.",
        "security.privileged = false.",
        Level.ERROR,
        profile=privileged,
    ),
    Rule(
        "SPD022",
        "no-new-privileges off",
        "Without PR_SET_NO_NEW_PRIVS, execve of a setuid binary or one with file capabilities gains them.",
        "security.no_new_privileges = true.",
        Level.ERROR,
        profile=new_privileges,
    ),
    Rule(
        "SPD023",
        "Runs as root",
        "uid 0 owns the image's files and is uid 0 on the host wherever a namespace or mount is shared.",
        "[user] uid = 65532, gid = 65532 (or any unprivileged ids).",
        Level.WARNING,
        profile=root,
    ),
)
