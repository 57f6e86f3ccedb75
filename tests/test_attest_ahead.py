"""attest's head start: the harness's bundle read, checked and judged while the engine still
tears the sandbox down (``dirwatch``, ``attest._Ahead``, ``verify.judge_ahead``). The early
work may only ever save time: the verdict is the one judging the final bytes gives."""

from __future__ import annotations

import copy
import dataclasses
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from sandproof import attest, dirwatch, evidence, leftover, model, profile, verify
from sandproof import bundle as bundles
from sandproof.inspector.wire import BUNDLE_NAME, Verdict
from sandproof.report import markdown
from tests.conftest import RUN_DATE, asset_json

DEFAULT = profile.load("default")
INSIDE_KEYS = ("run_date", "plan_sha256", "inspector_sha256", "guard", "raw", "summary", "harness")


def _split(evidence_doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The inside bundle an evidence bundle was merged from, and the host's static record."""
    inside = {k: evidence_doc[k] for k in INSIDE_KEYS}
    inside["schema"] = evidence.INSIDE_SCHEMA
    inside["profile"] = evidence_doc["profile"]["name"]
    inside["probes"] = evidence_doc["probes"][:-1]
    return inside, evidence_doc["probes"][-1]


def _ahead(evidence_doc: dict[str, Any]) -> verify.Judged:
    inside, static = _split(evidence_doc)
    typed = bundles.typed(inside, "inside")
    assert isinstance(typed, model.InsideBundle)
    return verify.judge_ahead(typed, model.record(static), DEFAULT, evidence_doc["runtime"])


def _report(doc: dict[str, Any], ahead: verify.Judged | None = None) -> verify.Report:
    return verify.verify(bundles.decode(orjson.dumps(doc), "x"), DEFAULT, source="x", ahead=ahead)


def _count_judging(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = verify._judge_probes

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(verify, "_judge_probes", counted)
    return calls


@pytest.mark.parametrize("name", ["runc-default-pass.json", "docker-default-pass.json", "runc-weak-exec-allowed.json"])
def test_the_probes_judged_ahead_are_taken_for_the_same_evidence(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = asset_json(name)
    fresh = _report(doc)
    ahead = _ahead(doc)
    calls = _count_judging(monkeypatch)
    assert _report(doc, ahead) == fresh
    assert calls == []  # taken, not judged again


def _flipped(doc: dict[str, Any]) -> dict[str, Any]:
    """The same evidence with one observation changed: /proc/self/status says NoNewPrivs 0."""
    changed = copy.deepcopy(doc)
    for rec in changed["probes"]:
        if rec["probe_id"] == "PR-NNP-1":
            rec["observation"] = {"prctl": {"NoNewPrivs": "0"}, "status": {"NoNewPrivs": "0"}}
            return changed
    raise AssertionError("no PR-NNP-1 record")


def test_evidence_that_differs_from_what_was_judged_ahead_is_judged_again(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = asset_json("runc-default-pass.json")
    ahead = _ahead(doc)  # the PASS bundle judged ahead: its results must not carry over
    changed = _flipped(doc)
    fresh = _report(changed)
    calls = _count_judging(monkeypatch)
    got = _report(changed, ahead)
    assert calls, "judged again"
    assert got == fresh
    assert got.verdict == Verdict.FAIL
    nnp = next(p for p in got.probes if p.probe_id == "PR-NNP-1")
    assert nnp.verdict != Verdict.PASS


def test_a_value_equal_only_in_python_is_judged_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """1 == True in Python: PR-SUID-1's ``complete`` recorded as 1 compared equal to the PASS
    bundle's ``true`` and took its judgement (review 12); its own is not PASS."""
    doc = asset_json("runc-default-pass.json")
    ahead = _ahead(doc)
    changed = copy.deepcopy(doc)
    next(r for r in changed["probes"] if r["probe_id"] == "PR-SUID-1")["observation"]["complete"] = 1
    assert verify.Inputs.of(bundles.decode(orjson.dumps(changed), "x")) == ahead.inputs  # as Python values
    fresh = _report(changed)
    assert next(p for p in fresh.probes if p.probe_id == "PR-SUID-1").verdict != Verdict.PASS
    calls = _count_judging(monkeypatch)
    assert _report(changed, ahead) == fresh
    assert calls


@pytest.mark.parametrize("part", ["raw", "summary", "guard", "static"])
def test_each_input_of_the_judgement_decides_whether_it_is_taken(part: str, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = asset_json("runc-default-pass.json")
    ahead = _ahead(doc)
    changed = copy.deepcopy(doc)
    if part == "raw":
        changed["raw"]["proc_net_dev"] += " "
    elif part == "summary":
        changed["summary"]["pass"] -= 1
    elif part == "guard":
        changed["guard"]["installed"] = not changed["guard"]["installed"]
    else:
        changed["probes"][-1]["duration_ms"] = 1.0
    calls = _count_judging(monkeypatch)
    assert _report(changed, ahead) == _report(changed)
    assert len(calls) == 2  # with the head start and without: judged both times


def test_a_judgement_for_another_profile_is_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = asset_json("runc-default-pass.json")
    inside, static = _split(doc)
    typed = bundles.typed(inside, "inside")
    assert isinstance(typed, model.InsideBundle)
    other = profile.load("b4-prime-seed")
    ahead = verify.judge_ahead(typed, model.record(static), other, "runc")
    calls = _count_judging(monkeypatch)
    assert _report(doc, ahead) == _report(doc)
    assert len(calls) == 2


def test_report_rows_rendered_ahead_are_taken_only_for_the_very_same_results() -> None:
    doc = asset_json("runc-default-pass.json")
    report = _report(doc, _ahead(doc))
    whole = markdown.render(report)
    assert markdown.render(report, ahead=markdown.rows(report.probes)) == whole
    # rows of other results (here: the same values, other objects, one reason changed) are not taken
    other = tuple(dataclasses.replace(p, reason="forged") for p in report.probes)
    assert markdown.render(report, ahead=markdown.rows(other)) == whole
    assert markdown.render(report, ahead=markdown.rows(report.probes[:-1])) == whole
    assert "forged" not in whole


def test_an_arrival_is_a_rename_into_the_directory_or_a_write_closed(tmp_path: Path) -> None:
    for how in ("rename", "write"):
        watch = dirwatch.Arrival(str(tmp_path), BUNDLE_NAME)
        try:
            (tmp_path / "other.json").write_text("{}")  # another name: no arrival
            assert watch.wait(timeout=0.05) is False
            if how == "rename":
                (tmp_path / ".tmp").write_text("{}")
                os.replace(tmp_path / ".tmp", tmp_path / BUNDLE_NAME)
            else:
                (tmp_path / BUNDLE_NAME).write_text("{}")
            assert watch.wait(timeout=5) is True
        finally:
            watch.close()
        (tmp_path / BUNDLE_NAME).unlink()


def test_a_stopped_wait_returns_without_an_arrival(tmp_path: Path) -> None:
    watch = dirwatch.Arrival(str(tmp_path), BUNDLE_NAME)
    try:
        waited: list[bool] = []
        thread = threading.Thread(target=lambda: waited.append(watch.wait()))
        thread.start()
        time.sleep(0.05)
        watch.stop()
        thread.join(5)
        assert waited == [False]
    finally:
        watch.close()


def test_a_watch_the_kernel_refuses_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="inotify_add_watch"):
        dirwatch.Arrival(str(tmp_path / "missing"), BUNDLE_NAME)


class _Done:
    """``_Meanwhile``'s face with its result at hand (the static record)."""

    def __init__(self, value: dict[str, Any]) -> None:
        self.value = value

    def result(self) -> dict[str, Any]:
        return self.value


def _inside_bytes(doc: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    inside, static = _split(doc)
    return evidence.dumps(inside).encode(), static


def _arrive(out: Path, raw: bytes) -> None:
    (out / ".inside-tmp.json").write_bytes(raw)
    os.replace(out / ".inside-tmp.json", out / BUNDLE_NAME)


def _wait_for(ahead: attest._Ahead) -> None:
    deadline = time.monotonic() + 10
    while not ahead._box and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_bundle_read_on_arrival_is_used_only_for_the_same_bytes(tmp_path: Path) -> None:
    raw, static = _inside_bytes(asset_json("runc-default-pass.json"))
    ahead = attest._Ahead(str(tmp_path), _Done(static), DEFAULT, "runc", None)  # type: ignore[arg-type]
    try:
        ahead.start()
        _arrive(tmp_path, raw)
        _wait_for(ahead)
        early = ahead.result(raw)
        assert early is not None
        assert early.found == evidence.file_inside(raw)
        assert early.text == evidence.dumps(early.found.bundle or {})
        assert early.judged is not None
        assert early.rows is not None
        assert early.rows.probes == early.judged.probes
    finally:
        ahead.close()


def test_a_bundle_rewritten_after_its_arrival_gets_nothing_of_the_early_work(tmp_path: Path) -> None:
    doc = asset_json("runc-default-pass.json")
    raw, static = _inside_bytes(doc)
    ahead = attest._Ahead(str(tmp_path), _Done(static), DEFAULT, "runc", None)  # type: ignore[arg-type]
    try:
        ahead.start()
        _arrive(tmp_path, raw)
        _wait_for(ahead)
        assert ahead._box, "read and judged on arrival"
        rewritten, _ = _inside_bytes(_flipped(doc))
        _arrive(tmp_path, rewritten)  # the sandbox writes again before it exits
        assert ahead.result(evidence.fetch_inside(str(tmp_path))) is None
    finally:
        ahead.close()


def test_no_arrival_no_early_work(tmp_path: Path) -> None:
    raw, static = _inside_bytes(asset_json("runc-default-pass.json"))
    ahead = attest._Ahead(str(tmp_path), _Done(static), DEFAULT, "runc", None)  # type: ignore[arg-type]
    ahead.start()
    assert ahead.result(raw) is None  # stopped before anything arrived
    ahead.close()
    ahead.close()  # again: nothing more


@pytest.mark.engine
def test_a_runc_attest_judges_its_probes_once_while_the_sandbox_is_torn_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_judging(monkeypatch)
    got = attest.attest(DEFAULT, runtime="runc", out=tmp_path / "out", run_date=RUN_DATE)
    assert got.report.verdict == Verdict.PASS
    assert len(calls) == 1
    assert calls[0] != threading.get_ident()  # in _Ahead's thread: verify of the evidence took it
    # what was written is what judging the written evidence whole gives
    again = verify.verify_file(got.evidence_path, DEFAULT)
    assert dataclasses.replace(again, source=got.report.source, sha256="") == dataclasses.replace(got.report, sha256="")
    assert got.report_path.read_text() == markdown.render(got.report)


def test_killed_runs_leftovers_go_even_when_the_client_never_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reaper runs beside the container from when the runtime's client starts; an engine that
    refused before that left what killed runs left (the final read of the change found it)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / "sandproof-run-dead"
    dead.mkdir(mode=0o700)  # as mkdtemp makes it
    (dead / leftover.LOCK).write_text("")  # nobody holds its lock: its run was killed
    out = tmp_path / "out"
    out.mkdir()
    alongside = attest._Alongside(str(out), DEFAULT, "runc", None)
    alongside.close()  # never started: the runtime refused first
    assert not dead.exists()
