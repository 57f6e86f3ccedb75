"""Per call, the Docker engine asked three ways: the stdlib on the unix socket (what
``runtime/engine_api.py`` does), the ``docker`` CLI, and the ``docker`` SDK for Python when
it is importable (it is not a dependency: ``pip install --target DIR docker`` and pass
``--sdk DIR`` to include it). Medians of N calls, one session; the engine must be running.

    .venv/bin/python benchmarks/engine_calls.py [--reps N] [--sdk DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from sandproof import profile
from sandproof.runtime.engine_api import EngineAPI

ABSENT = "sandproof-bench-absent"


def _median_ms(call: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _cli(*args: str) -> Callable[[], object]:
    return lambda: subprocess.run(["docker", *args], capture_output=True, check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--sdk", metavar="DIR", help="a directory holding the docker SDK (pip install --target DIR docker)")
    args = ap.parse_args()
    ref = profile.load("default").image.name
    api = EngineAPI.from_environ({})
    assert api is not None
    rows: dict[str, list[Callable[[], object]]] = {
        "version": [api.version, _cli("version", "--format", "{{.Server.Version}}")],
        "image inspect": [lambda: api.image_id(ref), _cli("image", "inspect", "--format", "{{.Id}}", ref)],
        "container exists": [
            lambda: api.container_exists(ABSENT),
            _cli("ps", "--all", "--quiet", "--filter", f"name=^/?{ABSENT}$"),
        ],
        "container remove": [lambda: api.remove_container(ABSENT), _cli("rm", "--force", ABSENT)],
    }
    header = f"{'call':18} {'socket (stdlib)':>16} {'CLI':>10}"
    if args.sdk:
        sys.path.insert(0, args.sdk)
        t0 = time.perf_counter()
        import docker  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415 - optional, measured

        print(f"docker SDK import: {(time.perf_counter() - t0) * 1000:.1f} ms")
        client = docker.APIClient(base_url="unix:///var/run/docker.sock")

        def sdk_remove() -> None:
            with contextlib.suppress(docker.errors.NotFound):
                client.remove_container(ABSENT, force=True)

        rows["version"].append(client.version)
        rows["image inspect"].append(lambda: client.inspect_image(ref))
        rows["container exists"].append(lambda: client.containers(all=True, filters={"name": f"^/?{ABSENT}$"}))
        rows["container remove"].append(sdk_remove)
        header += f" {'SDK':>10}"
    print(header)
    for name, calls in rows.items():
        first, *rest = (_median_ms(c, args.reps) for c in calls)
        print(f"{name:18} {first:13.2f} ms  " + " ".join(f"{t:7.2f} ms" for t in rest))
    print(f"reps={args.reps}, medians")


if __name__ == "__main__":
    main()
