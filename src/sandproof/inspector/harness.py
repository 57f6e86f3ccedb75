"""The harness: installs the in-process guard, runs the plan's probes one by one in
isolation, judges them for its own exit code and writes the inside bundle atomically.

Exit codes: 0 every probe PASS; 1 any FAIL, ERROR or UNVERIFIED; 2 the harness
could not run or could not write its bundle.

It imports no more of the stdlib than its probes need: the image holds no compiled
bytecode (Debian compiles its Python modules at install time, and the image is assembled
from the packages without running their scripts), so every module is compiled from source
at every start. argparse, pathlib, tempfile and copy, with what they import (gettext,
urllib.parse, ipaddress, shutil, bz2, lzma...), cost ~60 ms of CPU per run (measured in the
container: 112 ms for those beside re, json, os, ctypes, socket and enum, 48 ms without).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from . import catalog, guard, isolate, judge, probes
from .probes import startup
from .probes.common import STARTUP
from .wire import (
    BUNDLE_NAME,
    PLAN_PATH,
    SCHEMA,
    STATUS_KEYS,
    STDOUT_MARKER,
    Plan,
    PlanRow,
    Record,
    Summary,
    Verdict,
    files_sha256,
)

__all__ = ["main", "run_plan"]


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as exc:
        return f"<unreadable: {exc}>"


def _status() -> dict[str, str]:
    out = {}
    for line in _read("/proc/self/status").splitlines():
        key, _, value = line.partition(":")
        if key in STATUS_KEYS:
            out[key] = value.strip()
    return out


def inspector_sha256() -> str:
    """What ran is what was shipped: the hash of this package's sources as found here, by path
    relative to the package (``judges/limits.py``)."""
    here = os.path.dirname(os.path.realpath(__file__))
    files = {}
    for top, dirs, names in os.walk(here):
        dirs.sort()
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(top, name)
                with open(path, "rb") as f:
                    files[os.path.relpath(path, here).replace(os.sep, "/")] = f.read()
    # entry.py becomes the image's main.py, outside the package
    files.pop("entry.py", None)
    return files_sha256(files)


def _copy(value: Any) -> Any:
    """A deep copy of an observation (dicts, lists and tuples of plain values)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_copy(v) for v in value)
    return value


def _record(item: PlanRow, obs: dict[str, Any], elapsed_ms: float, out_path: str) -> Record:
    v = judge.judge(item["kind"], item["expect"], obs)
    err = obs.get("errno")
    return {
        "probe_id": item["probe_id"],
        "operation": item["operation"],
        "expected": item["expect"],
        "actual_stderr_or_value": judge.actual_text(obs, v.reason),
        "errno_or_exit": err if isinstance(err, str) else "n/a",
        "verdict": v.verdict,
        "reason": v.reason,
        "artifact_path": out_path,
        "kind": item["kind"],
        "requirement": item["requirement"],
        "layer": item["layer"],
        "observation": obs,
        "duration_ms": round(elapsed_ms, 2),
    }


def _summary(records: list[Record]) -> Summary:
    def count(verdict: Verdict) -> int:
        return sum(1 for r in records if r["verdict"] == verdict)

    return {
        "total": len(records),
        "pass": count(Verdict.PASS),
        "fail": count(Verdict.FAIL),
        "unverified": count(Verdict.UNVERIFIED),
        "error": count(Verdict.ERROR),
    }


def install_guard(spec: str | None) -> dict[str, Any]:
    """``--guard execve,execveat:EPERM``: the profile's L2 layer, installed before any probe."""
    if not spec:
        return {"installed": False}
    names, _, errno_name = spec.rpartition(":")
    try:
        return {"installed": True, **guard.install(names.split(","), errno_name)}
    except (OSError, KeyError, AttributeError) as exc:
        return {"installed": False, "error": f"{type(exc).__name__}: {exc}"}


def run_plan(
    plan: Plan, out_path: str, guard_info: dict[str, Any], started: float | None = None, run_date: str = "unknown"
) -> dict[str, Any]:
    """``started``: when the harness began (its startup observations count in its duration)."""
    t0 = time.perf_counter() if started is None else started
    records: list[Record] = []
    timeout = float(plan.get("probe_timeout", 3.0))
    seen: dict[str, dict[str, Any]] = {}
    for item in plan["probes"]:
        fn, params = probes.PROBE_FUNCTIONS.get(item["kind"]), item.get("params", {})
        # two claims judged on one observation (the filesystem walk) share one run of it
        key = json.dumps([item["kind"], params], sort_keys=True)
        t = time.perf_counter()
        if fn is None:  # a plan from a newer sandproof: say so in the evidence, do not die
            obs: dict[str, Any] = {"harness_error": f"this inspector has no probe of kind {item['kind']!r}"}
        elif item["kind"] in catalog.SHAREABLE and key in seen:
            obs = _copy(seen[key])
        elif item["kind"] in catalog.READ_ONLY:
            obs = isolate.inline(lambda fn=fn, params=params: fn(params))  # type: ignore[misc]
            seen[key] = obs
        else:
            obs = isolate.run(lambda fn=fn, params=params: fn(params), timeout)  # type: ignore[misc]
            seen[key] = obs
        records.append(_record(item, obs, (time.perf_counter() - t) * 1000, out_path))
    return {
        "schema": SCHEMA,
        "run_date": run_date,
        "profile": plan.get("profile"),
        "plan_sha256": plan.get("sha256"),
        "inspector_sha256": inspector_sha256(),
        "guard": guard_info,
        "probes": records,
        "raw": {
            "mountinfo": _read("/proc/self/mountinfo"),
            "env_keyset": sorted(os.environ),
            "proc_net_dev": _read("/proc/net/dev"),
            "proc_self_status": _status(),
            "startup": dict(STARTUP),
        },
        "summary": _summary(records),
        "harness": {
            "duration_ms": round((time.perf_counter() - t0) * 1000, 2),
            "python": sys.version.split()[0],
            "pid": os.getpid(),
        },
    }


def write_atomic(bundle: Mapping[str, Any], directory: str, name: str = BUNDLE_NAME) -> str:
    """Write to a temp file in the target directory, then rename over the final name."""
    tmp = os.path.join(directory, f".inside-{os.urandom(6).hex()}.json")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(bundle, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, os.path.join(directory, name))
    except BaseException:
        os.unlink(tmp)
        raise
    return os.path.join(directory, name)


FLAGS = ("--attest", "--stdout-bundle")
"""``--attest``: run the probes (the seed's flag); ``--stdout-bundle``: also print the bundle on
stdout after its marker (Kubernetes: /out is the pod's emptyDir, gone with the pod; the host
reads the pod's log)."""
OPTIONS = {"--run-date": "unknown", "--plan": PLAN_PATH, "--out": "/out", "--guard": None}
"""Each option's default. ``--plan``: the probe plan rendered from the profile; ``--guard``:
``SYSCALL[,SYSCALL...]:ERRNO`` to deny in-process before any probe."""


def parse_args(argv: list[str]) -> dict[str, Any]:
    """The flags and options above (``--opt VALUE`` or ``--opt=VALUE``); ValueError names the
    first argument that is neither."""
    got: dict[str, Any] = {**dict.fromkeys(FLAGS, False), **OPTIONS}
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if arg in FLAGS:
            got[arg] = True
        elif name in OPTIONS:
            given = value if eq else next(args, None)
            if given is None or (not eq and given.startswith("--")):
                raise ValueError(f"{name} needs a value")
            got[name] = given
        else:
            raise ValueError(f"unknown argument {arg!r}")
    return got


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        print(f"sandproof-inspector: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    # first acts: note the status, descriptors and foreign ABIs as the sandbox gave them, then stack the
    # guard (which sets no-new-privs and adds a filter itself), before reading any input
    startup.snapshot(_status())
    startup.snapshot_abis()  # the guard refuses foreign ABIs itself: look before it is there
    guard_info = install_guard(args["--guard"])
    try:
        with open(args["--plan"], encoding="utf-8") as f:
            plan: Plan = json.load(f)
        bundle = run_plan(plan, os.path.join(args["--out"], BUNDLE_NAME), guard_info, started, args["--run-date"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"sandproof-inspector: no usable plan at {args['--plan']}: {exc}", file=sys.stderr)
        return 2
    try:
        write_atomic(bundle, args["--out"])
    except OSError as exc:
        # no evidence may be lost: the host reads this line when the file is missing
        print(f"sandproof-inspector: cannot write the bundle to {args['--out']}: {exc}", file=sys.stderr)
        print(STDOUT_MARKER + json.dumps(bundle, sort_keys=True), flush=True)
        return 2
    if args["--stdout-bundle"]:
        print(STDOUT_MARKER + json.dumps(bundle, sort_keys=True), flush=True)
    print(json.dumps(bundle["summary"]))
    s = bundle["summary"]
    return 0 if s["pass"] == s["total"] and s["total"] > 0 else 1
