"""What each runtime adds to a sandbox on its own, in one place.

A probe's expectation is the profile's exact set plus what the runtime documents it adds
(and nothing else): anything beyond both is a weakening. Facts are cited where they come
from; each was also observed on this project's machines (Docker 20.10, runc 1.1, Debian 12).
"""

from __future__ import annotations

ENV_NAMES: dict[str, tuple[str, ...]] = {
    # moby daemon/oci_linux.go: PATH from the image, HOSTNAME from the container, HOME from
    # the user's passwd entry when the image does not set it
    "docker": ("HOME", "HOSTNAME", "PATH"),
    # runc libcontainer/init_linux.go sets HOME from passwd when absent; PATH is in our config
    "runc": ("HOME", "PATH"),
}
"""Environment variables the runtime sets itself, beside the profile's own."""

# moby oci/defaults.go (20.10): masked with /dev/null (files) or an empty read-only tmpfs
# (directories), and read-only, where the kernel has them. runc gets the same lists from
# our OCI config (render/oci.py), so both runtimes share them.
MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
)
MASKED_DIRS = frozenset({"/proc/asound", "/proc/acpi", "/proc/scsi", "/sys/firmware"})
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

DOCKER_ETC_FILES = ("/etc/resolv.conf", "/etc/hostname", "/etc/hosts")
"""Files Docker binds from its own state directory into every container (even with
--network none), read-only when the root filesystem is."""

DEV_TMPFS_OPTIONS = ("size=65536k", "mode=755")
SHM_OPTIONS = ("size=65536k",)
"""/dev and /dev/shm as Docker and our OCI config mount them (kernel shows size in KiB)."""

DOCKER_TMPFS_DEFAULT_FLAGS = ("noexec", "nosuid", "nodev")
"""Docker's --tmpfs adds these unless the options say exec, suid or dev; runc adds nothing."""
DEVPTS_OPTIONS = ("gid=5", "mode=620", "ptmxmode=666")

# The nodes runc creates under /dev for every container (libcontainer/specconv
# AllowedDevices and its default symlinks); Docker asks runc for the same set. Observed
# here with `ls -l /dev` inside both.
DEV_NODES: dict[str, str] = {
    "/dev/null": "chr 1:3 0666",
    "/dev/zero": "chr 1:5 0666",
    "/dev/full": "chr 1:7 0666",
    "/dev/random": "chr 1:8 0666",
    "/dev/urandom": "chr 1:9 0666",
    "/dev/tty": "chr 5:0 0666",
    "/dev/pts": "dir 0755",
    "/dev/pts/ptmx": "chr 5:2 0666",
    "/dev/ptmx": "lnk pts/ptmx",
    "/dev/fd": "lnk /proc/self/fd",
    "/dev/stdin": "lnk /proc/self/fd/0",
    "/dev/stdout": "lnk /proc/self/fd/1",
    "/dev/stderr": "lnk /proc/self/fd/2",
}
DEV_OPTIONAL: dict[str, str] = {"/dev/core": "lnk /proc/kcore"}
"""runc links /dev/core only where the kernel has /proc/kcore."""
_DEVICES_COMMON = (
    "b *:* m",
    "c *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:2 rwm",
    "c 10:200 rwm",
    "c 136:* rwm",
)
DEVICES_CGROUP: dict[str, tuple[str, ...]] = {
    # runc libcontainer/specconv AllowedDevices: mknod of anything (CAP_MKNOD is dropped),
    # the standard nodes, ptmx, tun (10:200) and every pty (136:*); moby adds /dev/console
    "docker": (*_DEVICES_COMMON, "c 5:1 rwm"),
    "runc": _DEVICES_COMMON,
}
"""The devices cgroup v1 allow list (devices.list) each runtime gives an unprivileged container."""
