"""The projection of an inspect document (Docker's ``GET /containers/{id}/json``, Podman's
``podman container inspect``, which libpod fills in Docker's shape): one reading for both,
what differs between the engines stated as data in each engine's ``Shape``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandproof.engineview.core import Adapter

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
    host_mounts: bool = False
    """HostConfig.Mounts (the ``--mount`` list) is recorded: Docker keeps it apart from Binds."""
    bare_image: bool = False
    """The image ID comes without its ``sha256:`` (Podman): put back so it compares with the evidence's."""
    oci_linux: Mapping[str, object] = field(default_factory=dict)
    """Fields of ``linux`` in the OCI config beside the document (``OCI_CONFIG``), an absent
    one read as this empty value: what the inspect document does not keep (Podman)."""


def obj(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def either(value: Any, empty: Any) -> Any:
    return empty if value is None else value


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
    fields["HostConfig.LogConfig.Type"] = obj(either(hc.get("LogConfig"), {})).get("Type", "")
    fields["Mounts"] = sorted(
        [m.get("Type"), m.get("Source"), m.get("Destination"), m.get("RW")] for m in either(raw.get("Mounts"), [])
    )
    for k in shape.top:
        fields[k] = raw.get(k, "")
    image = raw.get("Image", "")
    if shape.bare_image:
        image = str(image) if str(image).startswith("sha256:") else f"sha256:{image}"
    fields["Image"] = image
    for k in shape.config:
        fields[f"Config.{k}"] = cfg.get(k, "")
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
    return fields


class Inspect(Adapter):
    """An engine whose view is an inspect document of ``shape``."""

    shape: Shape

    def project(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return project(self.shape, raw)
