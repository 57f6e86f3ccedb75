"""``profile import docker``: commands Docker reads otherwise than a naive parser (review 14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandproof import profile, seccomp
from sandproof.cli import main

RUN = ["docker", "run", "--network", "none", "--cap-drop", "ALL", "--user", "65532:65532"]


def _import(flags: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["profile", "import", "docker", "--", *RUN, *flags, "img", "--attest"])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _refused(flags: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = _import(flags, capsys)
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert line.startswith("sandproof: error: ")
    return line


def _deny_list() -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(seccomp.render(profile.load("default")))
    return policy


def _edits() -> dict[str, tuple[str, str]]:
    """Each a file Docker applies otherwise than its rules say at face value (the text, and a
    word the refusal must name)."""
    base = json.dumps(_deny_list())
    rule = '{"names": ["unshare", "mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1'
    deny = base.replace('"syscalls": [', f'"syscalls": [{rule}, %s}}, ', 1)
    return {
        # moby profiles/seccomp/seccomp_linux.go: a rule applied only if the container has the cap,
        # on that arch, or on that kernel (review 14: imported as a denial Docker never applied)
        "includes-caps": (deny % '"includes": {"caps": ["CAP_SYS_ADMIN"]}', "includes"),
        "excludes-arches": (deny % '"excludes": {"arches": ["amd64"]}', "excludes"),
        "includes-minkernel": (deny % '"includes": {"minKernel": "99.0"}', "includes"),
        # Go's encoding/json: keys matched case-insensitively, the last one wins
        "later-Syscalls": (base[:-1] + ', "Syscalls": []}', "Syscalls"),
        "DefaultAction": (base.replace('"defaultAction"', '"DefaultAction"'), "DefaultAction"),
        "rule-Names": (deny.replace('{"names": ["unshare"', '{"Names": ["unshare"') % '"comment": ""', "Names"),
        "filter-Caps": (deny % '"includes": {"Caps": ["CAP_SYS_ADMIN"]}', "Caps"),
        "arg-Op": (base.replace('"op":', '"Op":', 1), "Op"),
        "duplicate": (base[:-1] + ', "defaultAction": "SCMP_ACT_ERRNO"}', "defaultAction"),
        # keys the import does not model: an allow-list, each may change what Docker applies
        "flags": (base[:-1] + ', "flags": ["SECCOMP_FILTER_FLAG_LOG"]}', "flags"),
        "archMap": (base[:-1] + ', "archMap": []}', "archMap"),
        "listenerPath": (base[:-1] + ', "listenerPath": "/run/agent.sock"}', "listenerPath"),
        "rule-name": (deny % '"name": "ptrace"', "name"),
        "long-s-syscalls": (base[:-1] + ', "\u017fyscalls": []}', "\u017fyscalls"),  # Go folds the long s to s
    }


@pytest.mark.parametrize("case", list(_edits()))
def test_import_refuses_a_seccomp_file_docker_reads_otherwise(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 14 #1: the profile denied what the command allowed, with no line saying so."""
    text, word = _edits()[case]
    monkeypatch.chdir(tmp_path)
    Path("sc.json").write_text(text)
    line = _refused(["--read-only", "--security-opt", "seccomp=sc.json"], capsys)
    assert "seccomp=sc.json: " in line
    assert word in line


def test_import_takes_an_empty_condition_and_a_comment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``"includes": {}`` (how moby's own default.json writes "always") is no condition."""
    monkeypatch.chdir(tmp_path)
    policy = _deny_list()
    for rule in policy["syscalls"]:
        rule |= {"includes": {}, "excludes": {"caps": []}, "comment": "why"}
    Path("sc.json").write_text(json.dumps(policy))
    code, out, err = _import(["--security-opt", "seccomp=sc.json"], capsys)
    assert code == 0
    assert "seccomp" not in err
    assert profile.parse(out, "imported").seccomp.rules == profile.load("default").seccomp.rules


@pytest.mark.parametrize(
    "flags",
    [
        ["-v/:/in:rw"],  # pflag: a shorthand's value attached ...
        ["-v=/:/in:rw"],  # ... or after '='
        ["-itv/:/in:rw"],  # after combined booleans
        ["-i", "-tv", "/:/in:rw"],  # the last letter takes the next word
        ["--mount", '"target=/in",type=bind,source=/'],  # review 14 #3: one CSV record
        ["--mount", 'type=bind,source=/srv,target=/x,"dst=/out"'],  # the last target wins
        ["-v", "myvol:/out:rw"],  # review 14 #4: a named volume as /out
        ["-v", "/in"],  # an anonymous (empty, writable) volume as /in
        ["-v", "myvol:/in:ro"],
        ["-v", "/srv:/in:ro,rshared"],  # options sandproof's /in does not have
    ],
)
def test_import_refuses_every_way_onto_in_or_out(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Review 14 #2-#4: each was dropped with a note (exit 0) while Docker mounted it on /in or /out."""
    line = _refused(flags, capsys)
    assert "sandproof gives /" in line
    assert line.endswith("elsewhere")


@pytest.mark.parametrize("flags", [["-u0:0"], ["-u=0:0"], ["-itu0:0"], ["-it", "-u", "0:0"], ["-tu", "0:0"]])
def test_import_reads_a_shorthands_attached_value(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Review 14 #2: ``-u0:0`` was dropped, and the profile kept the earlier --user 65532:65532."""
    code, out, err = _import(flags, capsys)
    assert code == 0
    imported = profile.parse(out, "imported")
    assert (imported.user.uid, imported.user.gid) == (0, 0)
    assert imported.image.name == "img"
    assert "-u" not in err
    assert not any(ln.startswith(("sandproof: -it", "sandproof: -tu")) for ln in err.splitlines())


def test_import_reads_shorthand_values_as_pflag(capsys: pytest.CaptureFixture[str]) -> None:
    """``-e=A=1`` is A=1, ``-m1g`` 1 GiB, ``-c=7`` 7 shares, ``-t=false`` a boolean given a value,
    ``--`` the end of the flags."""
    code, out, err = _import(["-e=A=1", "-m1g", "-c=7", "-t=false", "-v=/srv:/data:ro", "--"], capsys)
    assert code == 0, err
    imported = profile.parse(out, "imported")
    assert imported.environment.variables == {"A": "1"}
    assert imported.resources.memory.bytes == 1 << 30
    assert imported.resources.cpu_shares == 7
    assert [(b.source, b.target, b.mode) for b in imported.filesystem.binds] == [("/srv", "/data", "ro")]
    assert "sandproof: -t false: no profile key expresses it" in err.splitlines()
