"""The mutation suite: single weakenings of a profile, each aimed at the probe that must
catch it, grouped by the part of the sandbox they weaken."""

from __future__ import annotations

from sandproof.weaken import classic, engine, environment, filesystem, limits, namespaces, seccomp, sharing
from sandproof.weaken.core import Weakening

WEAKENINGS: tuple[Weakening, ...] = (
    *classic.WEAKENINGS,
    *filesystem.WEAKENINGS,
    *environment.WEAKENINGS,
    *seccomp.WEAKENINGS,
    *namespaces.WEAKENINGS,
    *limits.WEAKENINGS,
    *sharing.WEAKENINGS,
    *engine.WEAKENINGS,
)

__all__ = ["WEAKENINGS", "Weakening"]
