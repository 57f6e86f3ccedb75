"""Issue 9, the verifier's half: each attack an adversarial review reproduced on an honest
bundle, now caught. Every edit is made by ``forge.make_consistent``'s attacker, who also
rewrites every verdict, reason and count the edit would change."""

# ruff: noqa: ARG005  (every edit takes the bundle and its records by id; most use one)

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.dsse import Envelope

from sandproof import cli, profile, signing, verify
from sandproof.cli import main
from sandproof.inspector import judge
from sandproof.inspector.judges.draws import SPACES, drawable
from sandproof.inspector.probes.sweep import draw
from sandproof.report import json as json_report
from sandproof.report import junit, markdown, text
from tests.conftest import ASSETS, asset_json
from tests.forge import by_id, make_consistent

DEFAULT = profile.load("default")
BUNDLES = ASSETS / "bundles"
Edit = Callable[[dict[str, Any], dict[str, dict[str, Any]]], object]


def _verdict(b: dict[str, Any], edit: Edit) -> verify.Report:
    b = copy.deepcopy(b)
    edit(b, by_id(b))
    return verify.verify(make_consistent(b), DEFAULT)


def _files(pid: str, path: str, value: str) -> Edit:
    return lambda b, r: r[pid]["observation"]["files"].__setitem__(path, value)


def _status(key: str, value: str) -> Edit:
    return lambda b, r: b["raw"]["startup"]["status"].__setitem__(key, value)


ATTACKS: dict[str, Edit] = {
    "cgroup-nan": _files("PR-CG-PIDS", "/sys/fs/cgroup/pids/pids.max", "nan"),
    "cgroup-float": _files("PR-CG-PIDS", "/sys/fs/cgroup/pids/pids.max", "64.0"),
    "cgroup-arabic-digits": _files("PR-CG-PIDS", "/sys/fs/cgroup/pids/pids.max", "\u0666\u0664"),
    "cgroup-v2-contradicts-v1": _files("PR-CG-PIDS", "/sys/fs/cgroup/pids.max", "max"),
    "startup-uid-0": _status("Uid", "0\t0\t0\t0"),
    "startup-all-caps": _status("CapEff", "000001ffffffffff"),
    "startup-seccomp-off": _status("Seccomp", "0"),
    "startup-fd-leak": lambda b, r: (
        b["raw"]["startup"]["fds"].append(3),
        b["raw"]["startup"]["fd_targets"].update({"3": "/"}),
    ),
    "startup-fd-target-only": lambda b, r: b["raw"]["startup"]["fd_targets"].update({"3": "/"}),
    "startup-rlimit": lambda b, r: b["raw"]["startup"]["rlimits"].update(nofile=["1048576", "1048576"]),
    "startup-process": lambda b, r: b["raw"]["startup"]["processes"].update({"9": {"ppid": 0, "cmdline": ["sh"]}}),
    "startup-self-pid": lambda b, r: b["raw"]["startup"].update(self_pid=9),
    "startup-abi": lambda b, r: b["raw"]["startup"]["abis"]["abis"]["i386"].update(signal=None, ret=1),
    "late-status-root": lambda b, r: b["raw"]["proc_self_status"].update(Uid="0\t0\t0\t0"),
    "fds-as-float": lambda b, r: r["PR-FD-1"]["observation"].update(fds=[0, 1.0, 2]),
    "fds-as-bool": lambda b, r: r["PR-FD-1"]["observation"].update(fds=[0, True, 2]),
    "socket-zero-width": lambda b, r: r["PR-SOCK-DOCKER"]["observation"]["present"].append("/run/docker.sock\u200b"),
    "socket-trailing-space": lambda b, r: r["PR-SOCK-DOCKER"]["observation"]["present"].append("/run/docker.sock "),
    "walk-unreadable-root": lambda b, r: [
        r[p]["observation"].update(unreadable=["/"]) for p in ("PR-SUID-1", "PR-SOCK-ANY")
    ],
    "walk-skips-root": lambda b, r: [r[p]["observation"].update(skipped=["/"]) for p in ("PR-SUID-1", "PR-SOCK-ANY")],
    "walk-twins-differ": lambda b, r: r["PR-SUID-1"]["observation"].update(scanned=3),
    "walk-path-with-escape": lambda b, r: [
        r[p]["observation"].update(unreadable=["/root\x1b[2K"]) for p in ("PR-SUID-1", "PR-SOCK-ANY")
    ],
    "mountinfo-raw": lambda b, r: b["raw"].update(mountinfo=b["raw"]["mountinfo"].replace(" / ro,", " / rw,", 1)),
    # a mount id past int()'s 4,300 digits: a ValueError out of the verifier's own reading of the table
    "mountinfo-raw-id-too-long": lambda b, r: b["raw"].update(
        mountinfo="1" * 5000 + b["raw"]["mountinfo"][b["raw"]["mountinfo"].index(" ") :]
    ),
    "mountinfo-observation": lambda b, r: r["PR-MOUNT-1"]["observation"].update(
        mountinfo=r["PR-MOUNT-1"]["observation"]["mountinfo"]
        + r["PR-MOUNT-1"]["observation"]["mountinfo"].splitlines()[0].replace(" ro,", " rw,", 1)
        + "\n"
    ),
    "net-dev-raw-extra": lambda b, r: b["raw"].update(
        proc_net_dev=b["raw"]["proc_net_dev"] + "  eth0: " + "0 " * 16 + "\n"
    ),
    "env-raw": lambda b, r: b["raw"]["env_keyset"].append("GITHUB_TOKEN"),
    # what the host says it gave the sandbox is checked against the profile too
    "host-output-unbounded": lambda b, r: b["host"]["output"].update(bounded=False),
    "host-output-huge": lambda b, r: b["host"]["output"].update(limit_bytes=10**30),
    "host-output-files": lambda b, r: b["host"]["output"].update(limit_files=1 << 20),
    "harness-longer-than-run": lambda b, r: b["harness"].update(duration_ms=1e308),
}


@pytest.mark.parametrize("runtime", ["docker", "runc"])
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_one_field_edits_of_an_honest_bundle_fail(attack: str, runtime: str) -> None:
    report = _verdict(asset_json(f"{runtime}-default-pass.json"), ATTACKS[attack])
    assert report.verdict == judge.FAIL
    assert any(p.verdict != judge.PASS for p in report.probes) or any(c.verdict != judge.PASS for c in report.checks)


def test_the_attacker_alone_changes_nothing(docker_pass: dict[str, Any], runc_pass: dict[str, Any]) -> None:
    # make_consistent on an unedited bundle leaves it PASS: the attacks above fail for their edit
    for b in (docker_pass, runc_pass):
        assert _verdict(b, lambda b, r: None).verdict == judge.PASS


@pytest.mark.parametrize(
    ("name", "edit", "verdict"),
    [
        # the same edit in the raw field and in the observation: judged on what it says
        (
            "uid-0-everywhere",
            lambda b, r: [
                s.update(Uid="0\t0\t0\t0")
                for s in (
                    b["raw"]["startup"]["status"],
                    b["raw"]["proc_self_status"],
                    r["PR-ID-1"]["observation"]["status"],
                )
            ],
            judge.FAIL,
        ),
        (
            "fd-leak-everywhere",
            lambda b, r: (
                b["raw"]["startup"]["fds"].append(3),
                b["raw"]["startup"]["fd_targets"].update({"3": "/"}),
                r["PR-FD-1"]["observation"]["fds"].append(3),
            ),
            judge.FAIL,
        ),
        # facts that differ between honest runs and are recorded once: another honest run
        (
            "another-pipe-inode",
            lambda b, r: [
                b["raw"]["startup"]["fd_targets"].update({"1": "pipe:[1]"}),
                r["PR-FD-1"]["observation"]["targets"].update({"1": "pipe:[1]"}),
            ],
            judge.PASS,
        ),
        ("another-ns-inode", lambda b, r: r["PR-NS-UTS"]["observation"].update(link="uts:[4026532999]"), judge.PASS),
    ],
)
def test_consistent_edits_are_judged_on_their_content(
    docker_pass: dict[str, Any], name: str, edit: Edit, verdict: str
) -> None:
    assert _verdict(docker_pass, edit).verdict == verdict, name


# ---- review 9: one field of what the run says about itself, each contradicting another record ----


def _route(name: str, **values: object) -> Edit:
    return lambda b, r: r["PR-USERNS-1"]["observation"]["routes"][name].update(values)


def _plan_file(digest: str) -> Edit:
    return lambda b, r: r["PR-IN-1"]["observation"]["entries"]["sandproof-plan.json"].update(sha256=digest)


def _oom_v2_only(b: dict[str, Any], r: dict[str, dict[str, Any]]) -> None:
    files = r["PR-CG-OOM"]["observation"]["files"]
    files.update({"/sys/fs/cgroup/cgroup.controllers": "cpu memory pids\n"})
    files["/sys/fs/cgroup/memory/memory.oom_control"] = None


def _sockets(value: str, *names: str) -> Edit:
    def edit(b: dict[str, Any], r: dict[str, dict[str, Any]]) -> None:
        tables = r["PR-NET-2"]["observation"]["sockets"]
        for name in names or tuple(tables):
            tables[name] = value

    return edit


REVIEW9: dict[str, tuple[Edit, str]] = {
    # attack -> (the edit, what the verdict's reason must name)
    "host-timed-out": (lambda b, r: b["host"].update(timed_out=True), "killed at its timeout"),
    "userns-unshare-ret-0": (
        _route("unshare", ret=0),
        "unshare: recorded as denied with EPERM but the call returned",
    ),
    "userns-clone-ret-pid": (
        _route("clone", ret=4242),
        "clone: recorded as denied with EPERM but the call returned 4242",
    ),
    "userns-ret-missing": (lambda b, r: r["PR-USERNS-1"]["observation"]["routes"]["unshare"].pop("ret"), "no raw"),
    "userns-created-with-errno": (_route("clone3", outcome="created"), "clone3: recorded as 'created'"),
    "plan-file-other-digest": (_plan_file(hashlib.sha256(b"another plan").hexdigest()), "plan file in /in hashes"),
    "plan-file-not-hex": (_plan_file("not a digest"), "no sha256 digest"),
    "harness-pid-2": (lambda b, r: b["harness"].update(pid=2), "PR-PROC-1 saw"),
    "cg-oom-v1-and-v2": (
        _files("PR-CG-OOM", "/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n"),
        "both cgroup v1",
    ),
    "cg-oom-v2-on-a-v1-host": (_oom_v2_only, "no cgroup2 mount"),
    "cg-pids-v2-agrees-with-v1": (_files("PR-CG-PIDS", "/sys/fs/cgroup/pids.max", "64"), "no cgroup2 mount"),
    "cg-shares-v1-unmounted": (
        _files("PR-CG-SHARES", "/sys/fs/cgroup/cpu,cpuacct/cpu.shares", "512\n"),
        "no cgroup v1 mount of 'cpu'",
    ),
    "net2-tables-emptied": (_sockets(""), "does not start with the kernel's header"),
    "net2-sockstat-emptied": (_sockets("", "sockstat"), "has no TCP inuse line"),
    "net2-header-dropped": (_sockets("   0: 0100007F:0000 00000000:0000 07\n", "icmp"), "kernel's header"),
    "runtime-version-rootless": (
        lambda b, r: b.update(runtime_version=b["runtime_version"] + " (rootless)"),
        "is not how sandproof records",
    ),
    "profile-name": (lambda b, r: b["profile"].update(name="strict-audited"), "bundle names the profile it ran"),
    "harness-run-date": (
        lambda b, r: [
            argv.__setitem__(argv.index("--run-date") + 1, "1999-01-01")
            for argv in (
                r["PR-PROC-1"]["observation"]["startup"]["processes"]["1"]["cmdline"],
                b["raw"]["startup"]["processes"]["1"]["cmdline"],
            )
        ],
        "the harness ran with --run-date '1999-01-01'",
    ),
    "connect-stage-unknown": (lambda b, r: r["PR-NET-1"]["observation"].update(stage="SOCKET"), "at stage 'SOCKET'"),
    "connect-refused-before-connect": (
        lambda b, r: r["PR-NET-1"]["observation"].update(outcome="timed-out", errno=None, stage="socket"),
        "outcome 'timed-out' at stage 'socket'",
    ),
    "exec-target-empty": (lambda b, r: r["PR-EXEC-1"]["observation"].update(target=""), "no absolute path"),
    "probe-longer-than-harness": (
        lambda b, r: r["PR-NET-1"].update(duration_ms=b["harness"]["duration_ms"] + 1),
        "more than the harness's",
    ),
}


@pytest.mark.parametrize("runtime", ["docker", "runc"])
@pytest.mark.parametrize("attack", sorted(REVIEW9))
def test_review9_one_field_contradictions_fail_naming_them(attack: str, runtime: str) -> None:
    edit, named = REVIEW9[attack]
    report = _verdict(asset_json(f"{runtime}-default-pass.json"), edit)
    assert report.verdict == judge.FAIL
    reasons = [p.reason for p in report.probes if p.verdict != judge.PASS]
    reasons += [c.reason for c in report.checks if c.verdict != judge.PASS]
    assert any(named in why for why in reasons), reasons


# ---- review 9, left open: each one field, edited alone, contradicting the kernel or another record ----


def _live(table: dict[str, int]) -> Edit:
    return lambda b, r: r["PR-PROC-1"]["observation"].__setitem__("live", table)


def _child(b: dict[str, Any]) -> str:
    """The live table's one process besides the harness (the probe's own child)."""
    live: dict[str, int] = by_id(b)["PR-PROC-1"]["observation"]["live"]
    return next(pid for pid in live if pid != "1")


def _sweep_attempt(cls: str, **values: object) -> Edit:
    def edit(b: dict[str, Any], r: dict[str, dict[str, Any]]) -> None:
        attempts = r["PR-SECCOMP-SWEEP"]["observation"]["attempts"]
        next(a for a in attempts if (a["class"] == "random") == (cls == "random")).update(values)

    return edit


def _mapped(**values: object) -> Edit:
    return lambda b, r: next(iter(r["PR-INTEGRITY-1"]["observation"]["files"].values())).update(values)


def _hostname_everywhere(b: dict[str, Any], r: dict[str, dict[str, Any]]) -> None:
    # Docker: another 12 hex digits, in both observations and in /etc/hostname's text
    for pid in ("PR-ENV-1", "PR-ETC-1"):
        r[pid]["observation"]["hostname"] = "aaaaaaaaaaaa"
    r["PR-ETC-1"]["observation"]["files"]["/etc/hostname"]["text"] = "aaaaaaaaaaaa\n"


FORGE2: dict[str, tuple[Edit, str]] = {
    # attack -> (the edit, what a non-PASS reason must name); each PASSed before
    "proc-harness-parent-minus-1": (lambda b, r: _live({"1": -1, _child(b): 1})(b, r), "parent -1"),
    "proc-harness-its-own-parent": (lambda b, r: _live({"1": 1, _child(b): 1})(b, r), "its own parent"),
    "proc-harness-not-live": (lambda b, r: _live({_child(b): 1})(b, r), "not in the live process table"),
    "oom-control-stray-line": (
        _files("PR-CG-OOM", "/sys/fs/cgroup/memory/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\nx 1\n"),
        "not the lines the kernel prints",
    ),
    "hostname-etc-alone": (
        lambda b, r: r["PR-ETC-1"]["observation"].update(hostname=r["PR-ETC-1"]["observation"]["hostname"] + "x"),
        "the sandbox's hostname is observed as",
    ),
    "argv0-empty": (lambda b, r: b["argv"].__setitem__(0, ""), "the recorded argv runs ''"),
    "argv0-other-binary": (lambda b, r: b["argv"].__setitem__(0, "/tmp/x"), "the recorded argv runs '/tmp/x'"),
    "sweep-random-args-zero": (_sweep_attempt("random", args=[0, 0, 0, 0, 0]), "not an attempt of that class"),
    "sweep-random-args-missing": (_sweep_attempt("random", args=None), "not an attempt of that class"),
    "sweep-fixed-with-args": (_sweep_attempt("base", args=[1, 2, 3]), "recorded with arguments [1, 2, 3]"),
    "sweep-ret-not-its-errno": (_sweep_attempt("base", ret=-37), "recorded as EPERM but the call returned -37"),
    "sweep-arch-unknown": (lambda b, r: r["PR-SECCOMP-SWEEP"]["observation"].update(arch="mips"), "'mips'"),
    "sweep-arch-other": (
        lambda b, r: r["PR-SECCOMP-SWEEP"]["observation"].update(arch="aarch64"),
        "'aarch64' by PR-SECCOMP-SWEEP",
    ),
    "maps-device-other": (_mapped(maps_device="08:01"), "mapped from device 08:01 (8:1)"),
    "maps-device-decimal": (_mapped(maps_device="0:40"), "mapped from no device and inode"),
    "maps-inode-negative": (_mapped(maps_inode=-1), "mapped from no device and inode"),
}


@pytest.mark.parametrize("runtime", ["docker", "runc"])
@pytest.mark.parametrize("attack", sorted(FORGE2))
def test_forge2_one_field_edits_are_not_passed(attack: str, runtime: str) -> None:
    edit, named = FORGE2[attack]
    report = _verdict(asset_json(f"{runtime}-default-pass.json"), edit)
    assert report.verdict != judge.PASS
    reasons = [p.reason for p in report.probes if p.verdict != judge.PASS]
    reasons += [c.reason for c in report.checks if c.verdict != judge.PASS]
    assert any(named in why for why in reasons), reasons


def test_forge2_docker_hostname_is_the_container_ids_prefix() -> None:
    report = _verdict(asset_json("docker-default-pass.json"), _hostname_everywhere)
    assert report.verdict == judge.FAIL
    assert any("not '" in c.reason and "of the container" in c.reason for c in report.checks if c.name == "hostname")


def test_forge2_every_random_draw_is_drawable() -> None:
    rng = random.Random(7)  # noqa: S311 - deterministic: the same draws every run, no secret
    for name in SPACES:
        for _ in range(300):
            args = draw(name, rng)
            assert drawable(name, json.loads(json.dumps(args))), (name, args)


def test_review9_runtime_version_agrees_with_what_is_recorded_beside_it() -> None:
    b = asset_json("podman-default-pass.json")
    assert verify.verify(copy.deepcopy(b), DEFAULT).verdict == judge.PASS
    b["runtime_version"] = b["runtime_version"].replace("(root,", "(rootless,")
    report = verify.verify(b, DEFAULT)
    assert report.verdict == judge.FAIL
    assert any("contradicts the recorded rootless=False" in c.reason for c in report.checks)


def test_cgroup_judge_reads_integers_strictly() -> None:
    files = {"/sys/fs/cgroup/pids/pids.max": "64", "/sys/fs/cgroup/pids.max": None}
    assert judge.judge("cgroup", {"want": {"pids": 64}}, {"files": files}).verdict == judge.PASS
    for bad in ("nan", "inf", "64.0", " 64", "6_4", "+64", "0x40", "\u0666\u0664"):
        v = judge.judge("cgroup", {"want": {"pids": 64}}, {"files": {**files, "/sys/fs/cgroup/pids/pids.max": bad}})
        assert v.verdict == judge.ERROR, bad
    both = {"/sys/fs/cgroup/pids/pids.max": "64", "/sys/fs/cgroup/pids.max": "65"}
    v = judge.judge("cgroup", {"want": {"pids": 64}}, {"files": both})
    assert v.verdict == judge.FAIL
    assert "disagree" in v.reason


# ---- shapes that crashed the verifier (a traceback, exit 1: read as FAIL) ----


def _write(tmp_path: Path, data: object, name: str = "b.json") -> Path:
    f = tmp_path / name
    f.write_text(json.dumps(data))
    return f


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def test_oci_mounts_not_a_list(tmp_path: Path, runc_pass: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    runc_pass["oci_config"]["mounts"] = 5
    assert main(["verify", str(_write(tmp_path, runc_pass))]) == 1
    rendered = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[rendered]"))
    assert "FAIL" in rendered


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    signing.keygen(tmp_path / "k.pem", tmp_path / "k.pub.pem")
    return tmp_path / "k.pem", tmp_path / "k.pub.pem"


def _signed_bytes(tmp_path: Path, key: Path, payload: bytes) -> Path:
    env = Envelope(payload=payload, payload_type=signing.PAYLOAD_TYPE, signatures={})
    env.sign(signing.signer(key))  # sign exactly these bytes
    return _write(tmp_path, env.to_dict(), "signed.json")


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"_type": "https://in-toto.io/Statement/v1", "_type": "x"}',
        b'{"_type": "https://in-toto.io/Statement/v1", "x": NaN}',
        b"\xff",
    ],
    ids=["deep", "duplicate-key", "nan", "not-utf8"],
)
def test_signed_payloads_are_read_strictly(
    tmp_path: Path, keys: tuple[Path, Path], payload: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _signed_bytes(tmp_path, keys[0], payload)
    report = verify.verify_file(path, DEFAULT, key=signing.public_key(keys[1]))
    assert report.verdict == judge.FAIL
    assert report.checks[0].name == "signature"
    assert "malformed envelope" in report.checks[0].reason
    assert main(["verify", "--key", str(keys[1]), str(path)]) == 1
    capsys.readouterr()
    assert main(["verify", str(path)]) == 2  # unsigned reading: the same strict reader, an input error
    _one_line(capsys)


@pytest.mark.parametrize("field", ["payload", "payloadType", "signatures"])
def test_envelope_fields_of_the_wrong_type(
    tmp_path: Path, keys: tuple[Path, Path], field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"payload": "e30=", "payloadType": signing.PAYLOAD_TYPE, "signatures": [{"keyid": "k", "sig": "AA=="}]}
    for value in (5, None, {"a": 1}, [5]):
        path = _write(tmp_path, {**env, field: value})
        assert main(["verify", "--key", str(keys[1]), str(path)]) == 1
        assert "malformed envelope" in capsys.readouterr().out
        assert main(["verify", str(path)]) == 2
        _one_line(capsys)


def test_the_vsa_names_the_bytes_that_were_judged(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    raw = (BUNDLES / "docker-default-pass.json").read_bytes()
    report = verify.verify_bytes(raw, "b", DEFAULT)
    import hashlib  # noqa: PLC0415

    assert report.sha256 == hashlib.sha256(raw).hexdigest()


# ---- directory mode ----


def _run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-m", "sandproof", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_directory_mode_opens_only_regular_files_inside(tmp_path: Path) -> None:
    name = "sandbox-attestation-evidence-local-2026-11-28.json"
    top, elsewhere = tmp_path / "runs", tmp_path / "elsewhere"
    (top / "a").mkdir(parents=True)
    elsewhere.mkdir()
    (top / "a" / name).write_bytes((BUNDLES / "docker-default-pass.json").read_bytes())
    (elsewhere / name).write_bytes((BUNDLES / "runc-default-pass.json").read_bytes())
    os.mkfifo(top / "sandbox-attestation-evidence-fifo.json")  # opening it to read would block forever
    (top / "sandbox-attestation-evidence-link.json").symlink_to(elsewhere / name)
    (top / "sandbox-attestation-evidence-shadow.json").symlink_to("/etc/shadow")
    (top / "linked-dir").symlink_to(elsewhere, target_is_directory=True)
    done = _run_cli("verify", str(top), timeout=60)  # a hang would be the timeout's exception
    # never opened, and never left out: a failing node's bundle swapped for a link would
    # otherwise vanish from the fleet's verdict (it said PASS, and exit 0, before)
    assert done.returncode == 2, done.stderr
    assert "4 bundles, 0 failing, 3 unreadable" in done.stdout
    refused = sorted(line for line in done.stderr.splitlines() if "not a regular file: not opened" in line)
    assert len(refused) == 3, done.stderr
    assert "a FIFO" in refused[0]
    assert all("a symlink" in s for s in refused[1:])
    assert str(elsewhere) not in done.stdout


def test_directory_with_only_links_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "sandbox-attestation-evidence-x.json").symlink_to(BUNDLES / "docker-default-pass.json")
    done = _run_cli("verify", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("sandproof: error: directory ")


def test_a_named_fifo_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "b.json"
    os.mkfifo(fifo)
    done = _run_cli("verify", str(fifo), timeout=60)
    assert done.returncode == 2
    assert "not a regular file" in done.stderr


# ---- reports: nothing from a bundle reaches a terminal or a document unescaped ----

HOSTILE = "\x1b[2K\r\x1b[32mPASS\x1b[0m\x07 | x\n|\u202e\u200b"


def _hostile_report(docker_pass: dict[str, Any]) -> verify.Report:
    b = copy.deepcopy(docker_pass)
    by_id(b)["PR-EXEC-1"]["observation"].update(outcome=HOSTILE, message=HOSTILE)
    return verify.verify(make_consistent(b), DEFAULT, source=f"bundle{HOSTILE}")


def _hidden(s: str, allowed: str = "\n") -> list[str]:
    return [c for c in s if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c not in allowed]


def test_reports_escape_what_came_from_the_bundle(docker_pass: dict[str, Any]) -> None:
    report = _hostile_report(docker_pass)
    assert report.verdict == judge.FAIL
    for colour in (False, True):
        out = text.render(report, colour=colour)
        assert not _hidden(re.sub(r"\x1b\[[0-9;]*m(PASS|FAIL|ERROR|UNVERIFIED|UNDEFINED)\x1b\[0m", "", out))
        assert "\\x1b[32mPASS" in out
    md = markdown.render(report)
    assert not _hidden(md)
    for line in md.splitlines():
        if line.startswith("| PR-EXEC-1"):
            assert line.replace("\\|", "").count("|") == 8, line
    xml = junit.render(report)
    assert not _hidden(xml)
    for el in ET.fromstring(xml).iter():  # noqa: S314 - our own output
        assert not _hidden("".join(el.attrib.values()) + (el.text or ""))
    data = json.loads(json_report.render(report))
    flat = json.dumps(data, ensure_ascii=False)
    assert not _hidden(flat)
    assert "\\x1b" in next(p["reason"] for p in data["probes"] if p["probe_id"] == "PR-EXEC-1")


def test_error_lines_escape_file_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "evil\x1b]0;pwned\x07.json"
    bad.write_text("{")
    assert main(["verify", str(bad)]) == 2
    line = _one_line(capsys)
    assert not _hidden(line)
    assert "\\x1b]0;pwned\\x07" in line


# ---- exit codes: an internal error is 2, one line, and a traceback file ----


def test_an_internal_error_is_exit_2_with_a_traceback_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*_: object, **__: object) -> verify.Report:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(verify, "verify_bytes", boom)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert cli.main(["verify", str(BUNDLES / "docker-default-pass.json")]) == 2
    line = _one_line(capsys)
    m = re.fullmatch(r"sandproof: internal error: ZeroDivisionError \(traceback in (.+)\)", line)
    assert m is not None, line
    trace = Path(m.group(1)).read_text()
    assert "Traceback" in trace
    assert "ZeroDivisionError: a bug" in trace
