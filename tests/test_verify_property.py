"""Property: no tampered or malformed bundle made from a real one ever verifies PASS.

Bases are the real bundles recorded from Docker and runc runs (passing and weakened)
and seed v1 bundles. Each example applies one to three tamperings; every example must
end in a clear invalid-input error (BundleError) or a FAIL verdict.

The second property edits one field anywhere in the evidence of a real passing bundle
(every probe record, every raw field, the summary) and lets the attacker of
``tests/forge.py`` make every derived field agree; the edit must FAIL unless it is an
observation no raw field repeats and the judge itself finds PASS (another honest run
looks like that), and no input may raise.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sandproof import bundle, crosscheck, plan, profile, verify
from sandproof.errors import BundleError
from sandproof.inspector import judge
from sandproof.inspector.catalog import PROBES
from tests.conftest import asset_json
from tests.forge import DERIVED, make_consistent

DEFAULT = profile.load("default")
BASES = {
    name: asset_json(f"{name}.json")
    for name in (
        "docker-default-pass",
        "runc-default-pass",
        "docker-weak-host-network",
        "runc-weak-exec-allowed",
        "docker-seed-nostart",
        "seed-v1-docker-default",
        "seed-v1-docker-host-network",
    )
}
# Each example edits a fresh copy of its base: parsed again from these bytes, ~4x faster than
# copy.deepcopy of the same tree (the copy was 40% of both properties' time); and the untampered
# forms each example is compared with, encoded once rather than per example.
BASE_BYTES = {name: orjson.dumps(b) for name, b in BASES.items()}
BASE_JSON = {name: json.dumps(b).encode() for name, b in BASES.items()}
BASE_SORTED = {name: orjson.dumps(b, option=orjson.OPT_SORT_KEYS) for name, b in BASES.items()}
# how a forger writes the edited bundle: sandproof's own form (bundle.parse's fast path, the one
# real bundles take) or the stdlib's (its strict reader); drawn per example, so both are tried
WRITERS = ("canonical", "stdlib")


def _written(b: dict[str, Any], writer: str) -> bytes:
    if writer == "canonical":
        try:
            return orjson.dumps(b, option=bundle.CANONICAL)
        except orjson.JSONEncodeError:  # an integer past 64 bits: only the stdlib writes it
            pass
    return json.dumps(b).encode()


def _unchanged(b: dict[str, Any], base: str) -> bool:
    """Whether an edit left ``b`` what ``base`` was: orjson's sorted form, 1 ms less than
    json.dumps(sort_keys=True) per 100 KiB bundle, tells 1, 1.0 and True apart as that does."""
    try:
        return orjson.dumps(b, option=orjson.OPT_SORT_KEYS) == BASE_SORTED[base]
    except orjson.JSONEncodeError:  # an integer past 64 bits, which orjson refuses
        return json.dumps(b, sort_keys=True) == json.dumps(BASES[base], sort_keys=True)


def _fresh(base: str) -> dict[str, Any]:
    b: dict[str, Any] = orjson.loads(BASE_BYTES[base])
    return b


def test_a_fresh_copy_is_the_base_itself_and_shares_nothing_with_it() -> None:
    for name, base in BASES.items():
        fresh = _fresh(name)
        assert fresh == base
        assert json.dumps(fresh).encode() == BASE_JSON[name]  # numbers and strings come back the same
        fresh["probes"].clear()
        assert base["probes"]


# Facts the verifier reports but cannot judge (timings, versions, the venue's claim, the
# container tag, stderr text): changing one to another value of its type changes no claim.
FREE_FACTS = frozenset(
    {
        "duration_ms",
        "wall_s",
        "stderr_tail",
        "runtime_version",
        "sandproof_version",
        "venue_identity",
        "venue",
        "harness",
        "image_name",
    }
)
HASH_FIELDS = ("seccomp_sha256", "plan_sha256", "inspector_sha256", "expected_plan_sha256", "image_digest")
VERDICTS = ("PASS", "FAIL", "UNVERIFIED", "ERROR")
ERRNOS = ("EPERM", "EROFS", "EACCES", "ENOENT", "ENETUNREACH", "ENOSYS", "EINVAL")
OUTCOMES = ("error", "wrote", "connected", "created", "executed", "traced", "timed-out")
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)

OPS = st.one_of(
    st.tuples(st.just("flip_verdict"), st.integers(0, 20), st.sampled_from(VERDICTS)),
    st.tuples(
        st.just("summary"),
        st.sampled_from(("total", "pass", "fail", "unverified", "error")),
        st.integers(-1, 20) | st.text(max_size=3),
    ),
    st.tuples(st.just("drop"), st.integers(0, 20)),
    st.tuples(st.just("dup"), st.integers(0, 20)),
    st.tuples(st.just("rename"), st.integers(0, 20), st.sampled_from([*PROBES, "PR-EVIL", "pr-net-1"])),
    st.tuples(st.just("raw_env"), st.sampled_from(("GITHUB_TOKEN", "HOME", "X")) | st.integers(0, 5)),
    st.tuples(st.just("raw_net"), st.sampled_from(("eth0", "wlan0", "docker0"))),
    st.tuples(st.just("raw_mount"), st.integers(0, 40), st.sampled_from(("flip", "drop"))),
    st.tuples(st.just("obs_errno"), st.integers(0, 20), st.sampled_from(ERRNOS)),
    st.tuples(st.just("obs_outcome"), st.integers(0, 20), st.sampled_from(OUTCOMES)),
    st.tuples(st.just("errno_field"), st.integers(0, 20), st.sampled_from(("n/a", *ERRNOS)) | st.integers(0, 200)),
    st.tuples(st.just("swap_hash"), st.sampled_from(HASH_FIELDS), st.sampled_from(HASH_FIELDS)),
    st.tuples(st.just("hash_hex"), st.sampled_from(HASH_FIELDS), st.integers(0, 63)),
    st.tuples(st.just("delete"), st.integers(-1, 20), st.integers(0, 40)),
    st.tuples(st.just("retype"), st.integers(-1, 20), st.integers(0, 40), JSON_VALUES),
)
MALFORM = st.one_of(
    st.none(),
    st.tuples(st.just("truncate"), st.floats(0.0, 0.999)),
    st.tuples(st.just("non_utf8"), st.floats(0.0, 0.999)),
    st.tuples(st.just("duplicate_key"), st.sampled_from(("schema", "probes", "run_date"))),
    st.tuples(st.just("nan"), st.sampled_from(("NaN", "Infinity", "-Infinity", "1e999"))),
)


def _pick(seq: list[Any], i: int) -> Any:
    return seq[i % len(seq)] if seq else None


def _apply(b: dict[str, Any], op: tuple[Any, ...]) -> None:
    probes: list[Any] = b["probes"] if isinstance(b.get("probes"), list) else []
    name = op[0]
    target = _pick(probes, op[1] if isinstance(op[1], int) else 0)
    if not isinstance(target, dict):
        target = {}
    if name == "flip_verdict":
        target["verdict"] = op[2]
    elif name == "summary" and isinstance(b.get("summary"), dict):
        b["summary"][op[1]] = op[2]
    elif name == "drop" and probes:
        probes.pop(op[1] % len(probes))
    elif name == "dup" and probes:
        probes.append(copy.deepcopy(_pick(probes, op[1])))
    elif name == "rename":
        target["probe_id"] = op[2]
    elif name == "raw_env" and isinstance(b.get("raw"), dict) and isinstance(b["raw"].get("env_keyset"), list):
        keys = b["raw"]["env_keyset"]
        if isinstance(op[1], str):
            keys.append(op[1])
        elif keys:
            keys.pop(op[1] % len(keys))
    elif name == "raw_net" and isinstance(b.get("raw"), dict) and isinstance(b["raw"].get("proc_net_dev"), str):
        b["raw"]["proc_net_dev"] += f"  {op[1]}: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    elif name == "raw_mount" and isinstance(b.get("raw"), dict) and isinstance(b["raw"].get("mountinfo"), str):
        lines = b["raw"]["mountinfo"].splitlines()
        i = op[1] % len(lines)
        if op[2] == "drop":
            lines.pop(i)
        else:
            lines[i] = (
                lines[i].replace(" ro,", " rw,", 1) if " ro," in lines[i] else lines[i].replace(" rw,", " ro,", 1)
            )
        b["raw"]["mountinfo"] = "\n".join(lines) + "\n"
    elif name in ("obs_errno", "obs_outcome"):
        obs = target.get("observation")
        if isinstance(obs, dict):
            obs["errno" if name == "obs_errno" else "outcome"] = op[2]
    elif name == "errno_field":
        target["errno_or_exit"] = op[2]
    elif name == "swap_hash" and op[1] in b and op[2] in b:
        b[op[1]], b[op[2]] = b[op[2]], b[op[1]]
    elif name == "hash_hex" and isinstance(b.get(op[1]), str) and b[op[1]]:
        h = b[op[1]]
        i = len(h) - 1 - op[2] % min(64, len(h))
        b[op[1]] = h[:i] + ("0" if h[i] != "0" else "1") + h[i + 1 :]
    elif name in ("delete", "retype"):
        holder = b if op[1] < 0 or not isinstance(target, dict) or not target else target
        key = _pick(sorted(k for k in holder if name == "delete" or k not in FREE_FACTS), op[2])
        if key is not None:
            if name == "delete":
                del holder[key]
            else:
                holder[key] = op[3]


def _malform(raw: bytes, how: tuple[Any, ...] | None) -> bytes:
    if how is None:
        return raw
    kind, arg = how
    if kind == "truncate":
        return raw[: int(len(raw) * arg)]
    if kind == "non_utf8":
        i = int(len(raw) * arg)
        return raw[:i] + b"\xff\xfe" + raw[i:]
    if kind == "duplicate_key":
        return raw.replace(b"{", b'{"' + arg.encode() + b'": 1, ', 1)
    return raw.replace(b'"run_date": ', b'"run_date": ' + arg.encode() + b', "x": ', 1)


# derandomize: the same examples every run, so CI is reproducible; vary the seed locally to explore.
# 10,000 examples took 100 s (10 ms each); 3,000 find every tampering class here in 30 s.
@pytest.mark.long
@settings(max_examples=3_000, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(sorted(BASES)),
    ops=st.lists(OPS, min_size=1, max_size=3),
    malform=MALFORM,
    writer=st.sampled_from(WRITERS),
)
def test_no_tampered_bundle_verifies_pass(base: str, ops: list[tuple[Any, ...]], malform: Any, writer: str) -> None:
    b = _fresh(base)
    for op in ops:
        _apply(b, op)
    raw = _malform(_written(b, writer), malform)
    assume(malform is not None or not _unchanged(b, base))
    try:
        data = bundle.decode(raw, base)
    except BundleError:
        return  # invalid input: exit 2 with one line
    report = verify.verify(data, DEFAULT, source=base)
    assert report.verdict == "FAIL", (base, ops, malform)


def test_the_untampered_passing_bases_do_pass() -> None:
    # the property above means something only if the same path says PASS to the real thing
    for name in ("docker-default-pass", "runc-default-pass"):
        for writer in WRITERS:  # each writer's form, as the property writes them: both readers say PASS
            raw = _written(BASES[name], writer)
            assert (bundle._fast(raw) is not None) == (writer == "canonical")
            assert verify.verify(bundle.decode(raw, name), DEFAULT).verdict == "PASS"


# ---- one field of the evidence, edited and made consistent by the attacker ----

PASSING = ("docker-default-pass", "runc-default-pass")
RUNTIME = {"docker-default-pass": "docker", "runc-default-pass": "runc"}
# probes whose whole observation a raw field repeats (or a twin probe shares): any change FAILs
MIRRORED = frozenset(
    {
        "PR-ENV-1",
        "PR-MOUNT-1",
        "PR-ID-1",
        "PR-CAP-1",
        "PR-NNP-1",
        "PR-SECCOMP-1",
        "PR-FD-1",
        "PR-RLIMIT-1",
        "PR-SECCOMP-ABI",
        "PR-SUID-1",
        "PR-SOCK-ANY",
    }
)
Path_ = tuple[str | int, ...]


def _nodes(value: Any, path: Path_ = ()) -> list[Path_]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _nodes(v, (*path, i))
    return out


def _groups(b: dict[str, Any]) -> dict[str, list[Path_]]:
    """Every node of the evidence, by probe record and by raw field, so each is drawn as
    often as the sweep's hundreds of attempts are."""
    groups = {f"probe {r['probe_id']}": _nodes(r, ("probes", i)) for i, r in enumerate(b["probes"])}
    groups |= {f"raw {k}": _nodes(v, ("raw", k)) for k, v in b["raw"].items()}
    groups["summary"] = _nodes(b["summary"], ("summary",))
    groups["guard"] = _nodes(b["guard"], ("guard",))
    return groups


GROUPS = {name: _groups(BASES[name]) for name in PASSING}
PLAN_ROWS = {rt: {p["probe_id"]: p for p in plan.build(DEFAULT, rt)["probes"]} for rt in RUNTIME.values()}
GROUP_NAMES = sorted(set(GROUPS["docker-default-pass"]) & set(GROUPS["runc-default-pass"]))
HIDDEN = ("\x00", "\x1b", "\r", "\u200b", "\u202e", " ", "\t", "\n")
STRING_EDITS = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(("", "nan", "inf", "0", "-1", "max", "64.0", "1e3", "/", "\u0666"))),
    st.tuples(st.just("append"), st.sampled_from(HIDDEN)),
    st.tuples(st.just("prepend"), st.sampled_from(HIDDEN)),
    st.tuples(st.just("char"), st.integers(0, 10**6), st.sampled_from(("0", "9", "a", "-", " ", "\u200b", "/"))),
    st.tuples(st.just("cut"), st.integers(0, 10**6)),
)
NUMBER_EDITS = st.sampled_from(("+1", "-1", "zero", "float", "bool", "str", "huge", "none"))
CONTAINER_EDITS: st.SearchStrategy[tuple[Any, ...]] = st.one_of(
    st.tuples(st.just("drop"), st.integers(0, 10**6)),
    st.tuples(st.just("dup"), st.integers(0, 10**6)),
    st.tuples(st.just("add"), st.sampled_from((0, "x", "/", None, [], {}))),
    st.tuples(st.just("empty")),
)


def _get(b: Any, path: Path_) -> Any:
    for k in path:
        b = b[k]
    return b


def _edit_value(value: Any, how: Any) -> Any:  # noqa: PLR0911 - one answer per kind of edit
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        how = how if isinstance(how, str) else "+1"
        return {
            "+1": value + 1,
            "-1": value - 1,
            "zero": 0 if value else 1,
            "float": float(value) + (0.5 if isinstance(value, float) else 0.0),
            "bool": value != 1,
            "str": str(value),
            "huge": 2**64,
            "none": None,
        }[how]
    if isinstance(value, str):
        how = how if isinstance(how, tuple) and how[0] in ("set", "append", "prepend", "char", "cut") else ("cut", 0)
        op = how[0]
        if op == "set":
            return how[1]
        if op == "append":
            return value + how[1]
        if op == "prepend":
            return how[1] + value
        i = how[1] % (len(value) or 1)
        if op == "char":
            return value[:i] + how[2] + value[i + 1 :]
        return value[:i] + value[i + 1 :]
    return 0 if value is None else value


def _edit(b: dict[str, Any], path: Path_, how: Any) -> None:
    node = _get(b, path)
    if isinstance(node, dict | list):
        how = how if isinstance(how, tuple) and how[0] in ("drop", "dup", "add", "empty") else ("drop", 0)
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if how[0] == "empty":
            node.clear()
        elif how[0] == "add":
            node.append(how[1]) if isinstance(node, list) else node.setdefault("x-added", how[1])
        elif keys:
            k = keys[how[1] % len(keys)]
            if how[0] == "drop":
                del node[k]
            elif isinstance(node, list):
                node.append(copy.deepcopy(node[k]))
            else:
                node[f"{k}\u200b"] = copy.deepcopy(node[k])
        return
    if not path:
        return
    _get(b, path[:-1])[path[-1]] = _edit_value(node, how)


def _may_pass(base: str, path: Path_, edited: dict[str, Any]) -> bool:
    """Whether a PASS after this edit is what another honest run could look like."""
    if path[0] == "probes" and len(path) >= 3:
        rec = edited["probes"][path[1]]
        if path[2] == "duration_ms":
            return True  # a timing: reported, never judged
        if path[2] != "observation" or rec.get("probe_id") in MIRRORED or path[3:4] == ("startup",):
            return False
        row = PLAN_ROWS[RUNTIME[base]].get(rec["probe_id"])
        expect = row["expect"] if row else {"findings": []}
        return judge.judge(str(rec["kind"]), expect, rec["observation"]).verdict == "PASS"
    if path[:2] == ("raw", "proc_net_dev"):  # counters move between the two reads, interfaces may not
        return crosscheck._net_dev(edited["raw"]["proc_net_dev"]) == crosscheck._net_dev(
            BASES[base]["raw"]["proc_net_dev"]
        )
    return False


# 1,500 examples: about 40 per probe record or raw field; 4,000 took 3 min and found nothing more
@pytest.mark.long
@settings(max_examples=1_500, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(PASSING),
    group=st.sampled_from(GROUP_NAMES),
    where=st.integers(0, 10**6),
    how=st.one_of(STRING_EDITS, NUMBER_EDITS, CONTAINER_EDITS),
    writer=st.sampled_from(WRITERS),
)
def test_no_one_field_edit_of_the_evidence_passes(base: str, group: str, where: int, how: Any, writer: str) -> None:
    b = _fresh(base)
    nodes = GROUPS[base][group]
    path = nodes[where % len(nodes)]
    _edit(b, path, how)
    if path[0] != "summary" and not (len(path) >= 3 and path[2] in DERIVED):
        make_consistent(b)  # the attacker rewrites everything derived from the edit
    raw = _written(b, writer)
    assume(not _unchanged(b, base))
    try:
        data = bundle.parse(raw, base)
        typed = bundle.typed(data, base)
    except BundleError:
        return
    report = verify.verify(typed, DEFAULT, source=base)  # never raises
    if report.verdict == "PASS":
        assert _may_pass(base, path, data), (base, path, how)
