"""Render the profile's runtime seccomp policy as Docker/OCI seccomp JSON.

Docker's ``--security-opt seccomp=FILE`` and the OCI ``linux.seccomp`` object share
this shape. runc ignores syscall names it does not know, so every name is checked
against the inspector's table first rather than trusted to take effect.
"""

from __future__ import annotations

import errno
import hashlib
import json
from typing import Any

from sandproof.errors import ProfileError
from sandproof.inspector import syscalls
from sandproof.profile import Profile

DEFAULT_ACTIONS = {"allow": "SCMP_ACT_ALLOW"}  # a deny list; an allow list (default errno) is a later profile kind

# include/uapi/linux/sched.h, in the one table module the inspector shares
CLONE_NAMESPACE_FLAGS = syscalls.CLONE_NAMESPACE_FLAGS


def errno_number(name: str) -> int:
    value = getattr(errno, name, None)
    if not isinstance(value, int):
        raise ProfileError(f"seccomp: unknown errno name {name!r}")
    return value


def policy(profile: Profile) -> dict[str, Any]:
    sc = profile.seccomp
    rules: list[dict[str, Any]] = []
    for rule in sc.rules:
        # the loader checked this (profilecheck); a profile changed in code is checked again
        unknown = [n for n in rule.names if not any(syscalls.exists(n, a) for a in sc.architectures)]
        if unknown:
            raise ProfileError(
                f"profile {profile.source}: seccomp.rules names syscalls sandproof does not know: {unknown} "
                "(runc would silently ignore them)"
            )
        rules.append({"names": list(rule.names), "action": "SCMP_ACT_ERRNO", "errnoRet": errno_number(rule.errno)})
    if sc.deny_clone_namespaces:
        # One rule per flag: several conditions on one argument are AND-ed by libseccomp
        # and split unpredictably by runc, so each flag gets its own masked-equal test.
        for bit in CLONE_NAMESPACE_FLAGS.values():
            rules.append(
                {
                    "names": ["clone"],
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": errno.EPERM,
                    "args": [{"index": 0, "value": bit, "valueTwo": bit, "op": "SCMP_CMP_MASKED_EQ"}],
                }
            )
    return {
        "defaultAction": DEFAULT_ACTIONS[sc.default_action],
        "architectures": [syscalls.SCMP_ARCH[a] for a in sc.architectures],
        "syscalls": rules,
    }


def dump(rendered: dict[str, Any]) -> bytes:
    return (json.dumps(rendered, indent=2) + "\n").encode()


def render(profile: Profile) -> bytes:
    """The exact bytes written to disk and hashed into the evidence."""
    return dump(policy(profile))


def sha256(profile: Profile) -> str:
    return hashlib.sha256(render(profile)).hexdigest()
