"""Re-express a real inside bundle in the seed's ``b4-prime-sandbox-attestation/inside/v1``
shape (seed §6): the same observations, in the seed's fields only."""

from __future__ import annotations

import errno
from typing import Any

SUCCESS = {"wrote", "connected", "created", "executed", "traced"}


def to_seed_v1(inside: dict[str, Any]) -> dict[str, Any]:
    probes = []
    for r in inside["probes"]:
        if r["probe_id"] == "PR-DYNIMPORT":  # the seed's harness has no build-time record
            continue
        obs = r["observation"]
        if r["kind"] in ("connect", "socket", "exec", "ptrace", "write"):
            code: int | str = 0 if obs.get("outcome") in SUCCESS else getattr(errno, obs["errno"])
        else:
            code = "n/a"
        actual = str(bool(obs["present"])) if r["kind"] == "absent" else r["actual_stderr_or_value"]
        probes.append(
            {
                "probe_id": r["probe_id"],
                "operation": r["operation"],
                "expected": str(r["expected"]),
                "actual_stderr_or_value": actual,
                "errno_or_exit": code,
                "verdict": r["verdict"],
                "artifact_path": "/out/sandbox-attestation-inside.json",
            }
        )
    raw = inside["raw"]
    return {
        "schema": "b4-prime-sandbox-attestation/inside/v1",
        "run_date": inside["run_date"],
        "probes": probes,
        "raw": {"mountinfo": raw["mountinfo"], "env_keyset": raw["env_keyset"], "proc_net_dev": raw["proc_net_dev"]},
        "summary": {
            "total": len(probes),
            "pass": sum(p["verdict"] == "PASS" for p in probes),
            "fail": sum(p["verdict"] == "FAIL" for p in probes),
            "unverified": 0,
        },
    }
