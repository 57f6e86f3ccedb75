"""PR-SECCOMP-SWEEP's exhaustive groups: what the plan's data expands to in the harness,
and the judge on recorded groups, then on the same records changed the way a filter tuned
to one argument vector (or a harness that stopped short) changes them."""

from __future__ import annotations

import copy
import itertools
import os
from typing import Any

import pytest

from sandproof import plan, profile, sweepgroups
from sandproof.inspector import judge
from sandproof.inspector.probes import sweep as inside
from sandproof.inspector.syscalls import CLONE_NAMESPACE_FLAGS
from tests.conftest import asset_json

RUNS = ("docker-default-pass", "runc-default-pass")
SWEEP = "PR-SECCOMP-SWEEP"
NS = sum(CLONE_NAMESPACE_FLAGS.values())


def _row(runtime: str = "docker") -> dict[str, Any]:
    return next(r for r in plan.probes(profile.load("default"), runtime) if r["probe_id"] == SWEEP)


def _vectors(group: str) -> list[tuple[Any, ...]]:
    """The argument vectors the harness makes of a planned group, as the plan writes them."""
    spec = next(g for g in _row()["params"]["groups"] if g["group"] == group)
    markers = inside._Markers(os.getpid())
    try:
        return [
            tuple(p[n] for p, n in zip(planned, v, strict=False))
            for planned, v in inside.expand(spec["blocks"], markers)
        ]
    finally:
        markers.close()


def _obs(run: str) -> dict[str, Any]:
    rec = next(r for r in asset_json(f"{run}.json")["probes"] if r["probe_id"] == SWEEP)
    return copy.deepcopy(rec["observation"])


def _group(obs: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(g for g in obs["groups"] if g["group"] == name)
    return found


def _judge(obs: object) -> judge.Judgement:
    row = _row()
    return judge.judge(row["kind"], row["expect"], obs)


@pytest.mark.parametrize("runtime", ["docker", "runc"])
def test_the_harness_expands_each_group_to_the_planned_count(runtime: str) -> None:
    for spec in _row(runtime)["params"]["groups"]:
        assert spec["count"] == sweepgroups.count(spec["blocks"])
        assert _row(runtime)["expect"]["groups"][spec["group"]] == {"name": spec["name"], "count": spec["count"]}
        vectors = _vectors(spec["group"])
        assert len(vectors) == spec["count"], spec["group"]


def test_socket_group_is_every_family_type_and_flag_and_holds_the_reviewers_vector() -> None:
    vectors = set(_vectors("socket:all"))
    types = [t | f for t in (1, 2, 3, 4, 5, 6, 10) for f in (0, 0x800, 0x80000, 0x80800)]
    assert {(f, t, 0) for f in range(46) for t in types} <= vectors
    assert (40, 0x80001, 0) in vectors  # socket(AF_VSOCK, SOCK_STREAM|SOCK_CLOEXEC, 0)
    assert {(16, 3, p) for p in range(23)} <= vectors  # every NETLINK_* protocol
    assert {(f, 1, 6) for f in (2, 10)} <= vectors  # IPPROTO_TCP for both inet families
    pairs = set(_vectors("socketpair:all"))
    assert (1, 0x80001, 0, "buf") in pairs


def test_namespace_groups_are_every_subset_and_clone_never_shares_memory() -> None:
    others = 0x400 | 0x200 | 0x40000
    unshare = {v[0] for v in _vectors("unshare:all")}
    assert len(unshare) == 2**11
    assert 0x50060400 in unshare  # NEWUSER|NEWNS|NEWNET|FILES|SYSVSEM
    clone = [v[0] for v in _vectors("clone:namespaces")]
    assert len(set(clone)) == len(clone) == 255 * 8 * 2
    assert all(f & NS and not f & ~(NS | others | 17) for f in clone)  # no CLONE_VM, THREAD, ...


def test_address_groups_use_real_addresses_and_every_usual_length() -> None:
    connect = _vectors("connect:addresses")
    assert {v[2] for v in connect} == {0, 12, 16, 28, 110, 128}
    assert ("fd", {"u32": {"0": 40, "4": 9999, "8": 1}}, 16) in connect  # sockaddr_vm, its length
    sendto = _vectors("sendto:addresses")
    assert {v[5] for v in sendto} == {0, 12, 16, 28, 110, 128}


@pytest.mark.parametrize("run", RUNS)
def test_recorded_groups_pass_each_tried_in_full(run: str) -> None:
    obs = _obs(run)
    v = _judge(obs)
    assert v.verdict == judge.PASS, v.reason
    planned = _row()["expect"]["groups"]
    assert {g["group"]: g["tried"] for g in obs["groups"]} == {g: s["count"] for g, s in planned.items()}
    assert all(g["answers"] == {"EPERM": g["tried"]} and g["first"] == [] for g in obs["groups"])
    assert "exhaustive groups" in v.reason


@pytest.mark.parametrize(
    ("group", "offender", "named"),
    [
        ("socket:all", {"args": [40, 0x80001, 0], "ret": 7, "errno": None}, "first socket([40, 524289, 0]) returned 7"),
        ("unshare:all", {"args": [0x50060400], "ret": 0, "errno": None}, "first unshare([1342571520]) returned 0"),
        ("connect:addresses", {"args": ["fd", 0, 16], "ret": -88, "errno": "ENOTSOCK"}, "connect(['fd', 0, 16])"),
    ],
)
def test_one_vector_let_through_fails_and_is_named(group: str, offender: dict[str, Any], named: str) -> None:
    obs = _obs("docker-default-pass")
    rec = _group(obs, group)
    key = offender["errno"] or "ok"
    rec.update(answers={"EPERM": rec["tried"] - 1, key: 1}, first=[offender])
    v = _judge(obs)
    assert v.verdict == judge.FAIL
    assert f"group {group}: 1 of {rec['tried']} tried answered {{'{key}': 1}}, expected EPERM" in v.reason
    assert named in v.reason


def test_a_group_stopped_short_after_offenders_is_still_fail() -> None:
    obs = _obs("runc-default-pass")
    rec = _group(obs, "clone:namespaces")
    offenders = [{"args": [0x10000000 | 17], "ret": 1000 + i, "errno": None} for i in range(8)]
    einval = [{"args": [0x10000200 | 17], "ret": -22, "errno": "EINVAL"}]
    rec.update(tried=32, answers={"EINVAL": 1, "ok": 31}, first=einval + offenders[:7])
    v = _judge(obs)
    assert v.verdict == judge.FAIL
    assert "32 of 32 tried answered {'EINVAL': 1, 'ok': 31}, expected EPERM (stopped after 32 of 4080)" in v.reason
    assert "first clone([268435985]) EINVAL; first that ran clone([268435473]) returned 1000" in v.reason


def test_offenders_counted_but_not_recorded_still_fail() -> None:
    obs = _obs("docker-default-pass")
    rec = _group(obs, "socketpair:all")
    rec["answers"] = {"EPERM": rec["tried"] - 2, "EOPNOTSUPP": 2}
    v = _judge(obs)
    assert v.verdict == judge.FAIL
    assert "no offender recorded" in v.reason


@pytest.mark.parametrize(
    "change",
    [
        lambda o: _group(o, "socket:all").update(tried=3443, answers={"EPERM": 3443}),  # one short
        lambda o: _group(o, "socket:all").update(tried=3445, answers={"EPERM": 3445}),
        lambda o: o["groups"].remove(_group(o, "unshare:all")),
        lambda o: o["groups"].append({**_group(o, "bind:addresses"), "group": "bind:other"}),
        lambda o: o["groups"].append(copy.deepcopy(_group(o, "bind:addresses"))),
        lambda o: _group(o, "bind:addresses").update(name="connect"),
        lambda o: _group(o, "bind:addresses").update(answers={"EPERM": 71}),  # histogram not the count tried
        lambda o: _group(o, "bind:addresses").update(answers={"EPERM": "72"}),
        lambda o: _group(o, "bind:addresses").update(tried=None),
        lambda o: _group(o, "bind:addresses").update(first=None),
        lambda o: o.update(groups={}),
        lambda o: o.pop("groups"),
    ],
)
def test_a_group_not_tried_in_full_or_malformed_is_error(change: Any) -> None:
    obs = _obs("docker-default-pass")
    change(obs)
    assert _judge(obs).verdict == judge.ERROR


def test_groups_are_compact_in_the_plan() -> None:
    """The plan describes each group in a few hundred bytes, never its vectors one by one."""
    specs = _row()["params"]["groups"]
    total = sum(s["count"] for s in specs)
    assert total > 10_000
    assert len(repr(specs)) < 16_000
    assert all(len(list(itertools.chain.from_iterable(s["blocks"]))) < 200 for s in specs)
