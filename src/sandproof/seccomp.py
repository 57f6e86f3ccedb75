"""Render the profile's runtime seccomp policy as Docker/OCI seccomp JSON.

Docker's ``--security-opt seccomp=FILE`` and the OCI ``linux.seccomp`` object share
this shape. runc ignores syscall names it does not know, so every name is checked
against the inspector's table first rather than trusted to take effect.

Two kinds: a deny list (default allow, ``rules`` answer their errno) and an allowlist
(default errno: one allow rule naming exactly the profile's list plus the runtime's and
the harness's floors, ``runtime_defaults``). In an allowlist a rule that acts as the default
action is left out: runc skips it silently (libcontainer/seccomp/seccomp_linux.go
matchCall: "This rule is redundant, silently skip it"), so it would never be in the filter
the JSON claims to describe.
"""

from __future__ import annotations

import errno
import hashlib
import json
from typing import Any

import orjson

from sandproof import runtime_defaults
from sandproof.errors import ProfileError
from sandproof.inspector import syscalls
from sandproof.profile import Profile

DEFAULT_ACTIONS = {"allow": "SCMP_ACT_ALLOW", "errno": "SCMP_ACT_ERRNO"}

# include/uapi/linux/sched.h, in the one table module the inspector shares
CLONE_NAMESPACE_FLAGS = syscalls.CLONE_NAMESPACE_FLAGS


def errno_number(name: str) -> int:
    value = getattr(errno, name, None)
    if not isinstance(value, int):
        raise ProfileError(f"seccomp: unknown errno name {name!r}")
    return value


def allowed(profile: Profile, arch: str) -> frozenset[str]:
    """What an allowlist lets through on ``arch``: the profile's list and both floors, where the
    name exists on ``arch``, less what a rule of the profile denies; empty for a deny list."""
    sc = profile.seccomp
    if sc.default_action != "errno":
        return frozenset()
    floors = runtime_defaults.SECCOMP_RUNTIME_FLOOR | runtime_defaults.SECCOMP_HARNESS_FLOOR
    ruled = {n for r in sc.rules for n in r.names}
    return frozenset(n for n in {*sc.allow.get(arch, ()), *floors} if syscalls.exists(n, arch) and n not in ruled)


NAMESPACE_MASK = sum(CLONE_NAMESPACE_FLAGS.values())


def _allow_rules(profile: Profile) -> list[dict[str, Any]]:
    names = set().union(*(allowed(profile, a) for a in profile.seccomp.architectures))
    rules: list[dict[str, Any]] = []
    if profile.seccomp.deny_clone_namespaces and "clone" in names:
        # clone only without a namespace flag, one masked test on the whole set (as Docker's
        # default profile does); every other clone gets the default errno
        names.discard("clone")
        cond = {"index": 0, "value": NAMESPACE_MASK, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
        rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [cond]})
    return [{"names": sorted(names), "action": "SCMP_ACT_ALLOW"}, *rules]


_POLICIES: dict[str, bytes] = {}
"""The policy per profile digest, as JSON: verify renders a runc bundle's OCI config twice
(the "rendered" and "engine-view" checks), ~45 us each, for every bundle of one profile."""


def policy(profile: Profile) -> dict[str, Any]:
    """The profile's policy, a new copy for each caller (a weakening edits it in place)."""
    said = _POLICIES.get(profile.digest)
    if said is None:
        fresh = _policy(profile)
        try:
            said = orjson.dumps(fresh)
        except TypeError:  # orjson.JSONEncodeError: an integer past 64 bits
            return fresh
        if orjson.loads(said) != fresh:  # only what JSON gives back as it was (lists, not tuples)
            return fresh
        if len(_POLICIES) > 16:
            _POLICIES.clear()
        _POLICIES[profile.digest] = said
    copy: dict[str, Any] = orjson.loads(said)
    return copy


def _policy(profile: Profile) -> dict[str, Any]:
    sc = profile.seccomp
    allowlist = sc.default_action == "errno"
    rules: list[dict[str, Any]] = _allow_rules(profile) if allowlist else []
    for rule in sc.rules:
        # the loader checked this (profilecheck); a profile changed in code is checked again
        unknown = [n for n in rule.names if not any(syscalls.exists(n, a) for a in sc.architectures)]
        if unknown:
            raise ProfileError(
                f"profile {profile.source}: seccomp.rules names syscalls sandproof does not know: {unknown} "
                "(runc would silently ignore them)"
            )
        if allowlist and rule.errno == sc.default_errno:
            continue  # the default action already: runc would drop it (see above)
        rules.append({"names": list(rule.names), "action": "SCMP_ACT_ERRNO", "errnoRet": errno_number(rule.errno)})
    if sc.deny_clone_namespaces and not allowlist:
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
    head: dict[str, Any] = {"defaultAction": DEFAULT_ACTIONS[sc.default_action]}
    if allowlist and sc.default_errno is not None:
        head["defaultErrnoRet"] = errno_number(sc.default_errno)
    return {**head, "architectures": [syscalls.SCMP_ARCH[a] for a in sc.architectures], "syscalls": rules}


def dump(rendered: dict[str, Any]) -> bytes:
    return (json.dumps(rendered, indent=2) + "\n").encode()


def render(profile: Profile) -> bytes:
    """The exact bytes written to disk and hashed into the evidence."""
    return dump(policy(profile))


def sha256(profile: Profile) -> str:
    return hashlib.sha256(render(profile)).hexdigest()


def _last_named(rendered: dict[str, Any], arch: str) -> int:
    names = {n for rule in rendered["syscalls"] for n in rule["names"]}
    return max((syscalls.number(n, arch) for n in names if syscalls.exists(n, arch)), default=-1)


def answers(profile: Profile, arch: str) -> dict[str, str | None]:
    """What the runtime's filter answers for every syscall of ``arch``: an errno name, or None
    when it lets the call through (for clone under deny_clone_namespaces: without a namespace
    flag). Past the highest syscall the JSON names, runc answers ENOSYS instead of the default
    errno, so a libc falls back from calls newer than the profile (libcontainer/seccomp/
    patchbpf/enosys_linux.go: findLastSyscalls, generateEnosysStub; skipped when the default
    action allows or its errno is ENOSYS). Docker hands the same JSON to the same runc."""
    sc = profile.seccomp
    ruled = {n: r.errno for r in sc.rules for n in r.names}
    table = syscalls.TABLES[arch]
    if sc.default_action != "errno":
        return {n: ruled.get(n) for n in table}
    let = allowed(profile, arch)
    last = _last_named(policy(profile), arch)
    out: dict[str, str | None] = {}
    for name, nr in table.items():
        errno_name = None if name in let else ruled.get(name, sc.default_errno)
        if errno_name == sc.default_errno and sc.default_errno != "ENOSYS" and nr > last:
            errno_name = "ENOSYS"
        out[name] = errno_name
    return out


def rule_answers(profile: Profile) -> dict[str, str]:
    """name -> the errno the runtime's filter answers for each name a rule denies (the same on
    every listed architecture where it exists: profilecheck refuses a profile where it is not)."""
    sc = profile.seccomp
    if sc.default_action != "errno":
        return {n: r.errno for r in sc.rules for n in r.names}
    per_arch = [answers(profile, a) for a in sc.architectures]
    return {n: next((got[n] for got in per_arch if got.get(n)), r.errno) or r.errno for r in sc.rules for n in r.names}


def runtime_answer(profile: Profile, name: str) -> str | None:
    """The errno the runtime's filter answers for ``name`` on the profile's first
    architecture, or None when it lets the call through."""
    sc = profile.seccomp
    if sc.default_action != "errno":
        return next((r.errno for r in sc.rules if name in r.names), None)
    return answers(profile, sc.architectures[0]).get(name)


def clone_namespace_errno(profile: Profile) -> str | None:
    """What a clone with a namespace flag gets from the runtime's filter, if it is refused:
    EPERM by the per-flag rules of a deny list; the default errno in an allowlist (clone is
    allowed only without the flags)."""
    sc = profile.seccomp
    if not sc.enabled or not sc.deny_clone_namespaces:
        return None
    return sc.default_errno if sc.default_action == "errno" else "EPERM"
