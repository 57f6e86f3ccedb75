"""Identity and capabilities: the status fields as the sandbox handed them over (read at start)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import STARTUP, Observation, Probe


def startup_status(params: Mapping[str, Any]) -> Observation:
    status = STARTUP.get("status", {})
    return {"status": {k: status.get(k) for k in params["fields"]}}


def startup_fields(params: Mapping[str, Any]) -> Observation:
    """The status fields, and the same facts as prctl answered them (``startup.behaviour``)."""
    asked = STARTUP.get("prctl", {})
    return {**startup_status(params), "prctl": {k: asked[k] for k in params["fields"] if k in asked}}


PROBES: dict[str, Probe] = {
    "identity": startup_fields,
    "status": startup_fields,
}
