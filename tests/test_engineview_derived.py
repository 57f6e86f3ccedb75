"""The engine view's expectation derived once per profile (``core.expected_for``) is the one
``Adapter.expected`` derives for each run: the same fields, values and order, whatever the
run's directories, date and cgroup; and every field that does take one of those is named in
the adapter's ``per_run``."""

from __future__ import annotations

import dataclasses
import random

import msgspec
import pytest

from sandproof import bundle, engineview, profile, verify
from sandproof.engineview import check as engine_check
from sandproof.engineview import core
from sandproof.engineview.core import Context
from sandproof.model import EvidenceBundle
from sandproof.workload.carried import Workload
from tests.conftest import ASSETS

DEFAULT = profile.load("default")
CARRIED = profile.with_workload(DEFAULT, "busybox")
WL = Workload("busybox", "sha256:" + "a" * 64, "65532:65532", "", "sha256:" + "b" * 64, "/cache/harness/" + "b" * 32)
CASES = [
    (DEFAULT, None),
    (profile.load("learned-example"), None),
    (CARRIED, WL),
]
PIECES = ["/", "a", "run", "..", " ", ":", ",", "ro", "rw", "\n", "\u200b", "%s", "ID", "{}", "0123"]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6)))


def _ctx(rng: random.Random, workload: Workload | None) -> Context:
    return Context(
        in_dir=_text(rng),
        out_dir=_text(rng),
        image_id=workload.image_id if workload else "sha256:" + "c" * 64,
        cgroup=f"/sandproof/{_text(rng)}" if rng.random() < 0.8 else _text(rng),
        workload=workload,
        seccomp_file=_text(rng),
        run_date="2026-11-29" if rng.random() < 0.5 else _text(rng),
        podman_run=_text(rng),
        podman_static=_text(rng),
    )


def test_per_run_names_every_fact_that_is_blanked() -> None:
    ctx = _ctx(random.Random(1), None)  # noqa: S311 - reproducible test data, not a secret
    blank = dataclasses.replace(
        ctx, in_dir="", out_dir="", cgroup="", run_date="", seccomp_file="", podman_run="", podman_static=""
    )
    assert {f.name for f in dataclasses.fields(Context) if getattr(ctx, f.name) != getattr(blank, f.name)} <= set(
        core.PER_RUN
    )
    assert set(core.PER_RUN) <= {f.name for f in dataclasses.fields(Context)}


@pytest.mark.parametrize("runtime", sorted(engineview.ADAPTERS))
@pytest.mark.parametrize(("prof", "workload"), CASES, ids=["default", "learned", "carried"])
def test_derived_once_is_what_each_run_derives(runtime: str, prof: profile.Profile, workload: Workload | None) -> None:
    adapter = engineview.ADAPTERS[runtime]
    rng = random.Random(f"{runtime}-{prof.digest}")  # noqa: S311 - reproducible test data, not a secret
    for _ in range(40):
        ctx = _ctx(rng, workload)
        want = adapter.expected(prof, ctx)
        got = core.expected_for(adapter, prof, ctx)
        assert list(got.items()) == list(want.items())
        if adapter.per_run:
            assert adapter.per_run_fields(prof, ctx).keys() == adapter.per_run


@pytest.mark.parametrize("runtime", [r for r in sorted(engineview.ADAPTERS) if engineview.ADAPTERS[r].per_run])
@pytest.mark.parametrize(("prof", "workload"), CASES, ids=["default", "learned", "carried"])
def test_every_field_a_run_changes_is_per_run(runtime: str, prof: profile.Profile, workload: Workload | None) -> None:
    adapter = engineview.ADAPTERS[runtime]
    rng = random.Random(runtime)  # noqa: S311 - reproducible test data, not a secret
    first = adapter.expected(prof, _ctx(rng, workload))
    for _ in range(20):
        ctx = _ctx(rng, workload)
        other = adapter.expected(prof, ctx)
        assert {k for k in first if first[k] != other[k]} <= adapter.per_run
        # and one fact at a time, each blank (what the derivation once sees)
        for name in core.PER_RUN:
            blank = adapter.expected(prof, dataclasses.replace(ctx, **{name: ""}))  # type: ignore[arg-type]
            assert {k for k in other if other[k] != blank[k]} <= adapter.per_run


@pytest.mark.parametrize("run", ["docker-default-pass", "runc-default-pass"])
def test_differences_read_once_are_the_same(run: str) -> None:
    """The recorded view, then each field changed alone (to another field's value, to null,
    to a big integer): ``differences`` against the derived expectation and the whole one agree."""
    data = bundle.decode((ASSETS / "bundles" / f"{run}.json").read_bytes(), run)
    assert isinstance(data, EvidenceBundle)
    assert not isinstance(data.engine_view, msgspec.UnsetType)
    assert not isinstance(data.engine_view.fields, msgspec.UnsetType)
    adapter = engineview.ADAPTERS[data.runtime]
    ctx = engine_check.context(data, DEFAULT, verify._derived(DEFAULT, data.runtime, None).facts)
    derived, whole = core.expected_for(adapter, DEFAULT, ctx), adapter.expected(DEFAULT, ctx)
    assert isinstance(derived, core.Expectation)
    fields = dict(data.engine_view.fields)
    assert core.differences(fields, derived) == core.differences(fields, whole) == []
    names = sorted(fields)
    for i, name in enumerate(names):
        for value in (fields[names[i - 1]], None, 1 << 70, [fields[name]]):
            edited = {**fields, name: value}
            assert core.differences(edited, derived) == core.differences(edited, whole)
    for gone in names[:: max(1, len(names) // 8)]:
        fewer = {k: v for k, v in fields.items() if k != gone}
        assert core.differences(fewer, derived) == core.differences(fewer, whole)
