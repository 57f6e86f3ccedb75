"""What each runtime adds to a sandbox on its own, in one place.

A probe's expectation is the profile's exact set plus what the runtime documents it adds
(and nothing else): anything beyond both is a weakening. Facts are cited where they come
from; each was also observed on this project's machines (Docker 20.10, runc 1.1, Debian 12).
"""

from __future__ import annotations

from sandproof.inspector.catalog import HOSTNAME_TOKEN

ENV_NAMES: dict[str, tuple[str, ...]] = {
    # moby daemon/oci_linux.go: PATH from the image, HOSTNAME from the container, HOME from
    # the user's passwd entry when the image does not set it
    "docker": ("HOME", "HOSTNAME", "PATH"),
    # runc libcontainer/init_linux.go sets HOME from passwd when absent; PATH is in our config
    "runc": ("HOME", "PATH"),
    "runsc": ("HOME", "PATH"),
    # containers/common pkg/config/default.go: Env = PATH and TERM=xterm (CONTAINERS_CONF is
    # empty for sandproof's podman, so these built-in defaults apply); libpod adds
    # container=podman, HOSTNAME and HOME from passwd (libpod/container_internal_linux.go).
    # Observed in the OCI config podman 4.3.1 generated here (podman init; userdata/config.json).
    "podman": ("HOME", "HOSTNAME", "PATH", "TERM", "container"),
    # containerd's CRI adds HOSTNAME (pkg/cri/server/container_create_linux.go), runc HOME, the
    # image PATH; the kubelet always adds the `kubernetes` Service of the default namespace, even
    # with enableServiceLinks false (pkg/kubelet/kubelet_pods.go getServiceEnvVarMap: "We always
    # want to add environment variables for master services"): its port 443 named https gives
    # these eight (pkg/kubelet/envvars FromServices). automountServiceAccountToken false removes
    # only the token volume, no variable.
    "kubernetes": (
        "HOME",
        "HOSTNAME",
        "KUBERNETES_PORT",
        "KUBERNETES_PORT_443_TCP",
        "KUBERNETES_PORT_443_TCP_ADDR",
        "KUBERNETES_PORT_443_TCP_PORT",
        "KUBERNETES_PORT_443_TCP_PROTO",
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_SERVICE_PORT",
        "KUBERNETES_SERVICE_PORT_HTTPS",
        "PATH",
    ),
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

# Podman 4.3 (containers/common pkg/config/config.go DefaultMaskedPaths/DefaultReadOnlyPaths):
# /proc/asound is read-only rather than masked, and /sys/fs/selinux and /sys/dev/block are
# masked too. Observed in podman 4.3.1's generated config.json here (linux.maskedPaths,
# linux.readonlyPaths) and in the sandbox's mountinfo (/sys/dev/block: an empty ro tmpfs).
PODMAN_MASKED_PATHS = (
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
)
PODMAN_MASKED_DIRS = frozenset({"/proc/acpi", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux", "/sys/dev/block"})
PODMAN_READONLY_PATHS = ("/proc/asound", *READONLY_PATHS)


def masked_paths(runtime: str) -> tuple[str, ...]:
    return PODMAN_MASKED_PATHS if runtime == "podman" else MASKED_PATHS


def masked_dirs(runtime: str) -> frozenset[str]:
    return PODMAN_MASKED_DIRS if runtime == "podman" else MASKED_DIRS


def readonly_paths(runtime: str) -> tuple[str, ...]:
    return PODMAN_READONLY_PATHS if runtime == "podman" else READONLY_PATHS


DOCKER_ETC_FILES = ("/etc/resolv.conf", "/etc/hostname", "/etc/hosts")
"""Files Docker binds from its own state directory into every container (even with
--network none), read-only when the root filesystem is."""

PODMAN_ETC_FILES = ("/etc/hostname", "/etc/hosts", "/run/.containerenv")
"""Files Podman binds from ``<runroot>/<driver>-containers/<id>/userdata/`` (libpod
container_internal_linux.go: generateHosts, the hostname file, .containerenv), each
nosuid,nodev,noexec; no resolv.conf with --network none. Observed with podman 4.3.1 here."""
DOCKER_RESOLV_FLAGS = ("--dns", "0.0.0.0", "--dns-search", ".", "--dns-option", "")  # noqa: S104 - no bind
"""What sandproof asks Docker for under ``--network none``. Without a ``--dns*`` flag Docker
copies the host's nameservers, search domains and options into every container's
resolv.conf, network or not (measured here: the host's ``nameserver 10.255.255.53``; moby
20.10 libnetwork sandbox_dns_unix.go setupDNS, FilterResolvDNS; 8.8.8.8 when the host's are
all loopback). With all three, ``resolvconf.Build`` writes only what the flags say: no
``search`` line for ".", no ``options`` line for an empty option, and one nameserver that
names no host's resolver (0.0.0.0: this sandbox's own, empty, network namespace; a loopback
address would make the CLI warn). Podman refuses ``--dns`` with ``--network none`` and
writes no resolv.conf there (measured, 4.3.1)."""

DOCKER_RESOLV = "nameserver 0.0.0.0\n"
"""The resolv.conf Docker writes for ``DOCKER_RESOLV_FLAGS``: their one nameserver, no search
or options line (moby resolvconf.Build, measured on 20.10.24)."""

RUNTIME_FILES = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv")
"""The files a runtime writes or binds into a sandbox, read whole by PR-ETC-1 on every runtime."""
DOCKER_HOSTS = (
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
)
"""Docker's /etc/hosts under ``--network none``: libnetwork etchosts.go ``defaultContent`` and
no address of the container's (it has none); ``--add-host`` lines follow them."""
PODMAN_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.0.1\t<hostname> <name>\n"
"""Podman's /etc/hosts under ``--network none`` with sandproof's containers.conf (measured,
4.3.1, root): its localhost lines and the container's hostname and name; ``base_hosts_file =
"none"`` keeps the host's /etc/hosts out and ``host_containers_internal_ip = "none"`` the
host's own address (``host.containers.internal``, measured: this host's eth0 address)."""


PODMAN_ETC_FLAGS = ("nodev", "noexec", "nosuid")
PODMAN_DEV_FLAGS = ("noexec", "nosuid")
"""Podman mounts /dev noexec as well (its generated config.json here: nosuid, noexec,
strictatime, mode=755, size=65536k); Docker and our runc config only nosuid."""

DEV_TMPFS_OPTIONS = ("size=65536k", "mode=755")
SHM_OPTIONS = ("size=65536k",)
"""/dev and /dev/shm as Docker and our OCI config mount them (kernel shows size in KiB)."""
PODMAN_SHM_OPTIONS = ("size=64000k",)
"""/dev/shm of an IPC namespace of podman's own: ``PODMAN_SHM_BYTES`` (65,536,000 bytes, not 64
MiB) as the kernel shows it, measured with podman 4.3.1 here (--ipc private)."""

DOCKER_TMPFS_DEFAULT_FLAGS = ("noexec", "nosuid", "nodev")
"""Docker's --tmpfs adds these unless the options say exec, suid or dev; runc adds nothing.
Podman's --tmpfs does the same (podman-run(1) --tmpfs: "rw, noexec, nosuid, nodev" by
default; pkg/util/mountOpts.go ProcessOptions adds each unless its opposite is given)."""
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
    "runsc": _DEVICES_COMMON,
    # podman asks runc for its default set alone (config.json: devices [{allow: false}]);
    # no /dev/console for a container without a terminal. Observed: devices.list here.
    "podman": _DEVICES_COMMON,
    # containerd's CRI asks runc for no device beyond its defaults (privileged: false)
    "kubernetes": _DEVICES_COMMON,
}
"""The devices cgroup v1 allow list (devices.list) each runtime gives an unprivileged container."""

SYSCTLS: dict[str, dict[str, str]] = {
    # moby daemon/oci_linux.go WithSysctls (20.10): in a network namespace of its own
    # (NetworkMode.IsPrivate(), which "none" is) Docker lets any user open ports below 1024
    # and any group open ICMP echo sockets, unless the container sets them itself
    "docker": {"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"},
    # runc sets exactly the config's linux.sysctl (libcontainer/init_linux.go writeSystemProperty)
    "runc": {},
    "runsc": {},
    # podman 4.3 with an empty containers.conf sets none (config.json linux.sysctl absent;
    # containers/common default_sysctls is empty unless a containers.conf names some)
    "podman": {},
    # containerd 2.x CRI: enable_unprivileged_ports and enable_unprivileged_icmp default true
    # (pkg/cri/config DefaultConfig), written as Docker writes them; containerd 1.x wrote none
    "kubernetes": {"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"},
}
"""Sysctls the runtime writes itself into a private network namespace."""

IPC_SYSCTLS = (
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
)
"""The IPC sysctls runc lets a container set (libcontainer/configs/validate/validator.go)."""
UTS_SYSCTLS = ("kernel.domainname", "kernel.hostname")

KERNEL_UTS_SYSCTLS: dict[str, str] = {
    # include/linux/uts.h UTS_DOMAINNAME: no runtime sets a domain name unless told (moby and
    # runc write one only when the config has it), so a new UTS namespace keeps a copy of the
    # host's, which is this on any host that set none (a NIS or build domain would leak in)
    "kernel.domainname": "(none)",
}
"""What a private UTS namespace holds beside the hostname (PR-ENV-1 judges that)."""

KERNEL_IPC_SYSCTLS: dict[str, str] = {
    # ipc/shm.c shm_init_ns: SHMMAX = SHMALL = ULONG_MAX - (1 << 24) (include/uapi/linux/shm.h)
    "kernel.shmmax": "18446744073692774399",
    "kernel.shmall": "18446744073692774399",
    "kernel.shmmni": "4096",
    "kernel.shm_rmid_forced": "0",
    # ipc/msg.c msg_init_ns: MSGMAX, MSGMNB, MSGMNI (include/uapi/linux/msg.h)
    "kernel.msgmax": "8192",
    "kernel.msgmnb": "16384",
    "kernel.msgmni": "32000",
    # ipc/sem.c sem_init_ns: SEMMSL SEMMNS SEMOPM SEMMNI (include/uapi/linux/sem.h)
    "kernel.sem": "32000 1024000000 500 32000",
    # ipc/mqueue.c mq_init_ns: DFLT_QUEUESMAX, DFLT_MSG, DFLT_MSGMAX, DFLT_MSGSIZE, DFLT_MSGSIZEMAX
    "fs.mqueue.queues_max": "256",
    "fs.mqueue.msg_default": "10",
    "fs.mqueue.msg_max": "10",
    "fs.mqueue.msgsize_default": "8192",
    "fs.mqueue.msgsize_max": "8192",
}
"""What a fresh IPC namespace holds (every value set afresh by the kernel, none copied)."""

KERNEL_NET_SYSCTLS: dict[str, str] = {
    # net/ipv4/af_inet.c inet_init_net: ports, the unprivileged port floor (PROT_SOCK),
    # no group may open ICMP echo sockets ("1 0"), IPDEFTTL
    "net.ipv4.ip_local_port_range": "32768 60999",
    "net.ipv4.ip_unprivileged_port_start": "1024",
    "net.ipv4.ping_group_range": "1 0",
    "net.ipv4.ip_default_ttl": "64",
    "net.ipv4.ip_nonlocal_bind": "0",
    "net.ipv4.ip_no_pmtu_disc": "0",
    "net.ipv4.ip_autobind_reuse": "0",
    # net/ipv4/icmp.c icmp_sk_init
    "net.ipv4.icmp_echo_ignore_all": "0",
    "net.ipv4.icmp_echo_ignore_broadcasts": "1",
    "net.ipv4.icmp_ratelimit": "1000",
    # net/ipv4/tcp_ipv4.c tcp_sk_init, net/ipv4/tcp.c
    "net.ipv4.tcp_syncookies": "1",
    "net.ipv4.tcp_keepalive_time": "7200",
    "net.ipv4.tcp_keepalive_intvl": "75",
    "net.ipv4.tcp_keepalive_probes": "9",
    "net.ipv4.tcp_fin_timeout": "60",
    "net.ipv4.tcp_tw_reuse": "2",
    "net.ipv4.tcp_timestamps": "1",
    "net.ipv4.tcp_sack": "1",
    "net.ipv4.tcp_window_scaling": "1",
    "net.ipv4.tcp_fastopen": "1",
    "net.ipv4.tcp_ecn": "2",
    "net.ipv4.tcp_rfc1337": "0",
    "net.ipv4.tcp_syn_retries": "6",
    "net.ipv4.tcp_retries2": "15",
    # net/core/net_namespace.c / sysctl_net_core.c: SOMAXCONN (4096 since 5.4)
    "net.core.somaxconn": "4096",
    # net/unix/af_unix.c unix_net_init
    "net.unix.max_dgram_qlen": "10",
}
"""What a fresh network namespace holds, for the values the kernel sets afresh. Values a new
namespace copies from the host's (net.ipv4.ip_forward, conf/all/*, tcp_rmem, the congestion
control) differ per host and are not listed: a probe cannot tell them from a weakening.
Measured equal with ``unshare -n`` on kernel 6.18."""

SENTRY_NET_SYSCTLS: dict[str, str] = {
    # gVisor's netstack, not the host's kernel: its own fixed defaults, the same in every
    # sandbox (pkg/tcpip/stack, pkg/tcpip/transport/tcp/protocol.go, pkg/sentry/fsimpl/proc/
    # tasks_sys.go); observed with runsc 20221219 --network=none here. The ones gVisor does
    # not show at all stay optional (as on a kernel built without them).
    "net.core.somaxconn": "128",
    "net.ipv4.ip_local_port_range": "16000 65535",
    "net.ipv4.ip_no_pmtu_disc": "1",
    "net.ipv4.tcp_fastopen": "0",
    "net.ipv4.tcp_keepalive_intvl": "0",
    "net.ipv4.tcp_keepalive_probes": "0",
    "net.ipv4.tcp_rfc1337": "1",
    "net.ipv4.tcp_syn_retries": "3",
}
"""runsc: the namespaced sysctls whose gVisor value differs from a fresh Linux namespace's."""

SENTRY_DEV_NODES: dict[str, str] = {
    # runsc/boot/vfs.go and pkg/sentry/devices: the sentry's own devtmpfs adds its FUSE and
    # TUN devices (both served by the sentry, never the host's) and a read-only /dev/pts
    # directory; /dev/shm is created by gVisor whatever the IPC mode (root's, 0755).
    # Observed with runsc 20221219 here.
    "/dev/fuse": "chr 10:229 0666",
    "/dev/net": "dir 0755",
    "/dev/net/tun": "chr 10:200 0666",
    "/dev/pts": "dir 0555",
    "/dev/shm": "dir 0755",
}
"""runsc: device nodes gVisor's /dev holds beyond (or unlike) runc's."""

RUNSC_STDIO_TARGETS = r"host:\[[0-9]+\]"
"""runsc: gVisor shows the descriptors it donates from the host as ``host:[N]``
(pkg/sentry/fsimpl/host), stdio included."""

WRITE_REFUSED: dict[str, list[str]] = {
    "docker": ["EROFS"],
    "runc": ["EROFS"],
    # gVisor: an open(O_CREAT) by a non-root user in a root-owned directory of a read-only
    # mount answers EACCES (permission is checked first), which a merely root-owned directory
    # answers too; its mkdir checks the mount first (observed: EROFS), so on runsc the probe
    # makes a directory (WRITE_BY_MKDIR) and still proves the mount read-only
    "runsc": ["EROFS"],
    "podman": ["EROFS"],
    "kubernetes": ["EROFS"],
}
"""What an attempted write into a read-only mount answers, per runtime."""
WRITE_BY_MKDIR = frozenset({"runsc"})
"""Runtimes whose write probes make a directory instead of a file (see WRITE_REFUSED)."""

CGROUPS_UNENFORCED: dict[str, str] = {
    # gvisor#3942: under the profile's pids limit the ptrace platform panics (it needs a host
    # thread per task), so runsc runs with --ignore-cgroups (render/runsc.py) and no host
    # cgroup holds the sandbox; the sentry applies none of linux.resources itself (its memory
    # is runsc boot's --total-memory, the host's RAM), only process.rlimits (PR-RLIMIT-1)
    "runsc": "runsc --ignore-cgroups (gvisor#3942): no cgroup applies the profile's limit to the sandbox",
}
"""Runtimes that do not apply the profile's cgroup limits (pids, memory, cpu, shares, OOM)."""

RUNSC_TRUE_FAILS: dict[str, tuple[str, str]] = {
    # probe -> (a phrase its FAIL reason holds, why gVisor 20221219 really differs from the profile)
    # PR-MOUNT-1 PASSes: its inventory is the sentry's own (mountplan_gvisor.py)
    "PR-SECCOMP-SWEEP": (
        "pidfd_getfd(fd /dev/null) ENOSYS, expected EPERM",
        "runsc/specutils/seccomp answers every SCMP_ACT_ERRNO with EPERM (errnoRet ignored: clone3 "
        "gets EPERM, not ENOSYS) and drops rules for syscalls its table lacks (pidfd_getfd, "
        "mount_setattr, process_madvise, process_mrelease: the sentry answers ENOSYS)",
    ),
    "PR-SECCOMP-ABI": (
        "x32 ENOSYS",
        "runsc ignores the filter's architectures (runsc/specutils/seccomp convertRules): x32 reaches "
        "the sentry, which has no such ABI and answers ENOSYS; the profile's filter does not refuse it",
    ),
    "PR-THREAD-1": (
        "can't start new thread",
        "clone3 answers EPERM, not the profile's ENOSYS (errnoRet ignored), so glibc never falls back "
        "to clone (moby#42681): no thread starts under --oci-seccomp",
    ),
    "PR-USERNS-1": ("clone3: failed with EPERM, expected one of ENOSYS", "the same ignored errnoRet"),
    "PR-TMP-NOEXEC": (
        "mapped",
        "this build lets a PROT_EXEC mmap of a noexec tmpfs file succeed (fixed upstream in 2025, gVisor PR 11358)",
    ),
    **dict.fromkeys(
        ("PR-CG-PIDS", "PR-CG-MEM", "PR-CG-CPU", "PR-CG-OOM", "PR-CG-SHARES"),
        ("not enforced: runsc --ignore-cgroups", "no cgroup applies the profile's limit (CGROUPS_UNENFORCED)"),
    ),
}
"""The default profile's FAILs under runsc 20221219 (ptrace platform), each true of gVisor, not of
sandproof: ``tests/test_runsc.py`` asserts exactly this set with these reasons; every other
probe PASSes."""

UMASK = "0022"
"""The umask a profile gets when it names none ([user] umask), and the one Docker gives: Docker
has no flag for it; dockerd sets its own umask to 0022 at start (moby cmd/dockerd/daemon_unix.go
setDefaultUmask) and containerd's shim and runc pass it on to the container's process. runc
sets process.user.umask when the config has one (runtime-spec config.md, runc 1.1
libcontainer/init_linux.go finalizeNamespace), else inherits its caller's: our OCI config always
says it. podman writes its --umask (podman-run(1): default 0022) into that same field. gVisor
(runsc 20221219) ignores the field: runsc/boot/loader.go createProcessArgs gives every process
Umask 0022 (measured: umask 0 in the spec, umask(2) answers 0022 inside; its /proc/self/status
has no Umask line)."""
UMASK_FIXED = frozenset({"docker", "runsc"})
"""The runtimes that give every container UMASK whatever the profile says (no flag, or the field
ignored): a profile with another umask is refused there before anything runs."""

OOM_SCORE_ADJ = 0
"""Docker gives every container oom_score_adj 0 unless told otherwise (its daemon runs at
-500); runc inherits its caller's, so our OCI config says 0 (process.oomScoreAdj)."""

CFS_PERIOD_US = 100_000
"""The CFS period every runtime gives a --cpus limit: moby daemon/oci_linux.go (NanoCPUs: "period
:= 100ms"), podman pkg/specgen likewise, and our OCI config (render/oci.py CPU_PERIOD)."""

INHERITED: dict[str, str] = {
    # include/uapi/linux/personality.h PER_LINUX (0), no flag: ADDR_NO_RANDOMIZE (0x0040000) turns
    # ASLR off, READ_IMPLIES_EXEC makes readable mappings executable
    "Personality": "00000000",
    # nice 0 (kernel/sched/core.c sched_fork: a child keeps its parent's; init's is 0) and
    # SCHED_OTHER (0, include/uapi/linux/sched.h): neither Docker, runc nor podman sets either
    # (runc 1.1 has no process.scheduler), so another value came from whoever started them
    "Nice": "0",
    "SchedPolicy": "0",
    # best effort at level 4, as nice 0 maps (IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 4) = 2 << 13 | 4;
    # probes/startup.py io_priority): an inherited real-time class would starve the host's disk
    "IoPrio": "16388",
    # not offered to KSM (prctl PR_SET_MEMORY_MERGE, Linux 6.4+; "0" where the kernel lacks it)
    "MemoryMerge": "0",
    # 50 us, init's (include/linux/init_task.h .timer_slack_ns = 50000); a caller's prctl
    # PR_SET_TIMERSLACK is copied at fork and kept across exec (probes/startup.py)
    "TimerSlack": "50000",
    # no signal blocked: Go's runtime in runc unblocks only the signals it needs itself
    # (runtime/signal_unix.go minitSignalMask, blockableSig), so a caller's blocked SIGUSR1,
    # SIGALRM or SIGXCPU reaches the sandbox through runc (measured, runc 1.1.5)
    "SigBlk": "0000000000000000",
    # exactly what the harness's own interpreter ignores: SIGPIPE (13) and SIGXFSZ (25)
    # (CPython Python/pylifecycle.c init_signals); any other ignored signal was handed down
    "SigIgn": "0000000001001000",
}
"""What a process inherits from the runtime's caller and no runtime resets (PR-SCHED-1): a
fresh login's values, measured equal in Docker, runc and podman here."""
INHERITED_LOWER: dict[str, tuple[str, ...]] = {
    # a caller that lowered its own priority hands the sandbox less, never more: any nice from
    # 0 to 19 (include/linux/sched/prio.h MAX_NICE), the non-real-time policies SCHED_OTHER,
    # SCHED_BATCH (3) and SCHED_IDLE (5), and best effort at levels 4 to 7 (where nice 0 to 19
    # maps) or the idle class (3 << 13; its level is ignored, include/uapi/linux/ioprio.h).
    # A CI runner started under `nice` attests the same sandbox; nice -1 or a real-time class does not.
    "Nice": tuple(str(n) for n in range(20)),
    "SchedPolicy": ("0", "3", "5"),
    "IoPrio": (*(str(2 << 13 | level) for level in range(4, 8)), *(str(3 << 13 | level) for level in range(8))),
}
"""The values of INHERITED's fields that give the sandbox less than a fresh login's (PR-SCHED-1
allows each of them, and nothing else: a higher priority is a weakening)."""
SENTRY_UNSHOWN_INHERITED = frozenset({"Personality", "IoPrio", "TimerSlack"})
"""runsc: gVisor answers personality(2) EINVAL whatever the argument and has no ioprio_get
nor PR_GET_TIMERSLACK (runsc 20221219, measured): the sentry loads every binary, does every I/O
and runs every timer itself, so neither the host's personality, its I/O class nor a caller's
timer slack reaches the sandbox's processes."""

KUBELET_OOM_SCORE_ADJ: dict[str, tuple[int, int]] = {
    # pkg/kubelet/qos/policy.go GetContainerOOMScoreAdjust (guaranteedOOMScoreAdj = -997 since
    # v1.9; -998 before): the kubelet hands it to the CRI with the container's resources
    "Guaranteed": (-997, -997),
    # 1000 - 1000 * memory request / the node's memory capacity, raised to 1000 + (-997) and
    # kept below BestEffort's 1000: the node's capacity is not known when the plan is compiled
    "Burstable": (3, 999),
    "BestEffort": (1000, 1000),
}
"""The oom_score_adj (lowest, highest) a pod's container gets on a real node, per QoS class:
never 0, so the kubernetes plan never expects Docker's 0."""

STDIO_TARGETS = r"pipe:\[[0-9]+\]|/dev/null"
"""What stdin, stdout and stderr may be open on at start: Docker gives /dev/null and its pipes,
runc (not on a terminal) pipes of its own."""

_FROM_ENGINE = {"0": ["chr 1:3 rw"], "1": ["fifo w"], "2": ["fifo w"]}
STDIO_KINDS: dict[str, dict[str, list[str]]] = {
    # measured here (PR-FD-1's stdio: fstat's type and F_GETFL's access mode): Docker and
    # Podman open the null device read-write for a stdin nobody attached; stdout and stderr
    # are the engine's pipes, write-only
    "docker": _FROM_ENGINE,
    "podman": _FROM_ENGINE,
    # runc (not on a terminal) makes a pipe for each and copies its caller's stdio through
    # them (runc tty.go setupProcessPipes): stdin its read end
    "runc": {"0": ["fifo r"], "1": ["fifo w"], "2": ["fifo w"]},
    # runsc donates its caller's descriptors as they are (pkg/sentry/fsimpl/host); gVisor shows
    # a host character device with device number 0:0, so the null device is told from another
    # only by standard input ending at once (PR-FD-1's stdin)
    "runsc": {"0": ["chr 0:0 rw"], "1": ["fifo w"], "2": ["fifo w"]},
    # containerd's shim runs runc without a stdin: Go's exec opens the null device read-only
    # (os/exec Cmd.Stdin nil); the stand-in (tests/k8s_standin.py) is runc's own pipe
    "kubernetes": {"0": ["chr 1:3 r", "fifo r"], "1": ["fifo w"], "2": ["fifo w"]},
}
"""What standard input, output and error may be, by file type and access mode (never by the
name /proc shows: runsc names a pipe and a writable host file alike ``host:[N]``, review 16):
anything else is a door the host left open, a file the sandbox can write or a terminal."""

HOSTNAME: dict[str, str] = {
    # moby: the hostname is the container ID's first 12 hex digits unless --hostname says otherwise
    "docker": "[0-9a-f]{12}",
    # our OCI config names it (render/oci.py)
    "runc": "sandproof",
    "runsc": "sandproof",
    # libpod: the container ID's first 12 hex digits, as Docker (config.json "hostname")
    "podman": "[0-9a-f]{12}",
    # the kubelet names the pod's UTS namespace after the pod: a Job's or DaemonSet's pod is
    # its owner's name and a random suffix (a DNS-1123 label)
    "kubernetes": "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
}
"""The hostname each runtime gives a container with a UTS namespace of its own (a regex)."""


def env_values(path: str, home: str) -> dict[str, str]:
    """What the runtime's own variables hold: PATH from the image config, HOME from the image's
    passwd entry for the user, HOSTNAME the container's hostname (known only inside)."""
    # TERM and container: podman's own constants (see ENV_NAMES), checked only where it sets them
    return {"PATH": path, "HOME": home, "HOSTNAME": HOSTNAME_TOKEN, "TERM": "xterm", "container": "podman"}


# A default-deny (allowlist) seccomp filter must let through what runs under it besides the
# workload: runc's init between loading the filter and the exec, and sandproof's harness when
# it attests the same filter. The renderer adds both floors to every allowlist
# (seccomp.allowed), so `attest` and the workload's run load byte-identical filters.

SECCOMP_RUNTIME_FLOOR = frozenset(
    {
        # runc 1.1 libcontainer/standard_init_linux.go, after seccomp.InitSeccomp (loaded last
        # when no-new-privileges is set): close the init and log pipes, open /proc/self/fd/N of
        # the exec fifo, write "0" to it, close it, getpid for the hooks' state, then execve
        "close",
        "openat",
        "write",
        "getpid",
        "execve",
        # utils.UnsafeCloseFrom (the CVE-2024-21626 fix, in Debian's 1.1.5+ds1-1+deb12u1):
        # checks /proc is procfs, lists /proc/self/fd, closes what is not passed on
        "fstatfs",
        "getdents64",
        # the Go runtime in every thread of runc init (libseccomp-golang loads the filter with
        # TSYNC, so all of them are filtered): the netpoller (os.File.Close deregisters),
        # the scheduler (runtime/os_linux.go futexsleep, usleep, osyield), async preemption
        # (runtime/signal_unix.go signalM: tgkill, then rt_sigreturn from the handler), the
        # heap (runtime/mem_linux.go: mmap, munmap, madvise) and a new M (newosproc: clone
        # with the signals blocked; minit: sigaltstack, gettid)
        "epoll_ctl",
        "epoll_pwait",
        "futex",
        "nanosleep",
        "sched_yield",
        "tgkill",
        "rt_sigreturn",
        "mmap",
        "munmap",
        "madvise",
        "clone",
        "rt_sigprocmask",
        "sigaltstack",
        "gettid",
        # the kernel's own restart of a nanosleep or futex wait that a signal (the preemption
        # tgkill above) interrupted under an SA_RESTART handler, as Go installs: the return from
        # the handler re-enters through restart_syscall (kernel/signal.c, -ERESTART_RESTARTBLOCK).
        # Seen once in 2 traced runs of the inspector on runc 1.1.5 (CI, a busy machine).
        "restart_syscall",
    }
)
"""What runc's init may call after its seccomp filter is loaded, until the workload's execve.
From the source above, and measured: `sandproof learn` of busybox /bin/true, 6 traced runs
on runc 1.1.5 here, saw close epoll_ctl epoll_pwait execve fstatfs futex getdents64 getpid
nanosleep openat rt_sigreturn sched_yield write after the filter (every one is listed)."""

SECCOMP_HARNESS_FLOOR = frozenset(
    {
        *("access", "arch_prctl", "brk", "clone", "close", "epoll_create1", "exit", "exit_group", "fcntl"),
        *("futex", "getdents64", "getpid", "getppid", "getrandom", "gettid", "ioctl", "kill", "lseek"),
        *("madvise", "mmap", "mprotect", "mremap", "munmap", "newfstatat", "openat", "pipe2", "prctl"),
        *("pread64", "prlimit64", "pselect6", "read", "readlink", "rename", "rseq", "rt_sigaction"),
        *("rt_sigprocmask", "set_robust_list", "set_tid_address", "statfs", "sysinfo", "uname", "unlink"),
        *("wait4", "write"),
        # not measured: the *at forms glibc uses on aarch64, which has no access, readlink,
        # rename or unlink (include/uapi/asm-generic/unistd.h)
        *("faccessat", "readlinkat", "renameat", "unlinkat"),
        # PR-FCAP-1 (added after the measurement) reads each file's security.capability
        "lgetxattr",
        # PR-ID-1 (added after the measurement) asks the kernel for the umask: set, then restored
        "umask",
        # PR-SCHED-1 (added after the measurement) asks what the runtime's caller handed down
        *("personality", "getpriority", "sched_getscheduler", "ioprio_get"),
        # PR-FD-1 (added after the measurement) waits for standard input's end: poll(2), which
        # aarch64 lacks (glibc's poll is ppoll there)
        *("poll", "ppoll"),
    }
)
"""What sandproof's harness needs to run its probes (its Python, the forks of
``inspector/isolate.py``, the L2 guard's prctl, the bundle's atomic rename). Measured, not
guessed: ``sandproof learn`` of the inspector image itself with the default profile's plan,
3 traced runs on runc (x86_64, kernel 6.1), minus the calls its probes only try in order to
see them denied (the profile's rules, and execve/execveat, which the L2 guard denies).
``tests/test_allowlist.py`` learns it again on a real engine and checks nothing is missing."""

PODMAN_DEFAULT_RLIMITS = {"nofile": 1048576, "nproc": 1048576}
"""What podman (as root) asks runc for when ``--ulimit`` leaves nofile or nproc out: 1048576
for both, whatever the host allows (podman-run(1) --ulimit; pkg/specgen/generate/oci.go
addRlimits, define.RLimitDefaultValue). Without CAP_SYS_RESOURCE runc cannot raise a hard
limit above its own (kernel/sys.c do_prlimit), so such a sandbox never starts there:
``error setting rlimit type 7`` (nofile) or ``6`` (nproc), measured with podman 4.3.1 here."""

PID_MAX = "/proc/sys/kernel/pid_max"
"""Podman lowers its own RLIMIT_NPROC (soft and hard) to the kernel's pid_max before it starts
conmon, when that is below its hard limit (containers/common pkg/config/default_linux.go
getDefaultProcessLimits; strace of podman 4.3.1 here: ``setrlimit(RLIMIT_NPROC, 32768)``
with a host hard limit of 96365): runc under it can then give a sandbox at most that."""

# --- what the engine itself records for a container it made (engineview/) ---
DOCKER_SHM_BYTES = 64 << 20
"""HostConfig.ShmSize when --shm-size is not given (moby daemon/config: DefaultShmSize)."""
DOCKER_APPARMOR = ("", "docker-default")
"""The AppArmorProfile Docker records without --security-opt apparmor=: "docker-default" where
the host has AppArmor, "" where it has none (moby daemon/oci_linux.go WithApparmor)."""
DOCKER_SELINUX_PROCESS = r"|system_u:system_r:container_t:s0(:c[0-9]+,c[0-9]+)?"
DOCKER_SELINUX_MOUNT = r"|system_u:object_r:container_file_t:s0(:c[0-9]+,c[0-9]+)?"
"""ProcessLabel and MountLabel: empty without SELinux, else container_t with a random MCS pair
(moby daemon/create.go, opencontainers/selinux InitContainerLabels)."""
DOCKER_RUNTIME = "runc"
"""HostConfig.Runtime of the engine's default runtime (dockerd --default-runtime)."""
DOCKER_IPC_DEFAULT = ("private", "shareable")
"""IpcMode without --ipc: dockerd --default-ipc-mode, "private" since 20.10, "shareable" before."""
DOCKER_CGROUPNS_DEFAULT = ("host", "private")
"""CgroupnsMode without --cgroupns: dockerd --default-cgroupns-mode, "host" on cgroup v1, "private" on v2."""
PODMAN_CAPS = (
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
)
"""Podman's default capability set (containers/common pkg/config/default.go DefaultCapabilities,
4.3 with an empty containers.conf): its inspect lists each one dropped in HostConfig.CapDrop
(libpod/container_inspect.go generateInspectContainerHostConfig), measured with 4.3.1 here."""
PODMAN_SHM_BYTES = 65536000
"""HostConfig.ShmSize without --shm-size: containers.conf shm_size "65536k", parsed as decimal
kilobytes (go-units FromHumanSize); measured with podman 4.3.1 here, with --ipc none too."""
PODMAN_APPARMOR = r"|containers-default-[0-9.]+"
"""AppArmorProfile: "" without AppArmor, else containers/common's generated default profile."""
PODMAN_TMPFS_ADDED = ",rprivate,tmpcopyup"
PODMAN_BIND_ADDED = ",rprivate,rbind"
"""The options podman's inspect appends to each --tmpfs and -v it was given (measured, 4.3.1)."""
PODMAN_RUNTIME = ("oci", "runc")
"""HostConfig.Runtime (always "oci" in podman's inspect) and OCIRuntime, the runtime it ran
(render/podman.py passes ``--runtime runc``)."""
DOCKER_DEVICE_RULES: tuple[dict[str, object], ...] = (
    # moby oci/defaults.go DefaultLinuxSpec (20.10): deny every device, then allow null, zero,
    # urandom, random, tty and console, and deny fuse (c 10:229) again; the OCI config's
    # linux.resources.devices in that order (measured here)
    {"allow": False, "access": "rwm"},
    *(
        {"allow": True, "type": "c", "major": major, "minor": minor, "access": "rwm"}
        for major, minor in ((1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1))
    ),
    {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
)
"""The device cgroup rules dockerd hands runc for a container that is not privileged."""
ROOTFS_OWN: dict[str, tuple[str, ...]] = {
    # moby daemon/initlayer/setup_unix.go Setup: the init layer under every container makes
    # /.dockerenv (an empty file, 0755) and /etc/mtab -> /proc/mounts; its other entries
    # (/proc, /sys, /dev/*, /etc/hosts, /etc/hostname, /etc/resolv.conf) are mount points,
    # hidden under what is mounted there (measured, Docker 20.10 overlay2)
    "docker": ("/.dockerenv|reg|0755|0|0|0|-", "/etc/mtab|lnk|0|0|/proc/mounts"),
    "runc": (),
    # the container's root directory shows 0555, and /etc/mtab -> /proc/mounts is made as
    # Docker makes it (libpod container_internal_linux.go); /run, for the /run/.containerenv
    # bind, is the mount point's parent every runtime makes (measured, podman 4.3.1, overlay)
    "podman": ("/|dir|0555|0|0", "/etc/mtab|lnk|0|0|/proc/mounts"),
    "runsc": (),
    "kubernetes": (),
}
"""PR-ROOTFS-1: the entries each runtime adds to the container's root filesystem beyond the
image and the mount points it creates (``inspector/tree.py`` lines; mtime ``-``: made at each run)."""
ROOTFS_FRESH = ("/.dockerenv",)
"""Files a runtime makes at every run: the walk leaves out their mtime (``-``), it is the run's."""
ROOTFS_UNMATCHED: dict[str, str] = {}
"""PR-ROOTFS-1 planned UNVERIFIED on these runtimes, with the reason."""

HOST_KERNEL: dict[str, tuple[int, ...] | dict[str, int]] = {
    # Host-wide kernel settings no namespace separates: every sandbox on the host runs under the
    # host's value, and no runtime, config or engine view states it. A list: the values allowed;
    # {min = N}: N or more. A profile's [host_kernel] changes any of them. Chosen so a Debian 12
    # host (this one: 2, 2, 2, 1, 0, 1, 0, 0, 0, 4096, kptr_restrict 0) and a GitHub Ubuntu runner
    # (2, 4, 2, 1, 2 with apport, 1, 1, 1, 2, 65536, kptr_restrict 1) both PASS.
    #
    # Documentation/admin-guide/sysctl/kernel.rst randomize_va_space: 0 no randomization, 1 no
    # brk (heap) randomization, 2 full: only 2 is ASLR
    "kernel.randomize_va_space": (2,),
    # kernel.rst perf_event_paranoid: 1 lets any user profile the kernel (and, with kptr_restrict
    # 0, read real addresses in /proc/kallsyms: kernel/ksyms_common.c kallsyms_for_perf); 2 is
    # the kernel's default since 4.6; Debian's and Ubuntu's patches add 3 and 4 (no perf at all)
    "kernel.perf_event_paranoid": {"min": 2},
    # kernel.rst unprivileged_bpf_disabled: 0 lets any user load BPF programs (the verifier's
    # CVEs: CVE-2021-3490, CVE-2022-23222); 1 off until reboot, 2 off (CONFIG_BPF_UNPRIV_DEFAULT_OFF)
    "kernel.unprivileged_bpf_disabled": (1, 2),
    # kernel.rst dmesg_restrict: 0 lets any user read the kernel log (addresses, other tenants'
    # messages) through syslog(2) and /dev/kmsg
    "kernel.dmesg_restrict": (1,),
    # Documentation/admin-guide/sysctl/fs.rst suid_dumpable: 1 ("debug") dumps, and keeps
    # ptrace-able, processes that changed credentials: "insecure"; 0 and 2 (root-only dumps,
    # Ubuntu's apport sets it) are not
    "fs.suid_dumpable": (0, 2),
    # fs.rst protected_hardlinks: 0 lets a user hard-link files it cannot write (CVE-style
    # time-of-check races on setuid programs, a quota escape): every distribution sets 1
    "fs.protected_hardlinks": (1,),
    # fs.rst protected_symlinks, protected_fifos, protected_regular: guard against links, FIFOs
    # and files planted in a sticky world-writable directory shared with another uid. This host
    # has 0 (Ubuntu 1, 1, 2): recorded, every value allowed, since the sandbox's sticky /tmp is
    # its own tmpfs with one uid (PR-MOUNT-1, PR-WW-1), so no other user's process follows a
    # link it plants there; a profile that shares one demands 1 in its [host_kernel]
    "fs.protected_symlinks": (0, 1),
    "fs.protected_fifos": (0, 1, 2),
    "fs.protected_regular": (0, 1, 2),
    # Documentation/admin-guide/sysctl/vm.rst mmap_min_addr: 0 lets a process map page 0, the
    # kernel's NULL dereferences exploitable; CONFIG_DEFAULT_MMAP_MIN_ADDR is 4096 (Debian) or
    # 65536 (Ubuntu)
    "vm.mmap_min_addr": {"min": 4096},
    # kernel.rst kptr_restrict: 0 hides addresses in %pK only from processes without CAP_SYSLOG
    # when perf_event_paranoid >= 2; this host has 0. Recorded; what it is for is judged by
    # its effect: /proc/kallsyms read from inside (PR-HOSTK-1's kallsyms, HOST_KALLSYMS)
    "kernel.kptr_restrict": (0, 1, 2),
}
"""The host-wide kernel settings PR-HOSTK-1 reads from inside, and the values a profile allows
unless its ``[host_kernel]`` says otherwise. Left out: kernel.yama.ptrace_scope (no Yama on this
host; ptrace is refused by seccomp and the missing CAP_SYS_PTRACE, PR-PTRACE-1),
vm.unprivileged_userfaultfd and kernel.io_uring_disabled (their syscalls are denied by the
default profile's filter), kernel.modules_disabled and kexec_load_disabled (absent here)."""
HOST_KALLSYMS: dict[str, str] = {
    # kernel/kallsyms.c s_show: every address printed 0 when kallsyms_show_value() says no for the
    # opener's credentials (kernel/ksyms_common.c); a process without CAP_SYSLOG must see zeros
    "docker": "hidden",
    "runc": "hidden",
    "podman": "hidden",
    "kubernetes": "hidden",
    # gVisor: no /proc/kallsyms at all (pkg/sentry/fsimpl/proc/tasks_files.go lists none); observed
    "runsc": "absent",
}
"""What /proc/kallsyms must show the sandbox: "hidden" (readable, every address 0) or "absent"."""
HOST_CORE_HELPERS = (
    # Ubuntu's apport (GitHub's ubuntu-22.04 runners: "|/usr/share/apport/apport -p%p -s%s ...")
    "/usr/share/apport/apport",
    # systemd's handler (GitHub's ubuntu-24.04 runners since actions/runner-images#11120; Fedora)
    "/lib/systemd/systemd-coredump",
    "/usr/lib/systemd/systemd-coredump",
)
"""kernel.core_pattern: a pattern starting with "|" runs a helper as root in the host's initial
namespaces for every crash, in any sandbox, fed the crashed process's memory (fs/coredump.c
do_coredump; a core limit of 0 does not stop it: only 1 does, for a pipe). A file pattern
writes the core in the crashed process's own mount namespace. PR-HOSTK-1 allows a file pattern
and a pipe to one of these distributions' handlers (named in the reason); any other helper
FAILs, named."""
SENTRY_HOST_KERNEL_UNSHOWN = frozenset(HOST_KERNEL) - {"vm.mmap_min_addr"}
"""runsc: the host-wide settings gVisor's /proc/sys does not show: its kernel/, fs/ and vm/ hold
only the sentry's own few files (pkg/sentry/fsimpl/proc/tasks_sys.go; vm.mmap_min_addr is the
sentry's platform minimum). Observed with runsc 20221219 here: only vm.mmap_min_addr 4096."""
SENTRY_WHY = (
    "gVisor's /proc/sys is the sentry's own: the host's values, which still govern the sentry and its"
    " gofer as host processes, cannot be read from inside"
)
RUNSC_UNVERIFIED: dict[str, tuple[str, str]] = {
    "PR-HOSTK-1": ("not shown inside: fs.protected_fifos", SENTRY_WHY),
}
"""The default profile's UNVERIFIED probes under runsc, beside RUNSC_TRUE_FAILS: what gVisor
hides from the sandbox, so no verdict can be observed (``tests/test_runsc.py``)."""
RUNSC_NOT_PASSING = frozenset(RUNSC_TRUE_FAILS) | frozenset(RUNSC_UNVERIFIED)
