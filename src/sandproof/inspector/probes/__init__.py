"""The probing side: one module per concept, each a ``PROBES`` table of kind -> probe function.

A probe runs in the harness (read-only kinds) or in a forked child (``isolate``) and returns
an observation: facts only, never a verdict. Probes may use ctypes, raw syscalls, fork and
the guard; the judging side (``judges/``) never imports anything from here.
"""

from __future__ import annotations

from . import etcfiles, filesystem, hostkernel, identity, leaks, limits, namespaces, network, seccomp, sweep
from .common import Probe

PROBE_FUNCTIONS: dict[str, Probe] = {}
for _concept in (network, filesystem, identity, seccomp, sweep, namespaces, limits, leaks, etcfiles, hostkernel):
    if set(PROBE_FUNCTIONS) & set(_concept.PROBES):  # one kind, one probe
        raise RuntimeError(f"kinds probed twice: {sorted(set(PROBE_FUNCTIONS) & set(_concept.PROBES))}")
    PROBE_FUNCTIONS.update(_concept.PROBES)
