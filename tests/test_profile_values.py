"""Review 13's profile values that reached the host or another file's syntax unchecked: the
seccomp file's name (joined onto a directory and written as root), the image references (a
Dockerfile's FROM line), every free-text value rendered into ``render k8s``'s YAML; and the
doctor rules a value could slip past (SPD050 by a digest in a comment line, SPD060 by ``}}`` in
an expression's string, SPD012 by a flag undone later in the list)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandproof import doctor, init, mountplan, mountplan_gvisor, profilecheck
from sandproof import profile as profiles
from sandproof.cli import main
from sandproof.doctor import image as image_rules
from sandproof.doctor import mounts as mount_rules
from sandproof.errors import ProfileError
from sandproof.profile import Profile, Tmpfs
from sandproof.render import dockerfile, k8s, runnable

DEFAULT_TEXT = (Path(profiles.__file__).parent / "profiles" / "default.toml").read_text()
FILE_NAME = 'file_name = "seccomp-sandproof-default.json"'
BASE = 'base = "gcr.io/distroless/python3-debian12:nonroot"'
IMAGE_NAME = 'name = "sandproof/inspector:default"'
DIGEST = "@sha256:" + "0" * 64
INJECT = "x\n---\nkind: Pod\n"
RUN_DATE = "2026-01-02"


def _with(tmp_path: Path, old: str, new: str) -> str:
    assert old in DEFAULT_TEXT, old
    path = tmp_path / "p.toml"
    path.write_text(DEFAULT_TEXT.replace(old, new, 1))
    return str(path)


def _toml(value: str) -> str:
    return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's


# 1. seccomp.file_name: a plain file name, nothing else

BAD_FILE_NAMES = [
    "/work/scratch/pwn/abs-seccomp.json",
    "../x.json",
    "sub/x.json",
    "x\n.json",
    "x\x01.json",
    "x\x7f.json",
    "x\u2028.json",
    "..",
    ".",
    "",
    ".hidden.json",
    " x.json",
    "x" * 129,
]


def _one_line_refusal(path: str) -> str:
    """The loader's refusal of ``path``: one line, whatever the value held."""
    with pytest.raises(ProfileError) as err:
        profiles.load(path)
    msg = err.value.message
    assert "\n" not in msg
    assert "\r" not in msg
    return msg


@pytest.mark.parametrize("bad", BAD_FILE_NAMES)
def test_seccomp_file_name_is_a_plain_file_name(tmp_path: Path, bad: str) -> None:
    msg = _one_line_refusal(_with(tmp_path, FILE_NAME, f"file_name = {_toml(bad)}"))
    assert "key 'seccomp.file_name': expected a plain file name" in msg
    assert repr(bad) in msg  # the value, escaped


def test_seccomp_file_name_refused_on_the_command_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _with(tmp_path, FILE_NAME, 'file_name = "../pwn/rel-seccomp.json"')
    for argv in (["render", "seccomp", "--profile", path], ["init", "--profile", path, str(tmp_path / "layout")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1, err
        assert "seccomp.file_name" in err[0]
        assert "'../pwn/rel-seccomp.json'" in err[0]
    assert not (tmp_path / "layout").exists()
    assert not (tmp_path.parent / "pwn").exists()


@pytest.mark.parametrize("good", ["seccomp-sandproof-default.json", "a", "seccomp_learned-05a34ae5cbac.json", "X.1"])
def test_plain_file_names_load(tmp_path: Path, good: str) -> None:
    assert profiles.load(_with(tmp_path, FILE_NAME, f"file_name = {_toml(good)}")).seccomp.file_name == good


def test_every_shipped_profile_loads() -> None:
    for name in profiles.SHIPPED:
        p = profiles.load(name)
        assert p.seccomp.path_in("/d") == Path("/d", p.seccomp.file_name)


def _evil_seccomp(name: str) -> Profile:
    p = profiles.load("default")
    return dataclasses.replace(p, seccomp=dataclasses.replace(p.seccomp, file_name=name))


@pytest.mark.parametrize("bad", ["../x.json", "/tmp/x.json", "a/b"])
def test_a_seccomp_built_in_code_is_checked_where_it_is_joined(tmp_path: Path, bad: str) -> None:
    """Defence in depth: the loader is not the only way to a Profile (dataclasses.replace is)."""
    p = _evil_seccomp(bad)
    with pytest.raises(ProfileError, match=r"seccomp\.file_name"):
        p.seccomp.path_in(tmp_path)
    beside = tmp_path / "beside"
    beside.mkdir()
    prepared = runnable.Prepared(beside / "in", beside / "out", beside, ())
    with pytest.raises(ProfileError, match=r"seccomp\.file_name"):
        runnable.seccomp_file(p, prepared)
    with pytest.raises(ProfileError, match=r"seccomp\.file_name"):
        init.files(p, sandproof_spec="sandproof")
    with pytest.raises(ProfileError, match=r"seccomp\.file_name"):
        k8s.render(p, run_date=RUN_DATE)
    assert [x.name for x in tmp_path.rglob("*")] == ["beside"]


# 3. image.base and image.name: image references (distribution/reference's grammar)

GOOD_REFS = [
    "gcr.io/distroless/python3-debian12:nonroot",
    "gcr.io/distroless/python3-debian12:nonroot" + DIGEST,
    "busybox",
    "sandproof/inspector:default",
    "tki-inspector:attest",
    "localhost:5000/a/b_c__d.e---f:Tag_1.2-x" + DIGEST,
    "Registry.Example.com/x",
    "[::1]:5000/x:y",
    "x" + DIGEST,
]
BAD_REFS = [
    "attacker/img:latest\nUSER 0:0\nRUN echo pwned > /etc/evil\n# " + DIGEST,
    "gcr.io/distroless/python3-debian12:nonroot\nUSER 0:0",
    "x:y\n",
    "x\r",
    "attacker/Img",
    "a:b:c",
    "x@sha256:abc",
    "x" + DIGEST.upper(),
    "x:" + "t" * 129,
    "FROM x",
    " x",
    "",
    "a//b",
    "a/-b",
    "x:-tag",
    "a/" + "b" * 260,
]


@pytest.mark.parametrize("ref", GOOD_REFS)
def test_image_references_load(tmp_path: Path, ref: str) -> None:
    p = profiles.load(_with(tmp_path, BASE, f"base = {_toml(ref)}"))
    assert p.image.base == ref
    assert f"FROM {ref}\n" in dockerfile.render(p)
    assert profiles.load(_with(tmp_path, IMAGE_NAME, f"name = {_toml(ref)}")).image.name == ref


@pytest.mark.parametrize("ref", BAD_REFS)
@pytest.mark.parametrize(("key", "line"), [("image.base", BASE), ("image.name", IMAGE_NAME)])
def test_image_references_refused(tmp_path: Path, ref: str, key: str, line: str) -> None:
    msg = _one_line_refusal(_with(tmp_path, line, f"{line.split(' =', maxsplit=1)[0]} = {_toml(ref)}"))
    assert f"key '{key}': expected an image reference" in msg
    assert repr(ref) in msg


def test_dockerfile_refuses_a_base_built_in_code() -> None:
    p = profiles.load("default")
    evil = dataclasses.replace(p, image=dataclasses.replace(p.image, base="x\nUSER 0:0"))
    with pytest.raises(ProfileError, match="not an image reference"):
        dockerfile.render(evil)
    with pytest.raises(ProfileError, match="not an image reference"):
        dockerfile.render(p, base="x\nRUN id")


def _with_base(base: str) -> Profile:
    p = profiles.load("default")
    return dataclasses.replace(p, image=dataclasses.replace(p.image, base=base))


@pytest.mark.parametrize(
    "base",
    [
        "gcr.io/distroless/python3-debian12:nonroot",
        # a digest in a comment line of the Dockerfile the value would write pins nothing
        "attacker/img:latest\nUSER 0:0\n# " + DIGEST,
        "attacker/img:latest # " + DIGEST,
        "attacker/img:latest" + DIGEST + "\nFROM evil",
    ],
)
def test_spd050_wants_the_whole_reference_pinned(base: str) -> None:
    assert [h.subject for h in image_rules.base(_with_base(base))] == [base]


def test_spd050_passes_a_pinned_reference() -> None:
    assert not list(image_rules.base(_with_base("gcr.io/distroless/python3-debian12:nonroot" + DIGEST)))
    assert not list(image_rules.base(_with_base("gcr.io/distroless/python3-debian12" + DIGEST)))


# 2. render k8s: no value reaches the YAML stream raw


def _documents(text: str) -> list[Any]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def _free_text_profile(tmp_path: Path) -> Profile:
    """The default with every free-text value it carries holding a YAML document break."""
    edits = [
        ('name = "default"', f"name = {_toml(INJECT)}"),
        ('description = "Hardened', f'description = {_toml(INJECT)}\nold_description = "Hardened'),
        ('"/app/main.py"]', f'"/app/main.py", {_toml(INJECT)}]'),
        ("variables = {}", f"variables = {{ X = {_toml(INJECT)}, Y = {_toml('a' + chr(0x2028) + '---')} }}"),
        ('reason = "the one output directory', f'reason = {_toml(INJECT)}, old = "the one output directory'),
        ('reason = "sandproof image build', f'reason = {_toml(INJECT)}\nold = "sandproof image build'),
        ("[sysctls]\n", f'[sysctls]\n"net.ipv4.ping_group_range" = {_toml("1 2" + INJECT)}\n'),
        # image.workload is an image reference now, refused with a newline in it (test below)
    ]
    text = DEFAULT_TEXT
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    # the keys kept only to hold the replaced text's tail: dropped again
    lines = [line for line in text.splitlines() if not line.startswith(("old_description =", "old = "))]
    text = "\n".join(lines).replace(', old = "the one output directory; the evidence bundle is written here"', "")
    path = tmp_path / "free.toml"
    path.write_text(text)
    p = profiles.load(str(path))
    assert p.name == INJECT
    assert p.description == INJECT
    assert p.environment.variables["X"] == INJECT
    assert p.waivers[0].reason == INJECT
    assert p.filesystem.writable[0].reason == INJECT
    return p


@pytest.mark.parametrize("kind", k8s.KINDS)
def test_k8s_yaml_holds_exactly_its_documents_whatever_the_values(tmp_path: Path, kind: k8s.Kind) -> None:
    m = k8s.render(_free_text_profile(tmp_path), kind=kind, run_date=RUN_DATE)
    text = k8s.dumps_yaml(m)
    assert _documents(text) == json.loads(json.dumps(list(m.documents)))
    assert [d["kind"] for d in _documents(text)] == ["ConfigMap", "ConfigMap", "NetworkPolicy", m.workload["kind"]]


def test_k8s_yaml_comments_escape_every_line_break() -> None:
    """The writer itself, given text the loader would refuse: each note stays one comment line."""
    m = k8s.render(profiles.load("default"), run_date=RUN_DATE)
    breaks = ["\n", "\r", "\r\n", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x00", "\ufeff"]
    evil = dataclasses.replace(
        m,
        localhost_profile="sandproof/s.json\n---\n{}\n---\n# ",
        gaps=tuple(f"gap{b}---{b}kind: Pod{b}hostPID: true" for b in breaks),
        pss=(INJECT, "y\u2028--- {}"),
    )
    text = k8s.dumps_yaml(evil)
    head = text[: text.index("\n---\n")]
    assert all(line.startswith("# ") for line in head.split("\n"))
    assert len(head.split("\n")) == 4 + len(evil.gaps) + 1 + len(evil.pss)
    assert _documents(text) == json.loads(json.dumps(list(m.documents)))
    assert k8s.comment("a\nb\x85c") == "# a\\x0ab\\x85c"


# 7. doctor: SPD060 finds expressions as the runner does; SPD012 reads flags as mount does


def _workflow(tmp_path: Path, run: str) -> list[tuple[str, str, int | None]]:
    flows = tmp_path / ".github" / "workflows"
    flows.mkdir(parents=True)
    (flows / "w.yml").write_text(
        f"on: issues\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - run: {json.dumps(run)}\n"
    )
    return [(f.rule.id, f.subject, f.line) for f in doctor.run(str(tmp_path)).findings if f.rule.id == "SPD060"]


@pytest.mark.parametrize(
    ("run", "flagged"),
    [
        # the runner skips '}}' inside a single-quoted string (TemplateReader.ParseScalar)
        ("echo ${{ format('}}{0}', github.event.issue.title) }}", "${{ format('}}{0}', github.event.issue.title) }}"),
        ("echo ${{ format('it''s }}{0}', github.head_ref) }}", "${{ format('it''s }}{0}', github.head_ref) }}"),
        ("echo ${{ '}}' }} ${{ github.event.issue.body }}", "${{ github.event.issue.body }}"),
        ("echo ${{ github.event.comment.body", "${{ github.event.comment.body"),  # never closed
    ],
)
def test_spd060_reads_expressions_as_the_runner(tmp_path: Path, run: str, flagged: str) -> None:
    assert _workflow(tmp_path, run) == [("SPD060", flagged, 6)]


@pytest.mark.parametrize("run", ["echo ${{ '}}' }} ${{ github.sha }}", "echo ${{ format('}}{0}', github.run_id) }}"])
def test_spd060_passes_trusted_expressions_with_braces_in_strings(tmp_path: Path, run: str) -> None:
    assert _workflow(tmp_path, run) == []


def test_spd060_finds_each_expression_of_a_scalar() -> None:
    from sandproof.doctor import workflow as rules  # noqa: PLC0415

    raw = "a ${{ x }} b ${{ 'y}}' }}${{ z"
    assert [raw[s:e] for s, e in rules.expressions(raw)] == ["${{ x }}", "${{ 'y}}' }}", "${{ z"]


UNDONE = ("rw", "noexec", "nosuid", "nodev", "exec", "suid", "dev", "size=16m")


def _with_tmp(options: tuple[str, ...]) -> Profile:
    p = profiles.load("default")
    tmpfs = tuple(Tmpfs(t.path, options) if t.path == "/tmp" else t for t in p.filesystem.tmpfs)
    return dataclasses.replace(p, filesystem=dataclasses.replace(p.filesystem, tmpfs=tmpfs))


def test_tmpfs_flag_is_its_last_occurrence() -> None:
    t = Tmpfs("/tmp", UNDONE)
    assert not t.has("noexec")
    assert not t.has("nosuid")
    assert not t.has("nodev")
    assert not t.has("ro")
    assert t.has("exec")
    assert t.has("suid")
    assert t.has("dev")
    assert t.has("rw")
    back = Tmpfs("/tmp", ("ro", "exec", "rw", "noexec"))
    assert back.has("noexec")
    assert back.has("rw")
    assert not back.has("ro")
    assert not back.has("exec")
    assert not Tmpfs("/tmp", ("size=1m",)).has("noexec")


def test_spd012_flags_noexec_undone_later() -> None:
    hits = list(mount_rules.tmpfs_flags(_with_tmp(UNDONE)))
    assert [h.subject for h in hits] == ["/tmp"]
    assert "undone by a later 'exec'" in hits[0].message
    assert "undone by a later 'suid'" in hits[0].message
    assert not list(mount_rules.tmpfs_flags(_with_tmp(("rw", "exec", "suid", "noexec", "nosuid", "size=16m"))))


def test_spd012_flags_it_in_a_loaded_profile(tmp_path: Path) -> None:
    old = '{ path = "/tmp", options = ["rw", "noexec", "nosuid", "nodev", "size=16m"] }'
    path = _with(tmp_path, old, '{ path = "/tmp", options = ["rw", "noexec", "nosuid", "nodev", "exec", "suid"] }')
    assert "SPD012" in {f.rule.id for f in doctor.run(path).findings if f.fails}


def test_read_only_undone_later_is_writable_everywhere() -> None:
    """ro then rw is a writable tmpfs: the plan's mounts, the k8s volume and the writable check."""
    p = _with_tmp(("ro", "noexec", "nosuid", "nodev", "size=16m", "rw", "exec"))
    tmp = next(m for m in mountplan.inventory(p, "docker") if m["point"] == "/tmp")
    assert tmp["ro"] is False
    assert "noexec" not in tmp["flags"]
    gvisor = next(m for m in mountplan_gvisor.inventory(p) if m["point"] == "/tmp")
    assert gvisor["ro"] is False
    assert gvisor["flags"] == []
    mounts = k8s._volumes(p, "in")[1]
    assert "readOnly" not in next(m for m in mounts if m["mountPath"] == "/tmp")
    profilecheck.check(p)  # /tmp declared writable: a writable mount is behind it


def test_a_tmpfs_value_option_twice_is_refused(tmp_path: Path) -> None:
    old = '"nodev", "size=16m"] }'
    path = _with(tmp_path, old, '"nodev", "size=16m", "size=1g"] }')
    with pytest.raises(ProfileError, match=r"filesystem.tmpfs\[0\].options'.*each of size= once"):
        profiles.load(path)


@pytest.mark.parametrize(
    "bad", ["--help", "--format={{json .}}", "a b", "x\ny", "x\n---\nkind: Pod\n", "lower/UPPER", ""]
)
def test_an_image_given_on_the_command_line_is_an_image_reference(bad: str) -> None:
    """``attest --image REF`` reaches ``docker image inspect``'s argv: an option is no image."""
    default = profiles.load("default")
    if not bad:  # no --image: the profile's own probe image
        assert profiles.with_workload(default, bad) is default
        return
    with pytest.raises(ProfileError, match="--image: expected an image reference"):
        profiles.with_workload(default, bad)


@pytest.mark.parametrize("good", ["busybox", "example", "registry.example:5000/team/app:1.2@sha256:" + "a" * 64])
def test_an_image_reference_is_taken(good: str) -> None:
    assert profiles.with_workload(profiles.load("default"), good).image.workload == good


@pytest.mark.parametrize(
    "name", ["net.ipv4.ping_group_range=0 2147483647 #", "net.ipv4.ip_forward 1", "net..x", "net.x\n", "net"]
)
def test_a_sysctls_name_is_a_name(tmp_path: Path, name: str) -> None:
    """Docker splits --sysctl at its first '=': a key holding one set another sysctl (review 14)."""
    text = (Path(profiles.__file__).parent / "profiles" / "default.toml").read_text()
    assert "[sysctls]\n" in text
    path = tmp_path / "p.toml"
    path.write_text(text.replace("[sysctls]\n", f'[sysctls]\n{json.dumps(name)} = "1"\n', 1))
    with pytest.raises(ProfileError, match="a sysctl name"):
        profiles.load(str(path))


def test_a_path_holds_no_backslash(tmp_path: Path) -> None:
    """``WORKDIR /app\\`` in the rendered Dockerfile swallowed the COPY line after it (review 14)."""
    text = (Path(profiles.__file__).parent / "profiles" / "default.toml").read_text()
    assert 'workdir = "/app"' in text
    path = tmp_path / "p.toml"
    path.write_text(text.replace('workdir = "/app"', 'workdir = "/app\\\\"', 1))
    with pytest.raises(ProfileError, match="a path without"):
        profiles.load(str(path))
