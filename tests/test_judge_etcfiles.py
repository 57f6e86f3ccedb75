"""PR-ETC-1 judged on recorded observations: each runtime's own files PASS as they are; any
line more or less, a file where the runtime writes none, and anything malformed does not."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from sandproof import plan, profile, runtime_defaults
from sandproof.inspector import judge
from sandproof.inspector.probes import etcfiles

BUNDLES = Path(__file__).parent / "assets" / "bundles"
DEFAULT = profile.load("default")


def _recorded(name: str) -> dict[str, Any]:
    data = json.loads((BUNDLES / f"{name}.json").read_text())
    row: dict[str, Any] = next(p for p in data["probes"] if p["probe_id"] == "PR-ETC-1")
    return row


def _judge(runtime: str, obs: dict[str, Any]) -> judge.Judgement:
    return judge.judge("etcfiles", plan.runtime_files(DEFAULT, runtime), obs)


@pytest.mark.parametrize(
    ("name", "runtime"),
    [
        ("docker-default-pass", "docker"),
        ("podman-default-pass", "podman"),
        ("runc-default-pass", "runc"),
        ("runsc-default", "runsc"),
    ],
)
def test_each_runtimes_recorded_files_pass(name: str, runtime: str) -> None:
    row = _recorded(name)
    assert row["expected"] == plan.runtime_files(DEFAULT, runtime)
    assert _judge(runtime, row["observation"]).verdict == judge.PASS


def test_the_recorded_docker_files_are_dockers_fixed_lines_and_no_hosts() -> None:
    files = _recorded("docker-default-pass")["observation"]["files"]
    assert files["/etc/resolv.conf"]["text"] == "nameserver 0.0.0.0\n"
    assert files["/etc/hosts"]["text"] == runtime_defaults.DOCKER_HOSTS
    assert files["/run/.containerenv"] == {"type": "absent"}


def test_the_hosts_network_run_fails_naming_the_hosts_lines() -> None:
    """Docker under --network host copies the host's /etc/hosts and resolv.conf: judged
    against the default profile, every host line is named."""
    row = _recorded("docker-weak-host-network")
    v = _judge("docker", row["observation"])
    assert v.verdict == judge.FAIL
    assert "/etc/hosts: lines the runtime does not write" in v.reason
    assert "/etc/resolv.conf" in v.reason


def _docker() -> dict[str, Any]:
    obs: dict[str, Any] = copy.deepcopy(_recorded("docker-default-pass")["observation"])
    return obs


@pytest.mark.parametrize(
    ("path", "text", "named"),
    [
        ("/etc/hosts", runtime_defaults.DOCKER_HOSTS + "10.9.8.7\tvault.corp\n", "'10.9.8.7\\tvault.corp'"),
        ("/etc/resolv.conf", "search corp.internal\nnameserver 0.0.0.0\n", "'search corp.internal'"),
        ("/etc/resolv.conf", "nameserver 10.255.255.53\n", "lines missing: 'nameserver 0.0.0.0'"),
        ("/etc/resolv.conf", "nameserver 0.0.0.0", "no newline at the end"),
        ("/etc/hostname", "somewhere-else\n", "'somewhere-else'"),
        ("/etc/hosts", "\n".join(reversed(runtime_defaults.DOCKER_HOSTS.splitlines())) + "\n", "another order"),
        ("/etc/hosts", runtime_defaults.DOCKER_HOSTS.replace("\t", " "), "'127.0.0.1 localhost'"),
    ],
)
def test_a_line_more_or_less_fails_naming_it(path: str, text: str, named: str) -> None:
    obs = _docker()
    obs["files"][path]["text"] = text
    v = _judge("docker", obs)
    assert v.verdict == judge.FAIL
    assert path in v.reason
    assert named in v.reason, v.reason


@pytest.mark.parametrize("kind", ["file", "fifo", "link", "dir", "device"])
def test_a_file_where_the_runtime_writes_none_fails(kind: str) -> None:
    obs = copy.deepcopy(_recorded("runc-default-pass")["observation"])
    obs["files"]["/etc/hosts"] = {"type": kind, "text": "", "cut": False} if kind == "file" else {"type": kind}
    v = _judge("runc", obs)
    assert v.verdict == judge.FAIL
    assert f"/etc/hosts exists ({kind})" in v.reason


@pytest.mark.parametrize("entry", [{"type": "absent"}, {"type": "fifo"}, {"type": "error", "errno": "EACCES"}])
def test_a_runtime_file_missing_or_unreadable_fails(entry: dict[str, Any]) -> None:
    obs = _docker()
    obs["files"]["/etc/resolv.conf"] = entry
    v = _judge("docker", obs)
    assert v.verdict == judge.FAIL
    assert "/etc/resolv.conf" in v.reason


def test_a_file_longer_than_the_bound_fails() -> None:
    obs = _docker()
    obs["files"]["/etc/hosts"]["cut"] = True
    v = _judge("docker", obs)
    assert v.verdict == judge.FAIL
    assert "longer than the probe reads" in v.reason


def test_podmans_hosts_line_names_its_own_hostname_and_a_name_of_sandproofs() -> None:
    obs = copy.deepcopy(_recorded("podman-default-pass")["observation"])
    hosts = obs["files"]["/etc/hosts"]["text"]
    assert f"127.0.0.1\t{obs['hostname']} sandproof-" in hosts
    obs["files"]["/etc/hosts"]["text"] = hosts.replace(obs["hostname"], "0123456789ab")
    assert _judge("podman", obs).verdict == judge.FAIL
    renamed = dict(obs, files={**obs["files"], "/etc/hosts": {"type": "file", "cut": False, "text": hosts}})
    renamed["files"]["/etc/hosts"]["text"] = hosts.replace("sandproof-", "other-")
    assert _judge("podman", renamed).verdict == judge.FAIL


def test_what_the_plan_cannot_know_is_said_not_compared() -> None:
    """Under the host's network the host's own files are the profile's to choose."""
    host = dataclasses.replace(DEFAULT, network=dataclasses.replace(DEFAULT.network, mode="host"))
    expect = plan.runtime_files(host, "docker")
    obs = _docker()
    obs["files"]["/etc/hosts"]["text"] = "127.0.0.1 vm\n"
    assert judge.judge("etcfiles", expect, obs).verdict == judge.PASS


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"files": [], "hostname": "x"},
        {"files": {}, "hostname": "x"},
        {"files": {"/etc/hosts": {"type": "absent"}}, "hostname": "x"},
        {"hostname": 3},
        {"files": "x", "hostname": "x"},
    ],
)
def test_a_malformed_observation_is_an_error_never_a_pass(broken: dict[str, Any]) -> None:
    assert _judge("runc", broken).verdict == judge.ERROR


@pytest.mark.parametrize(
    "entry",
    [None, {"type": 1}, {"type": "file"}, {"type": "file", "text": 3, "cut": False}, {"type": "file", "text": ""}],
)
def test_a_malformed_entry_is_an_error(entry: object) -> None:
    obs = _docker()
    obs["files"]["/etc/hosts"] = entry
    assert _judge("docker", obs).verdict == judge.ERROR


def test_no_usable_hostname_is_an_error() -> None:
    obs = _docker()
    for hostname in ("", "a\nb"):
        assert _judge("docker", dict(obs, hostname=hostname)).verdict == judge.ERROR


def test_the_probe_reads_each_file_bounded_and_names_what_is_no_file(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_bytes(b"127.0.0.1\tlocalhost\n\xff\n" + b"x" * 5000)
    (tmp_path / "link").symlink_to(tmp_path / "hosts")
    os.mkfifo(tmp_path / "fifo")
    paths = [str(tmp_path / n) for n in ("hosts", "link", "fifo", "none")]
    got = etcfiles.etcfiles({"paths": paths})["files"]
    assert got[paths[0]]["cut"] is True
    assert len(got[paths[0]]["text"]) <= etcfiles.MAX_BYTES + 3
    assert got[paths[0]]["text"].startswith("127.0.0.1\tlocalhost\n\\xff\n")
    assert got[paths[1]] == {"type": "link"}
    assert got[paths[2]] == {"type": "fifo"}  # never opened: no wait on a writer
    assert got[paths[3]] == {"type": "absent"}


def test_a_line_written_twice_and_seen_once_is_named_missing_once() -> None:
    expect = {"files": {"/etc/hosts": "a\na\nb\n"}, "name": "x"}
    obs = {"hostname": "h", "files": {"/etc/hosts": {"type": "file", "text": "a\nb\n", "cut": False}}}
    got = judge.judge("etcfiles", expect, obs)
    assert got.verdict == judge.FAIL
    assert got.reason == "/etc/hosts: lines missing: 'a'"


@pytest.mark.parametrize(
    ("spec", "entry"),
    [
        ("a\n", {"type": "weird"}),  # no type the probe records
        ({}, {"type": "file", "text": "a\n", "cut": False}),  # an unplanned file without its why
        ({"x": 1}, {"type": "absent"}),
    ],
)
def test_what_the_probe_never_records_and_a_malformed_expectation_are_errors(spec: object, entry: object) -> None:
    obs = {"hostname": "h", "files": {"/etc/hosts": entry}}
    assert judge.judge("etcfiles", {"files": {"/etc/hosts": spec}, "name": "x"}, obs).verdict == judge.ERROR


def test_a_recorded_errno_is_shown_escaped_and_bounded() -> None:
    obs = {"hostname": "h", "files": {"/etc/hosts": {"type": "error", "errno": "\x1b[2J" + "E" * 10_000}}}
    got = judge.judge("etcfiles", {"files": {"/etc/hosts": "a\n"}, "name": "x"}, obs)
    assert got.verdict == judge.FAIL
    assert "\x1b" not in got.reason
    assert len(got.reason) < 200
