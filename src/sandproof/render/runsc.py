"""runsc's (gVisor's) command line: it runs the very OCI bundle ``render/runc.py`` renders,
from its own state root, with the network and cgroup flags the profile implies.

The verifier re-renders this argv from the profile and the recorded platform (provenance's
"rendered" check), so nothing here may depend on the host beyond its arguments.
"""

from __future__ import annotations

from pathlib import Path

from sandproof.contract import RUNSC_STATE_ROOT
from sandproof.profile import Profile

STATE_ROOT = RUNSC_STATE_ROOT
PLATFORM = "ptrace"
"""gVisor's default platform, and the only one measured to run here: kvm hung (DESIGN.md);
release 20221219 has no systrap (added in 2023)."""

NETWORK = {"none": "none", "host": "host"}
"""The profile's network mode -> runsc's --network: "none" gives the sandbox a loopback only
(runsc/sandbox/network.go), "host" passes the host's stack through; anything else is
gVisor's own netstack ("sandbox")."""


def flags(profile: Profile, platform: str = PLATFORM) -> list[str]:
    """runsc's global flags for the profile, before the subcommand."""
    # runsc ignores linux.seccomp unless told: the sentry then runs the filter on the
    # sandbox's syscalls (runsc/specutils/seccomp); the profile's own rules decide whether
    seccomp = profile.seccomp.enabled and not profile.security.privileged
    return [
        "--root",
        STATE_ROOT,
        f"--platform={platform}",
        f"--network={NETWORK.get(profile.network.mode, 'sandbox')}",
        # gvisor#3942: under a pids limit the ptrace platform cannot start the host threads
        # it needs (one per task) and the sandbox panics; with this flag runsc leaves the
        # host cgroups alone, so the profile's cgroup limits are NOT applied (PR-CG-* FAIL)
        "--ignore-cgroups",
        *(["--oci-seccomp"] if seccomp else []),
    ]


def argv(
    profile: Profile,
    bundle: Path | str,
    container_id: str,
    *,
    binary: str = "runsc",
    platform: str = PLATFORM,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """``runsc run`` in the foreground: runsc destroys the container when its process exits.
    ``extra``: global flags after the profile's (a mutation's, weaken/runsc.py; never attest's)."""
    return [binary, *flags(profile, platform), *extra, "run", "--bundle", str(bundle), container_id]
