"""Weakenings of a gVisor sandbox that only runsc can express: a runsc flag, or a host file the
gofer serves (runsc/fsgofer/lisafs.go), for probes runc's weakenings cannot reach under gVisor
(weaken/gvisor.py UNWEAKENABLE says why none can reach the others). Each was run on runsc
release-20221219.0 (Debian's) and its probe FAILed, having PASSed unweakened."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import ENGINE_SOCKET, Weakening
from sandproof.weaken.filesystem import oci_bind

RUNSC = ("runsc",)
KMSG = "/dev/kmsg"
FIRMWARE = "/sys/firmware"


def _host_has(path: str, kind: Callable[[str], bool], missing: str) -> Callable[[str], str | None]:
    """A weakening's no-effect reason when the host has no ``path`` of the ``kind`` it binds."""

    def no_effect(_runtime: str) -> str | None:
        try:
            if kind(path):
                return None
        except OSError:
            pass
        return missing

    return no_effect


def _char(path: str) -> bool:
    return stat.S_ISCHR(os.stat(path).st_mode)


def _sock(path: str) -> bool:
    return stat.S_ISSOCK(os.stat(path).st_mode)


def _nonempty(path: str) -> bool:
    return bool(os.listdir(path))


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "runsc-host-uds-engine-socket",
        "PR-SOCK-DOCKER",
        "runsc --host-uds=open and the Docker socket bound in: the gofer serves the host's socket "
        "(runsc/fsgofer/lisafs.go checkSupportedFileType; engine-socket is refused without the flag) and "
        "root inside reaches the host's engine (measured: GET /_ping answered 200)",
        mutation=Mutation(oci=oci_bind(ENGINE_SOCKET, ENGINE_SOCKET), runsc_flags=("--host-uds=open",)),
        runtimes=RUNSC,
        no_effect=_host_has(ENGINE_SOCKET, _sock, f"no engine socket at {ENGINE_SOCKET} on this host"),
    ),
    Weakening(
        "runsc-cgroupfs",
        "PR-NS-CGROUP",
        "runsc --cgroupfs: the sentry mounts a cgroup hierarchy (memory, cpu) at /sys/fs/cgroup, "
        "which the sentry, having no cgroup namespace, shows un-namespaced (runsc/boot/vfs.go compileMounts)",
        mutation=Mutation(runsc_flags=("--cgroupfs",)),
        runtimes=RUNSC,
    ),
    Weakening(
        "runsc-host-device-bound",
        "PR-DEV-1",
        "the host's /dev/kmsg bound at /dev/kmsg: the gofer serves host character devices and opens "
        "them for the sentry (runsc/fsgofer/lisafs.go checkSupportedFileType, Open), whatever "
        "linux.devices says; shown as chr 0:0 (no device number passed), opened as the gofer",
        mutation=Mutation(oci=oci_bind(KMSG, KMSG)),
        runtimes=RUNSC,
        no_effect=_host_has(KMSG, _char, f"the host has no character device {KMSG} to bind"),
    ),
    Weakening(
        "runsc-host-firmware-bound",
        "PR-KPATH-1",
        "the host's /sys/firmware bound over the sentry's empty one: the firmware's tables (ACPI, DMI, "
        "memmap) served by the gofer where the sentry's sysfs masks them",
        mutation=Mutation(oci=oci_bind(FIRMWARE, FIRMWARE)),
        runtimes=RUNSC,
        no_effect=_host_has(FIRMWARE, _nonempty, f"the host's {FIRMWARE} is missing or empty: bound, it shows nothing"),
    ),
    Weakening(
        "runsc-hostinet",
        "PR-SYSCTL-1",
        "runsc --network=host after the render's --network=none (Go's flag package keeps the last): "
        "socket calls go to the host kernel's stack (pkg/sentry/socket/hostinet), in the config's new, "
        "empty network namespace (runsc/sandbox/sandbox.go createSandboxProcess), so no interface beyond "
        "lo shows; the net sysctls are hostinet's, not the netstack's (stack.go PortRange: 32768 28232)",
        mutation=Mutation(runsc_flags=("--network=host",)),
        runtimes=RUNSC,
    ),
)
