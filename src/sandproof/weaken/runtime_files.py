"""Weakenings of the files a runtime writes into the sandbox (PR-ETC-1): host-chosen names,
addresses, nameservers and search domains in /etc/hosts and /etc/resolv.conf.

- ``--add-host``: a line of the caller's in /etc/hosts (Docker and podman write it after
  their own; libnetwork etchosts.go Build, podman's etchosts New);
- ``--dns``/``--dns-search``: a resolver and a domain of the caller's in resolv.conf;
- sandproof's own ``--dns*`` flags left out: Docker copies the host's nameservers (8.8.8.8
  where they are all loopback) into the sandbox even with ``--network none`` (moby 20.10
  libnetwork sandbox_dns_unix.go setupDNS);
- runc: the host's /etc/hosts bound into a sandbox whose image has none (runc writes no
  /etc file of its own: everything there is the image's or a mount of the config's).

Each was caught before only by the engine's view (the flags) or the mount inventory (the
bind), never by what the sandbox itself sees.
"""

from __future__ import annotations

from typing import Any

from sandproof import runtime_defaults
from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening, oci_edit

TARGET = "PR-ETC-1"


def _without_resolv_flags(argv: list[str]) -> None:
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
        "hosts-line-added",
        TARGET,
        "--add-host vault.corp:10.9.8.7: a name and address of the caller's in /etc/hosts",
        mutation=Mutation(docker_args=("--add-host", "vault.corp:10.9.8.7")),
        runtimes=("docker", "podman"),
    ),
    Weakening(
        "resolv-nameserver-added",
        TARGET,
        "--dns 10.9.8.7 --dns-search corp.internal: a resolver and a search domain in /etc/resolv.conf",
        mutation=Mutation(docker_args=("--dns", "10.9.8.7", "--dns-search", "corp.internal")),
        runtimes=("docker",),  # podman refuses --dns with --network none
    ),
    Weakening(
        "resolv-from-host",
        TARGET,
        "sandproof's --dns flags left out: Docker copies the host's nameservers into resolv.conf",
        mutation=Mutation(docker=_without_resolv_flags),
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
