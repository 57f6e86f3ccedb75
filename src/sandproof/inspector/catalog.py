"""The probes: their IDs (the seed's §6), what each does and the requirement it proves.

Data only; the host reads it to bind probes to matrix rows, the harness to run them.
"""

from __future__ import annotations

from typing import NamedTuple


class ProbeInfo(NamedTuple):
    kind: str
    """Which probe function runs and which judge applies."""
    operation: str
    requirement: str
    """The rev4 matrix row the seed binds it to (seed §7)."""


PROBES: dict[str, ProbeInfo] = {
    "PR-NET-1": ProbeInfo("connect", "connect to the profile's probe target", "#27"),
    "PR-NET-2": ProbeInfo("ifaces", "read /proc/net/dev", "#27"),
    "PR-SOCK-1": ProbeInfo("socket", "socket(AF_INET, SOCK_STREAM)", "#25"),
    "PR-ENV-1": ProbeInfo("env", "os.environ.keys(): exactly the declared names", "#28"),
    "PR-FS-RO-IN": ProbeInfo("write", "open the input dir's __probe for writing", "#33"),
    "PR-IN-1": ProbeInfo("listing", "list the input dir: exactly the plan and the packet attest put there", "#33"),
    "PR-OUT-1": ProbeInfo("listing", "list the output dir before anything writes there: empty", "#33"),
    "PR-FS-ESC-1": ProbeInfo("write", "open /etc/__probe for writing", "#29"),
    "PR-FS-ESC-2": ProbeInfo("write", "open the workdir's __probe for writing", "#29"),
    "PR-FS-OUT-OK": ProbeInfo("write", "open a file in the output dir for writing (positive control)", "#33"),
    "PR-EXEC-1": ProbeInfo("exec", "execve the sandbox's own python", "#34"),
    "PR-MOUNT-1": ProbeInfo("mounts", "read /proc/self/mountinfo: exactly the mounts the profile implies", "#29"),
    "PR-KPATH-1": ProbeInfo("kpaths", "stat and read the runtime's masked and read-only kernel paths", "SP-KERNEL"),
    "PR-DEV-1": ProbeInfo("devices", "list every node under /dev and the devices cgroup", "SP-DEVICES"),
    "PR-SOCK-DOCKER": ProbeInfo("absent", "look for container-engine sockets", "#36"),
    "PR-PTRACE-1": ProbeInfo("ptrace", "ptrace(PTRACE_TRACEME)", "#37"),
    # beyond the seed: one probe per claim of the profile (sandproof matrix rows)
    "PR-ID-1": ProbeInfo(
        "identity", "read Uid, Gid, Groups, Umask from /proc/self/status at start (the umask also by umask(2))", "SP-ID"
    ),
    "PR-CAP-1": ProbeInfo("status", "read CapInh, CapPrm, CapEff, CapBnd, CapAmb at start", "SP-CAPS"),
    "PR-NNP-1": ProbeInfo("status", "read NoNewPrivs at start, before the harness sets it itself", "SP-NNP"),
    "PR-SECCOMP-1": ProbeInfo("status", "read Seccomp and Seccomp_filters at start", "SP-SECCOMP"),
    "PR-SECCOMP-SWEEP": ProbeInfo(
        "sweep",
        "call every denied syscall without libc: over every small argument set in full, by class, and at random",
        "SP-SECCOMP",
    ),
    "PR-SECCOMP-ABI": ProbeInfo(
        "abi", "at start, getpid through the i386 (int 0x80) and x32 ABIs, without libc", "SP-SECCOMP"
    ),
    "PR-THREAD-1": ProbeInfo("thread", "start a thread (positive control: clone3 must fall back)", "SP-SECCOMP"),
    "PR-USERNS-1": ProbeInfo("userns", "create a user namespace by unshare, clone and clone3", "SP-NS"),
    "PR-NS-PID": ProbeInfo("ns", "readlink /proc/self/ns/pid", "SP-NS"),
    "PR-NS-IPC": ProbeInfo("ns", "readlink /proc/self/ns/ipc", "SP-NS"),
    "PR-NS-UTS": ProbeInfo("ns", "readlink /proc/self/ns/uts", "SP-NS"),
    "PR-NS-TIME": ProbeInfo("ns", "readlink /proc/self/ns/time and time_for_children", "SP-NS"),
    "PR-TMP-NOEXEC": ProbeInfo("mmap_exec", "mmap a file of the scratch tmpfs with PROT_EXEC", "SP-FS-TMP"),
    "PR-SUID-1": ProbeInfo(
        "walk", "walk every non-pseudo filesystem for setuid/setgid files and device nodes", "SP-SETID"
    ),
    "PR-SOCK-ANY": ProbeInfo("walk", "walk every non-pseudo filesystem for unix sockets", "SP-ENGINE"),
    "PR-WW-1": ProbeInfo(
        "walk", "walk every non-pseudo filesystem for world-writable directories (the image's too)", "SP-IMAGE"
    ),
    "PR-FCAP-1": ProbeInfo(
        "walk", "walk every non-pseudo filesystem for file capabilities (security.capability)", "SP-SETID"
    ),
    "PR-ROOTFS-1": ProbeInfo(
        "walk",
        "in the same walk, digest every entry of the root filesystem per top-level directory: exactly the image",
        "SP-IMAGE",
    ),
    "PR-FD-1": ProbeInfo(
        "fds", "list /proc/self/fd at start; stdio's file type and access mode; stdin ends at once", "SP-LEAK"
    ),
    "PR-CG-PIDS": ProbeInfo("cgroup", "read pids.max (cgroup v1 or v2)", "SP-LIMITS"),
    "PR-CG-MEM": ProbeInfo("cgroup", "read the memory and memory+swap limits (cgroup v1 or v2)", "SP-LIMITS"),
    "PR-CG-CPU": ProbeInfo("cgroup", "read the CFS quota and period (cgroup v1 or v2)", "SP-LIMITS"),
    "PR-PROC-1": ProbeInfo(
        "procs",
        "list /proc at start and now: only the harness's tree, PID 1 the entrypoint itself, in the workdir",
        "SP-PROC",
    ),
    "PR-NS-CGROUP": ProbeInfo("cgroupns", "readlink /proc/self/ns/cgroup, read /proc/self/cgroup", "SP-NS"),
    "PR-NS-USER": ProbeInfo("idmap", "read /proc/self/uid_map and gid_map", "SP-NS"),
    "PR-RLIMIT-1": ProbeInfo("rlimits", "read /proc/self/limits at start: every rlimit, soft and hard", "SP-LIMITS"),
    "PR-SCHED-1": ProbeInfo(
        "status",
        "ask the kernel what the runtime's caller handed down: personality, nice, policy, I/O class, KSM,"
        " timer slack, blocked and ignored signals",
        "SP-LIMITS",
    ),
    "PR-SYSCTL-1": ProbeInfo("sysctls", "read the namespaced sysctls under /proc/sys", "SP-SYSCTL"),
    "PR-HOSTK-1": ProbeInfo(
        "hostk",
        "read the host-wide kernel settings under /proc/sys (ASLR, perf, BPF, dmesg, dumps, links, page 0) and"
        " whether /proc/kallsyms shows kernel addresses",
        "SP-KERNEL",
    ),
    "PR-CG-OOM": ProbeInfo("cg_oom", "read memory.oom_control (cgroup v1; v2 has no switch)", "SP-LIMITS"),
    "PR-CG-SHARES": ProbeInfo(
        "cg_shares", "read cpu.shares (cgroup v1) or cpu.weight (v2), and the block I/O weights", "SP-LIMITS"
    ),
    "PR-ETC-1": ProbeInfo(
        "etcfiles",
        "read /etc/hosts, /etc/hostname, /etc/resolv.conf and /run/.containerenv: exactly the runtime's own lines",
        "SP-RUNTIME-FILES",
    ),
    "PR-INTEGRITY-1": ProbeInfo("maps", "hash every file mapped into the harness's own process", "SP-INTEGRITY"),
    # seed §7: "#35 (PR-DYNIMPORT) is a build-time L2 check, not an OS probe": run on the
    # host over the inspector's exact bytes and merged into the evidence
    "PR-DYNIMPORT": ProbeInfo("static", "AST scan of the inspector for dynamic imports and code loading", "#35"),
}

HOSTNAME_TOKEN = "<hostname>"
"""In PR-ENV-1's runtime values: the container's own hostname, which only the inside knows."""

OUTSIDE_PROBES = frozenset({"PR-DYNIMPORT"})
"""Probes the host runs at build time rather than the harness inside."""

ENGINE_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/podman/podman.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
)


SHAREABLE = frozenset({"walk"})
"""Kinds whose observation, for the same parameters, serves several claims."""
READ_ONLY = frozenset(
    {
        "ifaces",
        "env",
        "mounts",
        "kpaths",
        "listing",
        "devices",
        "absent",
        "identity",
        "status",
        "abi",
        "ns",
        "walk",
        "fds",
        "cgroup",
        "cgroupns",
        "idmap",
        "rlimits",
        "sysctls",
        "hostk",
        "cg_oom",
        "cg_shares",
        "maps",
        "etcfiles",
    }
)
"""Kinds that only read what the runtime set up (/proc, /sys, /dev, the startup snapshot): run in
the harness itself, which saves a fork each (~1.5 ms). Anything that tries an operation, and
anything that opens files a hostile sandbox could have placed (the walk, the mapped files),
runs in a forked child with a deadline."""
PSEUDO_FS = frozenset(
    {
        "proc",
        "sysfs",
        "cgroup",
        "cgroup2",
        "devpts",
        "mqueue",
        "securityfs",
        "debugfs",
        "tracefs",
        "bpf",
        "configfs",
        "fusectl",
        "pstore",
    }
)
"""Filesystem types the walk skips and the crosscheck expects: the kernel's views, not files."""
