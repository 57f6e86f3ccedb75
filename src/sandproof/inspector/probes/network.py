"""Network probes: a connection out, the interfaces, a socket made without libc."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

from .common import Observation, Probe, err, raw, read_text


def connect(params: Mapping[str, Any]) -> Observation:
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        return {**err(exc), "stage": "socket"}
    with s:
        s.settimeout(float(params["timeout"]))
        try:
            s.connect((params["host"], int(params["port"])))
        except TimeoutError:
            return {"outcome": "timed-out", "errno": None, "stage": "connect"}
        except OSError as exc:
            return {**err(exc), "stage": "connect"}
    return {"outcome": "connected", "errno": None, "stage": "connect"}


def ifaces(params: Mapping[str, Any]) -> Observation:
    with open("/proc/net/dev", encoding="utf-8") as f:
        out: Observation = {"proc_net_dev": f.read()}
    if "socket_tables" in params:  # every socket of the namespace, whoever holds it (a plan before: none)
        out["sockets"] = {name: read_text(f"/proc/net/{name}") for name in params["socket_tables"]}
    return out


def sock(params: Mapping[str, Any]) -> Observation:
    fd, err = raw("socket", socket.AF_INET, socket.SOCK_STREAM, 0)
    if err is not None:
        return {"outcome": "error", "errno": err}
    os.close(fd)
    return {"outcome": "created", "errno": None}


PROBES: dict[str, Probe] = {
    "connect": connect,
    "ifaces": ifaces,
    "socket": sock,
}
