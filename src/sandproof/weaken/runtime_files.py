"""Weakenings of the files a runtime writes into the sandbox (PR-ETC-1): host-chosen names,
addresses, nameservers and search domains in /etc/hosts and /etc/resolv.conf. (``--add-host``
and ``--dns``/``--dns-search``, caught before by the engine's view alone, are
weaken/sharing.py's ``extra-hosts`` and ``dns-servers``, now aimed at PR-ETC-1.)

- sandproof's own ``--dns*`` flags left out: Docker copies the host's nameservers (8.8.8.8
  where they are all loopback) into the sandbox even with ``--network none`` (moby 20.10
  libnetwork sandbox_dns_unix.go setupDNS);
- ``--dns-option`` alone (the resolver's options, no nameserver or domain: a line only the
  inside's exact comparison names, beside the engine view's DnsOptions);
- runc: the host's /etc/hosts bound into a sandbox whose image has none (runc writes no
  /etc file of its own: everything there is the image's or a mount of the config's).

Nothing the sandbox sees caught either before: the first was every default Docker run (and no
check at all saw it), the second only the mount inventory did.
"""

from __future__ import annotations

from typing import Any

from sandproof import runtime_defaults
from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening, oci_edit

TARGET = "PR-ETC-1"


def without_resolv_flags(argv: list[str]) -> None:
    """The rendered docker argv without sandproof's --dns flags (Docker refuses them beside
    another container's network: runconfig ErrConflictNetworkAndDNS)."""
    flags = list(runtime_defaults.DOCKER_RESOLV_FLAGS)
    for i in range(len(argv) - len(flags) + 1):
        if argv[i : i + len(flags)] == flags:
            del argv[i : i + len(flags)]
            return
    raise ValueError("the rendered docker argv has no --dns flags to take away")


def _host_hosts(cfg: dict[str, Any]) -> None:
    cfg["mounts"].append(
        {"destination": "/etc/hosts", "type": "bind", "source": "/etc/hosts", "options": ["rbind", "ro", "nosuid"]}
    )


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "resolv-from-host",
        TARGET,
        "sandproof's --dns flags left out: Docker copies the host's nameservers into resolv.conf",
        mutation=Mutation(docker=without_resolv_flags),
        runtimes=("docker",),
    ),
    Weakening(
        "dns-options",
        TARGET,
        "--dns-option ndots:5 beside sandproof's own: the resolver's options changed, no nameserver",
        mutation=Mutation(docker_args=("--dns-option", "ndots:5")),
        runtimes=("docker",),
    ),
    Weakening(
        "hosts-bound-from-host",
        TARGET,
        "the host's /etc/hosts bound into a sandbox whose image has none",
        mutation=oci_edit(_host_hosts),
        runtimes=("runc",),  # and runsc (weaken/__init__.py RUNSC)
    ),
)
