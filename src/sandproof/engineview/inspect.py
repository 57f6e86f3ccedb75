"""The projection of an inspect document (Docker's ``GET /containers/{id}/json``, Podman's
``podman container inspect``, which libpod fills in Docker's shape): one reading for both,
what differs between the engines stated as data in each engine's ``Shape``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandproof.engineview.core import COMPARED, Adapter, Inert

OCI_CONFIG = "OCIConfig"
"""Beside an inspect document: the OCI config the engine wrote for the container and handed
its runtime (Podman: the file at ``OCIConfigPath``, read by runtime/watch.py ``with_oci_config``)."""


UNSET_IO_AND_REALTIME: dict[str, object] = {
    # no profile sets a block-I/O weight or throttle, a real-time CPU budget or a memory-node
    # set; each of these is a share of the host the sandbox would be handed beyond its
    # profile (--blkio-weight 1000 was seen only by the argv comparison), unset in both engines
    "BlkioWeight": 0,
    "BlkioWeightDevice": [],
    "BlkioDeviceReadBps": [],
    "BlkioDeviceWriteBps": [],
    "BlkioDeviceReadIOps": [],
    "BlkioDeviceWriteIOps": [],
    "CpuRealtimePeriod": 0,
    "CpuRealtimeRuntime": 0,
    "CpusetMems": "",
}
"""HostConfig fields Docker and Podman record alike, with the value a profile's run has."""

EVERY_RUN: dict[str, object] = {
    # as every profile's run has them: no longer ignored because nobody listed them
    # (engineview/core.py ``unlisted``); the Windows-only ones (CpuCount, CpuPercent,
    # IOMaximum*, Isolation) are compared all the same, as a daemon that read them would
    "Cgroup": "",  # --cgroup container:ID (moby: the cgroup of another container)
    "CpuCount": 0,
    "CpuPercent": 0,
    "IOMaximumBandwidth": 0,
    "IOMaximumIOps": 0,
    "Isolation": "",
    "KernelMemory": 0,
    "Links": [],  # --link: another container's addresses and environment
    "VolumeDriver": "",  # --volume-driver: a plugin serves the volumes
    "AutoRemove": True,  # every run is --rm (render/docker.py): nothing of it outlives the run
}
"""HostConfig fields Docker and Podman record alike, the value every run has."""
CONFIG_UNSET: dict[str, object] = {
    "AttachStdin": False,  # the client's stdin attached (-a stdin): a channel from the host
    "StdinOnce": False,
    "Volumes": {},  # an image's VOLUME: a volume the engine makes and mounts (in Mounts too)
}
"""Config fields Docker and Podman record alike, the value every run has."""


OCI_LINUX: dict[str, object] = {
    # fields of the OCI config's linux that neither engine's inspect keeps, an absent one read
    # as this empty value (``Shape.oci_linux``)
    "seccomp": None,
    "sysctl": {},
    "maskedPaths": [],
    "readonlyPaths": [],
    "devices": [],
    "uidMappings": [],
    "gidMappings": [],
    "mountLabel": "",
}


@dataclass(frozen=True)
class Shape:
    """What one engine's inspect document holds, for ``project``."""

    plain: Mapping[str, object]
    """HostConfig fields kept as they are, an absent or null one read as this empty value."""
    unordered: tuple[str, ...]
    """HostConfig lists whose order the engine does not keep (sorted before they are compared)."""
    top: tuple[str, ...]
    """Text fields at the document's top (AppArmorProfile, ...)."""
    config: tuple[str, ...]
    """Text fields of Config (User, ...)."""
    caps: tuple[str, ...] = ()
    """Capability lists at the document's top (Podman's BoundingCaps, ...): sorted, null as none."""
    host_mounts: bool = False
    """HostConfig.Mounts (the ``--mount`` list) is recorded: Docker keeps it apart from Binds."""
    bare_image: bool = False
    """The image ID comes without its ``sha256:`` (Podman): put back so it compares with the evidence's."""
    oci_linux: Mapping[str, object] = field(default_factory=dict)
    """Fields of ``linux`` in the OCI config beside the document (``OCI_CONFIG``), an absent
    one read as this empty value: what the inspect document does not keep (Podman)."""
    oci: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    """The rest of that OCI config's compared fields, from the whole document (Podman:
    engineview/podman_oci.py ``project``)."""


def obj(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def either(value: Any, empty: Any) -> Any:
    return empty if value is None else value


_DEFAULT_PROPAGATION = ("rprivate", "", None)
"""A bind's propagation as both engines default it (moby volume/mounts: rprivate; absent: the default)."""


def project(shape: Shape, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The compared fields of an inspect document, keyed by the engine's own field names."""
    hc, cfg = obj(raw["HostConfig"]), obj(raw["Config"])
    fields: dict[str, Any] = {f"HostConfig.{k}": either(hc.get(k), empty) for k, empty in shape.plain.items()}
    for k in shape.unordered:
        fields[f"HostConfig.{k}"] = sorted(fields[f"HostConfig.{k}"])
    limits = sorted(either(hc.get("Ulimits"), []), key=lambda u: str(u.get("Name")))
    fields["HostConfig.Ulimits"] = [{"Name": u["Name"], "Soft": u["Soft"], "Hard": u["Hard"]} for u in limits]
    if shape.host_mounts:
        fields["HostConfig.Mounts"] = sorted(
            [m.get("Type"), m.get("Source"), m.get("Target"), bool(m.get("ReadOnly"))]
            for m in either(hc.get("Mounts"), [])
        )
    log = obj(either(hc.get("LogConfig"), {}))
    fields["HostConfig.LogConfig.Type"] = log.get("Type", "")
    fields["HostConfig.LogConfig.Config"] = either(log.get("Config"), {})
    mounts = either(raw.get("Mounts"), [])
    fields["Mounts"] = sorted([m.get("Type"), m.get("Source"), m.get("Destination"), m.get("RW")] for m in mounts)
    # a mount's propagation other than the engines' default for a bind (a host mount made
    # later showing inside, or the sandbox's mounts showing on the host): none is asked for
    fields["Mounts.Propagation"] = sorted(
        [m.get("Destination"), m.get("Propagation")] for m in mounts if m.get("Propagation") not in _DEFAULT_PROPAGATION
    )
    fields["ExecIDs"] = either(raw.get("ExecIDs"), [])  # a process exec'd in beside the harness
    for k in shape.top:
        fields[k] = raw.get(k, "")
    for k in shape.caps:
        fields[k] = sorted(either(raw.get(k), []))
    image = raw.get("Image", "")
    if shape.bare_image:
        image = str(image) if str(image).startswith("sha256:") else f"sha256:{image}"
    fields["Image"] = image
    for k in shape.config:
        fields[f"Config.{k}"] = cfg.get(k, "")
    for k, empty in CONFIG_UNSET.items():
        fields[f"Config.{k}"] = either(cfg.get(k), empty)
    if isinstance(fields.get("Config.Healthcheck"), dict):
        # the command the engine runs inside every interval (["NONE"]: none, moby daemon/health.go);
        # its timing is inert without one
        fields["Config.Healthcheck"] = fields["Config.Healthcheck"].get("Test")
    # names only: a value never leaves the engine's document
    fields["Config.Env"] = sorted(str(e).split("=", 1)[0] for e in either(cfg.get("Env"), []))
    fields["Config.ExposedPorts"] = sorted(either(cfg.get("ExposedPorts"), {}))
    if shape.oci_linux:
        linux = obj(either(obj(raw[OCI_CONFIG]).get("linux"), {}))
        for k, empty in shape.oci_linux.items():
            fields[f"{OCI_CONFIG}.linux.{k}"] = either(linux.get(k), empty)
    if shape.oci is not None:
        fields |= shape.oci(raw)
    return fields


ENGINE_CHOSEN = Inert("chosen by the engine for this container (an ID, a name, a time, a path of its own)")
COMMAND = Inert("the command the engine started: the argv (bound by the rendered check) names it")
LIFECYCLE = Inert("the container's lifecycle and counters, not its shape")
NETWORK = Inert("the engine's account of the network HostConfig.NetworkMode and PortBindings (compared) asked for")
SHARED_LISTING: dict[str, str | Inert] = {
    # the top of the document
    "AppArmorProfile": COMPARED,
    "ProcessLabel": COMPARED,
    "MountLabel": COMPARED,
    "Image": COMPARED,
    "ExecIDs": COMPARED,
    "Mounts[].Type": COMPARED,
    "Mounts[].Source": COMPARED,
    "Mounts[].Destination": COMPARED,
    "Mounts[].RW": COMPARED,
    "Mounts[].Propagation": COMPARED,
    "Mounts[].Mode": Inert("the -v mode text: whether it writes is RW (compared), the rest HostConfig.Binds"),
    "Args": COMMAND,
    "Path": COMMAND,
    "Created": ENGINE_CHOSEN,
    "Id": ENGINE_CHOSEN,
    "Name": ENGINE_CHOSEN,
    "HostnamePath": ENGINE_CHOSEN,
    "HostsPath": ENGINE_CHOSEN,
    "ResolvConfPath": ENGINE_CHOSEN,
    "Driver": Inert("the host's storage driver for the image's layers (the rootfs's writability is compared)"),
    "GraphDriver": Inert("the storage driver's layer paths on the host, per container"),
    "RestartCount": LIFECYCLE,
    "State": LIFECYCLE,
    "NetworkSettings": NETWORK,
    # Config
    "Config.Cmd": COMMAND,
    "Config.Entrypoint": COMMAND,
    "Config.WorkingDir": Inert("the command's working directory, a path in the image (never a grant)"),
    "Config.Env": COMPARED,
    "Config.ExposedPorts": COMPARED,
    "Config.User": COMPARED,
    "Config.Domainname": COMPARED,
    "Config.OpenStdin": COMPARED,
    "Config.Tty": COMPARED,
    "Config.AttachStdout": Inert("the client reads the output (-a stdout): a channel out to the host's caller"),
    "Config.AttachStderr": Inert("the client reads the errors (-a stderr): as AttachStdout"),
    "Config.Hostname": Inert("the UTS name in the sandbox's own namespace, the container ID's prefix"),
    "Config.Image": Inert("the image as the client named it; what ran is Image (compared)"),
    "Config.Labels": Inert("metadata for the host's tools: no engine reads a label at run time"),
    "Config.OnBuild": Inert("only read by docker build"),
    "Config.StopSignal": Inert("the signal that stops the container: ends the run, grants nothing"),
    "Config.StopTimeout": Inert("the time before the engine kills the container: ends the run, grants nothing"),
    "HostConfig.Ulimits": COMPARED,
    "HostConfig.LogConfig.Type": COMPARED,
    "HostConfig.LogConfig.Config": COMPARED,
    "HostConfig.ConsoleSize": Inert("a terminal's size: there is none (Config.Tty is compared)"),
    "HostConfig.ContainerIDFile": Inert("a file the client writes on the host; the engine never reads it"),
    **{f"HostConfig.{k}": COMPARED for k in (*UNSET_IO_AND_REALTIME, *EVERY_RUN)},
    **{f"Config.{k}": COMPARED for k in CONFIG_UNSET},
}
"""The fields Docker and Podman record alike (each engine's listing adds its own)."""


def unset() -> dict[str, object]:
    """What ``project`` adds for both engines, as every run has it."""
    return {
        "HostConfig.LogConfig.Config": {},  # the log driver's options (the driver, "none", compared)
        "Mounts.Propagation": [],
        "ExecIDs": [],
        **{f"Config.{k}": v for k, v in CONFIG_UNSET.items()},
    }


class Inspect(Adapter):
    """An engine whose view is an inspect document of ``shape``."""

    shape: Shape

    def project(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return project(self.shape, raw)
