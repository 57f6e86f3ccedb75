"""The judging logic on recorded inputs (mountinfo from real Docker and runc runs)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandproof import plan, profile
from sandproof.inspector import judge
from sandproof.inspector.judges.common import strict_int

EXPECT = plan.expectations(profile.load("default"), "docker")


def test_erofs_is_not_eacces() -> None:
    e = EXPECT["PR-FS-ESC-1"]["expect"]
    assert judge.judge("write", e, {"outcome": "error", "errno": "EROFS"}).verdict == judge.PASS
    assert judge.judge("write", e, {"outcome": "error", "errno": "EACCES"}).verdict == judge.FAIL
    assert judge.judge("write", e, {"outcome": "wrote", "errno": None}).verdict == judge.FAIL


def test_positive_control() -> None:
    e = EXPECT["PR-FS-OUT-OK"]["expect"]
    assert judge.judge("write", e, {"outcome": "wrote"}).verdict == judge.PASS
    assert judge.judge("write", e, {"outcome": "error", "errno": "EROFS"}).verdict == judge.FAIL


def test_exec_success_and_timeouts_never_pass() -> None:
    e = EXPECT["PR-EXEC-1"]["expect"]
    assert judge.judge("exec", e, {"outcome": "executed"}).verdict == judge.FAIL
    assert judge.judge("exec", e, {"outcome": "error", "errno": "ENOENT"}).verdict == judge.FAIL
    assert judge.judge("exec", e, {"harness_error": "timed out"}).verdict == judge.ERROR
    assert judge.judge("connect", EXPECT["PR-NET-1"]["expect"], {"outcome": "timed-out"}).verdict == judge.FAIL


def test_env_names_only() -> None:
    e = EXPECT["PR-ENV-1"]["expect"]
    same = {"HOME": True, "HOSTNAME": True, "PATH": True}
    ok = {"keys": ["HOME", "HOSTNAME", "PATH"], "runtime_values": same, "hostname": "0123456789ab"}
    assert judge.judge("env", e, ok).verdict == judge.PASS
    for leak in ("GITHUB_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "AWS_ACCESS_KEY_ID", "DB_PASSWORD", "MY_API_KEY"):
        assert judge.judge("env", e, {**ok, "keys": ["PATH", leak]}).verdict == judge.FAIL, leak
    # a secret in the value of a runtime-set name shows as a mismatch, never as its value
    assert judge.judge("env", e, {**ok, "runtime_values": {**same, "HOSTNAME": False}}).verdict == judge.FAIL
    assert judge.judge("env", e, {**ok, "hostname": "build-host"}).verdict == judge.FAIL


def test_interfaces() -> None:
    e = EXPECT["PR-NET-2"]["expect"]
    head = "Inter-|   Receive\n face |bytes\n"
    # each table as the kernel prints it with no socket: its header, or every protocol's count
    texts = {
        "sockstat": "sockets: used 0\nTCP: inuse 0 orphan 0\nUDP: inuse 0 mem 0\nRAW: inuse 0\n",
        "sockstat6": "TCP6: inuse 0\nUDP6: inuse 0\nRAW6: inuse 0\n",
        "packet": "sk       RefCnt Type Proto  Iface R Rmem   User   Inode\n",
    }
    tables = {"sockets": {n: texts.get(n, "  sl  local_address rem_address   st\n") for n in e["socket_tables"]}}
    assert judge.judge("ifaces", e, {"proc_net_dev": head + "    lo: 0 0\n", **tables}).verdict == judge.PASS
    # an emptied table is not an empty one: the header (or a protocol's count) is always there
    for name in e["socket_tables"]:
        emptied = {"sockets": {**tables["sockets"], name: ""}}
        v = judge.judge("ifaces", e, {"proc_net_dev": head + "    lo: 0 0\n", **emptied})
        assert v.verdict == judge.ERROR, name
    assert judge.judge("ifaces", e, {"proc_net_dev": head + "    lo: 0\n  eth0: 1\n"}).verdict == judge.FAIL
    assert judge.judge("ifaces", e, {"proc_net_dev": head}).verdict == judge.ERROR


def test_malformed_observations_are_errors_never_pass() -> None:
    for kind, row in ((r["kind"], r) for r in EXPECT.values()):
        for obs in ({}, {"outcome": 3}, {"mountinfo": 5}, {"keys": "PATH"}, {"present": "x"}):
            assert judge.judge(kind, row["expect"], obs).verdict != judge.PASS, (kind, obs)
    assert judge.judge("nope", {}, {}).verdict == judge.ERROR
    assert judge.judge("exec", [], {}).verdict == judge.ERROR


def test_engine_socket_presence() -> None:
    e = EXPECT["PR-SOCK-DOCKER"]["expect"]
    paths = e["absent"]
    assert judge.judge("absent", e, {"checked": paths, "present": []}).verdict == judge.PASS
    assert judge.judge("absent", e, {"checked": paths, "present": [paths[0]]}).verdict == judge.FAIL
    assert judge.judge("absent", e, {"checked": paths[:1], "present": []}).verdict == judge.UNVERIFIED
    assert judge.judge("absent", e, {"present": []}).verdict == judge.ERROR


def _read_int(text: object) -> object:
    try:
        return strict_int(text)
    except ValueError:
        return "refused"


def _reference_int(text: object) -> object:
    """The kernel's integer as the judges first read it: a regular expression."""
    if type(text) is int:
        return text
    if not isinstance(text, str) or not re.fullmatch(r"-?[0-9]{1,20}", text):
        return "refused"
    return int(text)


@pytest.mark.long
@settings(max_examples=3000, deadline=None, derandomize=True)
@given(text=st.text(alphabet="-0123456789\u00b2\u0663 +_\n", max_size=23) | st.integers() | st.none() | st.booleans())
def test_strict_int_takes_exactly_ascii_digits(text: object) -> None:
    assert _read_int(text) == _reference_int(text)
    for edge in ("-", "--1", "-0", "1" * 20, "1" * 21, "-" + "1" * 20, "0\n", "", "\u0663", " 1", "+1", "1_0"):
        assert _read_int(edge) == _reference_int(edge), edge


def test_identity_judges_the_umask_exactly() -> None:
    """PR-ID-1: the status line and umask(2) must agree, and be exactly the planned umask;
    gVisor's status has no line, umask(2) alone then shows it; neither is an ERROR."""
    from sandproof.inspector.judge import judge as judge_kind  # noqa: PLC0415 - local to this test

    expect = {"uid": 65532, "gid": 65532, "groups": [65532], "umask": "0022"}
    ids = {"Uid": "65532\t65532\t65532\t65532", "Gid": "65532\t65532\t65532\t65532", "Groups": "65532"}

    def run(line: str | None, asked: str | None) -> tuple[str, str]:
        obs = {"status": {**ids, "Umask": line}, "prctl": {} if asked is None else {"Umask": asked}}
        got = judge_kind("identity", expect, obs)
        return got.verdict, got.reason

    assert run("0022", "0022")[0] == "PASS"
    assert run(None, "0022") == ("PASS", "uid 65532, gid 65532, umask 0022 (by umask(2): not in /proc/self/status)")
    assert run("0000", "0000") == ("FAIL", "umask 0000, expected exactly 0022")
    assert run("0022", "0000")[0] == "FAIL"  # a status that lies about the process
    assert run(None, "0077")[0] == "FAIL"  # stricter is still not the profile's
    assert run(None, None)[0] == "ERROR"
    assert judge_kind("identity", expect, {"status": {**ids, "Umask": 18}, "prctl": {}}).verdict == "ERROR"
