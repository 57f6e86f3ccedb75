"""Shared fixtures. Engine tests never skip: a missing engine is a failure.

Under pytest-xdist (``scripts/test.sh``: ``-n auto --dist loadgroup``; a plain ``-n N`` too)
the engine tests of one runtime run in one worker, one after another, and each runtime's in a
worker of its own: what one runtime's tests leave (the image tag Docker swaps, runc's state
directory) is seen only by that runtime's next test. Docker's weakenings alone are two groups
(``SPLIT``): they were the longest. The runtime is the test's ``runtime``
parameter, or the argument of its ``engine`` mark where it has no such parameter
(``@pytest.mark.engine("docker")``); a new runtime's tests join their own group without an
edit here.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import os
import shutil
import stat
import tempfile
import zlib
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from sandproof import hostlock, plan, profile
from sandproof.inspector import judge

ASSETS = Path(__file__).parent / "assets"
EXAMPLE_IN = Path(__file__).resolve().parents[1] / "examples" / "packet-inspector" / "in"
ENGINE_GROUP = "engine"
"""The xdist group of engine tests that name no runtime."""
RUN_DATE = "2026-11-28"


def asset_json(name: str) -> dict[str, Any]:
    data = json.loads((ASSETS / "bundles" / name).read_text())
    assert isinstance(data, dict)
    return data


def planned_row(probe_id: str, runtime: str = "docker", prof: str = "default") -> dict[str, Any]:
    """The plan row of ``probe_id`` for a shipped profile on ``runtime``."""
    return next(r for r in plan.probes(profile.load(prof), runtime) if r["probe_id"] == probe_id)


def recorded_observation(run: str, probe_id: str) -> dict[str, Any]:
    """A copy of ``probe_id``'s observation in the recorded bundle ``run`` (tests/assets/bundles)."""
    rec = next(r for r in asset_json(f"{run}.json")["probes"] if r["probe_id"] == probe_id)
    return copy.deepcopy(rec["observation"])


def judge_planned(probe_id: str, obs: object, runtime: str = "docker") -> judge.Judgement:
    """``obs`` judged by the default profile's plan row of ``probe_id`` on ``runtime``."""
    row = planned_row(probe_id, runtime)
    return judge.judge(row["kind"], row["expect"], obs)


def host_wide(item: pytest.Item) -> bool:
    """A test that changes a host-wide kernel setting (a ``host_wide`` weakening, or marked
    ``host_wide``): it takes the host lock exclusively itself, so it must not hold it shared."""
    callspec = getattr(item, "callspec", None)
    weakening = callspec.params.get("weakening") if callspec is not None else None
    return bool(getattr(weakening, "host_wide", False)) or item.get_closest_marker("host_wide") is not None


_NEXT: dict[str, pytest.Item | None] = {}
"""Each test's successor in this worker, as pytest runs them (``pytest_runtest_protocol``)."""
_HOST_HELD = contextlib.ExitStack()
"""The exclusive host lock, held from the first of a run of host-wide engine tests to its last."""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    _NEXT[item.nodeid] = nextitem


@pytest.fixture(autouse=True)
def _host_kernel_held(request: pytest.FixtureRequest) -> Generator[None]:
    """Every engine test holds the host lock shared (``sandproof.hostlock``): a host-wide weakening
    (ASLR off in /proc/sys, in another worker) waits for it and no engine test runs under one.
    The host-wide ones are one xdist group (``engine_group``), run one after another in one
    worker, and hold it exclusively from the first to the last: each exclusive hold waits for
    every engine test under way elsewhere to end (~2 s of each of three workers) and the
    weakening's own hold inside is then this one again."""
    item = request.node
    if item.get_closest_marker("engine") is None:
        yield
        return
    if not host_wide(item):
        with hostlock.shared():
            yield
        return
    if hostlock.held() != "exclusive":
        _HOST_HELD.enter_context(hostlock.exclusive())
    try:
        yield
    finally:
        following = _NEXT.pop(item.nodeid, None)
        if following is None or following.get_closest_marker("engine") is None or not host_wide(following):
            _HOST_HELD.close()


@pytest.fixture(scope="session")
def learned_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sandproof learn` of the example, once per worker: a default-deny allowlist profile. The
    allowlist test and the run loop attest under it on the same runtime, in the same worker (its
    group); each learned it again before, two traced runs of runc more in each runtime's group."""
    from sandproof.cli import main  # noqa: PLC0415 - only the engine tests that ask for it

    path = tmp_path_factory.mktemp("learned") / "learned.toml"
    assert main(["learn", "--image", "example", "--runs", "2", "--in", str(EXAMPLE_IN), "--out", str(path)]) == 0
    return path


@pytest.fixture
def docker_pass() -> dict[str, Any]:
    return asset_json("docker-default-pass.json")


@pytest.fixture
def runc_pass() -> dict[str, Any]:
    return asset_json("runc-default-pass.json")


# The cyclic collector's defaults (700 allocations, then every 10th and 100th pass) made a
# full collection walk every live object, the ~2,600 collected tests and hypothesis' state
# included, dozens of times per worker: 20% of the unit tests' CPU here (measured with
# gc.callbacks over tests/test_receipt.py, test_engineview*, test_verify_hostile, test_model,
# test_crosscheck and test_judge: 5.6 s of 28.8 s). Collecting less often keeps cycles for a
# while, bounded; what collection built is frozen out of every later pass (gc.freeze).
GC_THRESHOLD = (50_000, 20, 20)


def pytest_configure() -> None:
    gc.set_threshold(*GC_THRESHOLD)


def pytest_collection_finish() -> None:
    gc.collect()
    gc.freeze()


# Docker's weakenings (tests/test_engine.py, one run each, ~220 after one another) made the
# longest group: its worker ran nothing else and finished last or nearly (434 s of a 445 s
# suite, measured with per-test durations summed per group). Half of them, by a hash of the
# name (the same split every run), make a second Docker group another worker runs meanwhile.
# The engine serves two runs at once as it serves runs of the other groups beside Docker's:
# each has its own container name, scratch directory and volumes, the image under its tag is
# kept by image.in_use while a run uses it, the leftover reaper never takes a live run's.
SPLIT = frozenset({"docker"})


HOST_GROUP = f"{ENGINE_GROUP}-host-wide"
"""The engine tests that change a host-wide kernel setting, whatever runtime they run on."""


def engine_group(item: pytest.Item) -> str | None:
    """The xdist group of an engine test: the runtime it runs on (Docker's weakenings in two
    groups by a hash of the name: SPLIT); None for the others."""
    mark = item.get_closest_marker("engine")
    if mark is None:
        return None
    if host_wide(item):  # one after another, under one exclusive hold (_host_kernel_held)
        return HOST_GROUP
    callspec = getattr(item, "callspec", None)
    runtime = callspec.params.get("runtime") if callspec is not None else None
    if runtime is None:
        runtime = mark.args[0] if mark.args else mark.kwargs.get("runtime")
    if not isinstance(runtime, str):
        return ENGINE_GROUP
    weakening = callspec.params.get("weakening") if callspec is not None else None
    if runtime in SPLIT and weakening is not None and zlib.crc32(weakening.name.encode()) % 2:
        return f"{ENGINE_GROUP}-{runtime}-2"
    return f"{ENGINE_GROUP}-{runtime}"


# The suite ends when its last unit test does. In collection order the few tests of several
# seconds (a property test of 14 s) came last, and one worker ran one of them alone while the
# others had finished (the workers' ends 18 s apart, measured with per-test start and stop).
# Marked ``long``, they are handed out first among the unit tests, so what is left at the end
# is short.


# xdist's loadgroup hands a test's group from the worker to the scheduler by appending
# "@group" to its node id; pytest 9.2's structured node ids ignore that, and every test is
# scheduled alone, groups or not (pytest-xdist#1386). The workers write each grouped test's
# group to a file instead and the scheduler reads it there.
GROUPS_KEY = "sandproof_engine_groups"
_GROUPS_DIR: list[Path] = []


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Generator[None]:
    grouped = {}
    if config.pluginmanager.hasplugin("xdist"):
        for item in items:
            group = engine_group(item)
            if group is not None:
                item.add_marker(pytest.mark.xdist_group(group))
                grouped[item] = group
    yield  # xdist's own hook may rename the items here: the file names them as the scheduler will
    where = getattr(config, "workerinput", {}).get(GROUPS_KEY)
    if where is not None:
        long = [item.nodeid for item in items if item.get_closest_marker("long") is not None]
        Path(where).write_text(
            json.dumps({"groups": {item.nodeid: group for item, group in grouped.items()}, "long": long})
        )


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """The controller tells each worker where to write its groups."""
    if not _GROUPS_DIR:
        _GROUPS_DIR.append(Path(tempfile.mkdtemp(prefix="sandproof-groups-")))
    node.workerinput[GROUPS_KEY] = str(_GROUPS_DIR[0] / f"{node.workerinput['workerid']}.json")


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    # a plain `-n N` (dist "load") groups too: a runtime's engine tests never run side by side
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadGroupScheduling  # noqa: PLC0415 - only under xdist

    class FromWorkerFiles(LoadGroupScheduling):  # type: ignore[misc]  # xdist ships no types
        """loadgroup, with each test's group read from the workers' files: the scheduler asks
        only once every worker has collected (xdist checks that they collected the same). The
        groups go first, the most tests first (xdist's loadscopereorder), then the ``long``
        tests, then the rest in their order."""

        groups: dict[str, str] | None = None
        long: frozenset[str] = frozenset()
        reordered = False

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                files = sorted(_GROUPS_DIR[0].glob("*.json")) if _GROUPS_DIR else []
                written = json.loads(files[0].read_text()) if files else {"groups": {}, "long": []}
                self.groups, self.long = written["groups"], frozenset(written["long"])
            return self.groups.get(nodeid) or super()._split_scope(nodeid)

        def _reschedule(self, node: Any) -> None:
            # xdist hands a worker its next unit while up to two of its tests are still to run:
            # long tests queued behind each other on the first free worker (two property tests,
            # 45 s and 65 s under load, one after the other on one). A long one goes only to a
            # worker with one test left: the one it runs (a worker starts a test only once it
            # knows the next, pytest's runtest protocol takes ``nextitem``).
            if next(iter(self.workqueue), None) in self.long and self._pending_of(self.assigned_work.get(node, {})) > 1:
                return
            super()._reschedule(node)

        def _assign_work_unit(self, node: Any) -> None:
            if not self.reordered:  # the queue is complete once the first unit is handed out
                self.reordered = True
                units = list(self.workqueue.items())
                first = [u for u in units if len(u[1]) > 1 or u[0] in self.long]
                self.workqueue.clear()
                self.workqueue.update(first + [u for u in units if not (len(u[1]) > 1 or u[0] in self.long)])
            super()._assign_work_unit(node)

    return FromWorkerFiles(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    for d in _GROUPS_DIR:
        shutil.rmtree(d, ignore_errors=True)


def null_device(path: Path) -> None:
    """A character device 1:3 (/dev/null's numbers) at ``path``: what a hostile sandbox can leave in
    /out (its tmpfs has no nodev). Needs root, as the test command runs: never skipped."""
    assert os.geteuid() == 0, "mknod of a character device needs root: run the test command as root"
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
