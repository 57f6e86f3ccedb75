"""Adversarial review of the issue-10 verifier (orjson/stdlib reader, msgspec model) and the
rewritten profile loader. Each test states the correct behaviour and fails on the code
as reviewed; the comment above each says why it matters."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sandproof import profile, signing, verify
from sandproof.cli import main
from sandproof.errors import BundleError, ProfileError
from sandproof.inspector.wire import Verdict
from sandproof.report import json as json_report
from tests.conftest import ASSETS, asset_json
from tests.forge import by_id, make_consistent
from tests.test_model import model_ok, schema_ok

DEFAULT = profile.load("default")
DEFAULT_TEXT = (Path(profile.__file__).parent / "profiles" / "default.toml").read_text()


# ---- msgspec patterns are re.search: "$" matches before a final newline ----

PATTERN_FIELDS = [
    ("plan_sha256",),
    ("inspector_sha256",),
    ("expected_plan_sha256",),
    ("seccomp_sha256",),
    ("profile", "sha256"),
    ("probes", 0, "probe_id"),
]


@pytest.mark.parametrize("path", PATTERN_FIELDS, ids=lambda p: ".".join(map(str, p)))
def test_model_refuses_a_pattern_field_with_a_trailing_newline(path: tuple[str | int, ...]) -> None:
    # the published schema (fastjsonschema, ECMA "$") refuses "<64 hex>\n"; msgspec's Meta(pattern=)
    # uses Python re.search, where "$" also matches before a final "\n": the typed decoder is looser
    doc = asset_json("docker-default-pass.json")
    holder: Any = doc
    for p in path[:-1]:
        holder = holder[p]
    holder[path[-1]] += "\n"
    assert not schema_ok(doc)
    assert not model_ok(doc)


@pytest.mark.parametrize("runtime", ["docker", "runc"])
def test_a_newline_suffixed_inspector_hash_does_not_verify(runtime: str) -> None:
    # a bundle the published schema refuses verifies PASS today: the inspector identity in a
    # PASSed (and signable) bundle is not a sha256 at all; the schema must be the floor
    b = asset_json(f"{runtime}-default-pass.json")
    b["inspector_sha256"] += "\n"
    by_id(b)["PR-DYNIMPORT"]["observation"]["inspector_sha256"] += "\n"
    raw = json.dumps(make_consistent(b), indent=2, sort_keys=True).encode()
    try:
        report = verify.verify_bytes(raw, "forged", DEFAULT)
    except BundleError:
        return  # refused as the schema refuses it: correct
    assert report.verdict != Verdict.PASS  # if it is not refused, at least it must not pass


def test_sign_refuses_evidence_the_schema_refuses(tmp_path: Path) -> None:
    # `sandproof sign` checks with the typed model only: it signs a statement whose subject
    # digest is "<hex>\n", which no in-toto consumer can match
    b = asset_json("docker-default-pass.json")
    b["seccomp_sha256"] += "\n"
    ev = tmp_path / "ev.json"
    ev.write_text(json.dumps(b, indent=2, sort_keys=True))
    signing.keygen(tmp_path / "k.pem", tmp_path / "k.pub.pem")
    assert main(["sign", str(ev), "--key", str(tmp_path / "k.pem"), "--out", str(tmp_path / "s.json")]) == 2


# ---- the profile loader: Size, tmpfs options and ports read with Python's Unicode \d and "$" ----


def _parse(old: str, new: str) -> profile.Profile:
    assert old in DEFAULT_TEXT
    return profile.parse(DEFAULT_TEXT.replace(old, new, 1), "review.toml")


@pytest.mark.parametrize(
    "memory",
    [
        "\u0662\u0665\u0666m",  # Arabic-Indic digits: re's \d and int() take them; docker's go-units does not
        "256m\\n",  # re's "$" matches before the final newline; docker: invalid suffix
        "262144\u212a",  # KELVIN SIGN lowers to "k"; the argv carries the Kelvin sign
        "99999999999999999999g",  # beyond int64: docker silently wraps ("minimum memory limit is 6MB")
    ],
)
def test_sizes_are_ascii_digits_and_fit_int64(memory: str) -> None:
    # the loader is meant to refuse what crashes a renderer or the engine (commit 0f0b4bb); these
    # load, render `--memory <text>` for Docker and bytes for runc: the two runtimes get different
    # sandboxes (or none) from one profile
    text = DEFAULT_TEXT.replace('memory = "256m"', f'memory = "{memory}"', 1)
    text = text.replace('memory_swap = "256m"', f'memory_swap = "{memory}"', 1)  # swap >= memory
    with pytest.raises(ProfileError):
        profile.parse(text, "review.toml")


@pytest.mark.parametrize("option", ["size=16m\\n", "size=\u0661\u0666m", "mode=0777\\n"])
def test_tmpfs_options_are_exact_ascii(option: str) -> None:
    # _TMPFS_OPTION uses match + "$" and \d: a newline or non-ASCII digits reach the docker argv /
    # the OCI mount options, which the kernel's shmem parser refuses
    with pytest.raises(ProfileError):
        _parse('"size=16m"', f'"{option}"')


@pytest.mark.parametrize("target", ["1.1.1.1:\u0665\u0663", "1.1.1.1\\n:53"])
def test_probe_target_is_an_ascii_host_and_port(target: str) -> None:
    # str.isdigit() is true for Arabic-Indic digits and the host part is never checked: the
    # address PR-NET-1 must not reach is not what the file shows
    with pytest.raises(ProfileError):
        _parse('"1.1.1.1:53"', f'"{target}"')


def test_pids_fit_int64() -> None:
    # docker --pids-limit is int64 (strconv.ParseInt: value out of range); the loader takes any int
    with pytest.raises(ProfileError):
        _parse("pids = 64", "pids = 9223372036854775808")


# ---- what was judged against: a profile file may take a shipped profile's name ----


def test_the_vsa_names_the_profile_it_was_judged_against(tmp_path: Path) -> None:
    # `verify --vsa` signs "PASSED" naming only the bundle and the matrix: the same signed
    # summary results from judging against the shipped default or any file whose name = "default"
    signing.keygen(tmp_path / "k.pem", tmp_path / "k.pub.pem")
    out = tmp_path / "vsa.json"
    bundle_path = tmp_path / "docker-default-pass.dsse.json"  # a summary is of signed evidence only
    sign = ["sign", str(ASSETS / "bundles" / "docker-default-pass.json"), "--key", str(tmp_path / "k.pem")]
    assert main([*sign, "--out", str(bundle_path)]) == 0
    keys = ["--key", str(tmp_path / "k.pub.pem"), "--vsa-key", str(tmp_path / "k.pem")]
    rc = main(["verify", str(bundle_path), "--vsa", str(out), *keys])
    assert rc == 0
    payload = base64.b64decode(json.loads(out.read_text())["payload"]).decode()
    assert DEFAULT.digest in payload


def test_the_json_report_tells_a_shipped_profile_from_a_file_of_the_same_name(tmp_path: Path) -> None:
    # a file whose name = "default" (but other contents) is reported as profile "default",
    # exactly like the shipped one: the report must carry the profile's digest or source
    weak = tmp_path / "default.toml"
    weak.write_text(DEFAULT_TEXT.replace("pids = 64", "pids = 4096", 1))
    shadow = profile.load(str(weak))
    assert shadow.name == DEFAULT.name
    assert shadow.digest != DEFAULT.digest
    b = asset_json("docker-default-pass.json")
    shipped = json_report.as_dict(verify.verify(copy.deepcopy(b), DEFAULT))
    other = json_report.as_dict(verify.verify(copy.deepcopy(b), shadow))
    assert {k: v for k, v in shipped.items() if k == "profile"} != {k: v for k, v in other.items() if k == "profile"}
