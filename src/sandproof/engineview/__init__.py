"""The engine's own view of the sandbox it made, as a second line of evidence (issue 12):
recorded by the runtime before the container is removed, compared field by field with what
the profile derives. It sees what no probe inside can: a seccomp rule taken away for a call
the kernel refuses an unprivileged caller anyway, an LSM turned off, an OOM killer disabled.

One adapter per runtime (``ADAPTERS``); Podman (inspect, Docker-like) and runsc (OCI state
like runc) plug in as adapters of their own.
"""

from __future__ import annotations

from sandproof.engineview.core import Adapter, Context, OneOf, differences, problem
from sandproof.engineview.docker import DockerInspect
from sandproof.engineview.podman import PodmanInspect
from sandproof.engineview.runc import RuncState

ADAPTERS: dict[str, Adapter] = {"docker": DockerInspect(), "runc": RuncState(), "podman": PodmanInspect()}
"""runtime name -> its adapter."""

__all__ = ["ADAPTERS", "Adapter", "Context", "OneOf", "differences", "problem"]
