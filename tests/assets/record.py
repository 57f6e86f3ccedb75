"""Re-record the real bundles in tests/assets/bundles from live runs (Docker, runc, gVisor).

    .venv/bin/python -m tests.assets.record [runsc]

Given ``runsc``, only the gVisor bundle (runsc-default.json, its mountinfo) is recorded: it
needs runsc installed and takes ~5 s. Given ``podman``, only root podman's passing bundle and
its inspect document (engine/podman-default.json); it needs podman installed.

Run after a change to the inspector or the bundle format; the verifier tests then
judge what the current harness really writes.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sandproof import attest, engineview, profile, weaken
from sandproof.engineview.docker import DockerInspect
from sandproof.engineview.podman import PodmanInspect
from sandproof.engineview.runc import RuncState
from tests.seedv1 import to_seed_v1

HERE = Path(__file__).parent
RUN_DATE = "2026-11-28"
EVIDENCE = f"sandbox-attestation-evidence-local-{RUN_DATE}.json"


def _run(prof: profile.Profile, claim: profile.Profile, runtime: str, name: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        attest.attest(prof, claim=claim, runtime=runtime, out=Path(tmp), run_date=RUN_DATE)
        shutil.copy(Path(tmp) / EVIDENCE, HERE / "bundles" / f"{name}.json")
        data = json.loads((Path(tmp) / EVIDENCE).read_text())
        assert isinstance(data, dict)
        return data


KEPT: dict[str, Mapping[str, Any]] = {}


class _KeptInspect(DockerInspect):
    def record(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        KEPT["docker"] = raw
        return super().record(raw)


class _KeptState(RuncState):
    def record(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        KEPT["runc"] = raw
        return super().record(raw)


class _KeptPodman(PodmanInspect):
    def record(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        KEPT["podman"] = raw
        return super().record(raw)


def _without_env_values(doc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(doc))
    out["Config"]["Env"] = [e.split("=", 1)[0] + "=<value>" for e in out["Config"]["Env"]]
    process = out.get("OCIConfig", {}).get("process", {})  # podman: the OCI config beside its inspect
    if "env" in process:
        process["env"] = [e.split("=", 1)[0] + "=<value>" for e in process["env"]]
    return out


def record_podman() -> None:
    """Root podman's passing run and the inspect document its view was read from. The
    document's CreateCommand repeats the argv (recorded in the bundle anyway)."""
    default = profile.load("default")
    adapter = engineview.ADAPTERS["podman"]
    engineview.ADAPTERS["podman"] = _KeptPodman()
    try:
        _run(default, default, "podman", "podman-default-pass")
    finally:
        engineview.ADAPTERS["podman"] = adapter
    doc = _without_env_values(KEPT["podman"])
    (HERE / "engine" / "podman-default.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _engine_documents() -> None:
    """The whole documents the engines answered for the two passing runs (the evidence keeps
    only their compared fields): tests/test_engineview.py changes them one field at a time.
    Environment values are replaced; the names stay."""
    docker = _without_env_values(KEPT["docker"])
    for runtime, doc in (("docker", docker), ("runc", KEPT["runc"])):
        (HERE / "engine" / f"{runtime}-default.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def record_runsc() -> None:
    """The default profile under gVisor: it FAILs exactly runtime_defaults.RUNSC_TRUE_FAILS."""
    default = profile.load("default")
    data = _run(default, default, "runsc", "runsc-default")
    (HERE / "mountinfo-runsc-default.txt").write_text(data["raw"]["mountinfo"])  # type: ignore[index]


def main(argv: list[str]) -> None:
    if argv == ["runsc"]:
        record_runsc()
        return
    if argv == ["podman"]:
        record_podman()
        return
    default, seed = profile.load("default"), profile.load("b4-prime-seed")
    by_name = {w.name: w for w in weaken.WEAKENINGS}
    (HERE / "engine").mkdir(exist_ok=True)
    adapters = dict(engineview.ADAPTERS)
    engineview.ADAPTERS.update(docker=_KeptInspect(), runc=_KeptState())
    try:
        docker_pass = _run(default, default, "docker", "docker-default-pass")
        _run(default, default, "runc", "runc-default-pass")
    finally:
        engineview.ADAPTERS.update(adapters)
    _engine_documents()
    _run(seed, seed, "docker", "docker-seed-nostart")
    host_net = _run(by_name["host-network"].apply(default), default, "docker", "docker-weak-host-network")
    _run(by_name["exec-allowed"].apply(default), default, "runc", "runc-weak-exec-allowed")
    for name, data in (("seed-v1-docker-default", docker_pass), ("seed-v1-docker-host-network", host_net)):
        (HERE / "bundles" / f"{name}.json").write_text(json.dumps(to_seed_v1(data), indent=2) + "\n")
    for name, src in (
        ("docker", docker_pass),
        ("runc", json.loads((HERE / "bundles/runc-default-pass.json").read_text())),
    ):
        (HERE / f"mountinfo-{name}-default.txt").write_text(src["raw"]["mountinfo"])  # type: ignore[index]
    record_runsc()
    record_podman()


if __name__ == "__main__":
    main(sys.argv[1:])
