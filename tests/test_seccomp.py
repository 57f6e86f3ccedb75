from __future__ import annotations

import dataclasses
import errno
import hashlib
import json

import pytest

from sandproof import profile, seccomp
from sandproof.errors import ProfileError

# seed §5, verbatim
SEED_SECCOMP = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
    "syscalls": [
        {
            "names": [
                "socket",
                "socketpair",
                "connect",
                "bind",
                "listen",
                "accept",
                "accept4",
                "sendto",
                "sendmsg",
                "recvfrom",
                "recvmsg",
                "getpeername",
                "getsockname",
                "execve",
                "execveat",
                "ptrace",
                "process_vm_readv",
                "process_vm_writev",
                "mount",
                "umount2",
                "pivot_root",
                "chroot",
                "setns",
                "unshare",
                "clone3",
                "init_module",
                "finit_module",
                "delete_module",
                "kexec_load",
                "reboot",
                "swapon",
                "swapoff",
                "bpf",
                "perf_event_open",
            ],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
        }
    ],
}


def test_seed_profile_renders_the_seed_seccomp_exactly() -> None:
    assert json.loads(seccomp.render(profile.load("b4-prime-seed"))) == SEED_SECCOMP


def test_default_fixes_the_seed() -> None:
    pol = seccomp.policy(profile.load("default"))
    by_name: dict[str, list[dict[str, object]]] = {}
    for rule in pol["syscalls"]:
        for n in rule["names"]:
            by_name.setdefault(n, []).append(rule)
    # the entrypoint must be able to exec: runc installs the filter before its execve
    assert "execve" not in by_name
    assert "execveat" not in by_name
    # moby#42681: glibc only falls back to clone on ENOSYS
    assert [r["errnoRet"] for r in by_name["clone3"]] == [errno.ENOSYS]
    # clone is denied per namespace flag, never outright (threads must start)
    clone_bits = {r["args"][0]["value"] for r in by_name["clone"]}  # type: ignore[index]
    assert clone_bits == set(seccomp.CLONE_NAMESPACE_FLAGS.values())
    assert all(r["args"][0]["op"] == "SCMP_CMP_MASKED_EQ" for r in by_name["clone"])  # type: ignore[index]
    for route in ("io_uring_setup", "fsopen", "open_tree", "open_by_handle_at", "keyctl", "userfaultfd"):
        assert route in by_name
    assert pol["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]


def test_unknown_syscall_name_is_refused() -> None:
    with pytest.raises(ProfileError, match=r"kcmpp.*did you mean 'kcmp'"):
        profile.parse(profile.load("default").text.replace('"kcmp"', '"kcmpp"'), "t.toml")
    # a profile changed in code skips the loader: the renderer still refuses the name
    p = profile.load("default")
    rules = (profile.SeccompRule(("kcmpp",), "EPERM"),)
    with pytest.raises(ProfileError, match="kcmpp"):
        seccomp.render(dataclasses.replace(p, seccomp=dataclasses.replace(p.seccomp, rules=rules)))


def test_sha256_is_of_the_rendered_bytes() -> None:
    p = profile.load("default")
    assert seccomp.sha256(p) == hashlib.sha256(seccomp.render(p)).hexdigest()
