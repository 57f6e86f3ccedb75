"""The sweep's order inside the harness: calls that change the sweeping process when a
filter lets them through come after everything that forks.

An allowlist flipped to SCMP_ACT_ALLOW (weakening ``allowlist-default-allow``) lets the
random unshare draws through; one holding CLONE_NEWUSER|CLONE_NEWPID puts every later
child of the sweep into a new PID namespace. The table sweep's first hazard child became
that namespace's init and left (``exit`` let through); from then on fork() answers ENOMEM
(pid_namespaces(7); kernel/pid.c: alloc_pid once PIDNS_ADDING is cleared) and the probe
raised instead of recording the table, an ERROR where a FAIL was due."""

from __future__ import annotations

from typing import Any

from sandproof.inspector import isolate, syscalls
from sandproof.inspector.probes import sweep as inside

NEWUSER_NEWPID = syscalls.CLONE_NAMESPACE_FLAGS["CLONE_NEWUSER"] | syscalls.CLONE_NAMESPACE_FLAGS["CLONE_NEWPID"]


def _params() -> dict[str, Any]:
    hazards = ["exit", "exit_group", "fork"]
    return {
        "calls": [{"name": "unshare", "class": "base", "args": [NEWUSER_NEWPID]}],
        "groups": [],
        "random": {},
        "table": {
            "arches": {syscalls.machine(): [*hazards, "getppid"]},
            "args": [-1] * 6,
            "overrides": {},
            "hazards": hazards,
            "timeout": 5.0,
        },
    }


def test_an_unshare_let_through_cannot_starve_the_table_sweep_of_forks() -> None:
    # unfiltered, as root (the test command's user): every call here gets through, as under the weakening
    obs = isolate.run(lambda: inside.sweep(_params()), timeout=30.0)
    assert "harness_error" not in obs, obs
    assert obs["attempts"] == [{"name": "unshare", "class": "base", "errno": None, "ret": 0}]
    assert obs["table"]["answers"] == {"exit": "exit 255", "exit_group": "exit 255", "fork": "ok", "getppid": "ok"}
