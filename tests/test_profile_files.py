"""Profiles a user can own (issue 13): list, show --format toml, new, import docker, diff."""

from __future__ import annotations

import dataclasses
import os
import shlex
import socket
from pathlib import Path

import pytest

from sandproof import contract, profile, profiletoml, seccomp
from sandproof.cli import main
from sandproof.render import docker

DRAFT = Path(__file__).parent.parent / "docs" / "b4-prime-draft.txt"


def _in_line(source: str) -> str:
    return (
        f"sandproof: -v {source}:/in:ro: the profile's input; its source {source} is not recorded (attest binds the "
        "packet's own directory there)"
    )


def _same_model(loaded: profile.Profile, want: profile.Profile) -> None:
    assert dataclasses.replace(loaded, source=want.source, text=want.text) == want
    assert loaded.digest == want.digest


@pytest.mark.parametrize("name", contract.SHIPPED_PROFILES)
def test_toml_loads_back_to_the_same_model(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "show", name, "--format", "toml"]) == 0
    text = capsys.readouterr().out
    _same_model(profile.parse(text, "shown"), profile.load(name))
    assert text.startswith("# profile ")
    assert "# one of: none, host" in text  # annotated from the model


def test_list_names_every_shipped_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == list(contract.SHIPPED_PROFILES)


def test_new_writes_an_annotated_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["profile", "new", "mine", "--from", "b4-prime-seed"]) == 0
    loaded = profile.load("mine.toml")
    _same_model(loaded, dataclasses.replace(profile.load("b4-prime-seed"), name="mine"))
    assert main(["profile", "new", "mine"]) == 2  # never overwritten
    assert "exists" in capsys.readouterr().err
    assert main(["profile", "diff", "mine.toml", "b4-prime-seed"]) == 1
    assert capsys.readouterr().out.splitlines() == ['  name: "mine" -> "b4-prime-seed"']


def test_diff_is_key_by_key_under_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "diff", "default", "default"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["profile", "diff", "default", "b4-prime-seed"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[out.index("[resources]") + 1] == "  cpu_shares: 512 -> 0"
    assert "[resources.ulimits]" in out
    assert "  core: 0 -> (not set)" in out
    assert '  mode: "none" -> "engine-default"' in out  # under [ipc]
    assert any(ln.startswith("  rules[0].names: adds execve, execveat") for ln in out)


def _draft_command() -> list[str]:
    """The draft's §5 run command as written (its shell variables given values)."""
    text = DRAFT.read_text()
    block = text[text.index("docker run --rm \\") :]
    block = block[: block.index("\n", block.index('--run-date "${{'))]
    block = block.replace('"$RUNNER_TEMP', '"/runner/temp').replace("${{ github.event.inputs.run_date }}", "D")
    return shlex.split(block.replace("\\\n", " "))


@pytest.mark.parametrize("name", ["default", "b4-prime-seed"])
def test_import_of_a_rendered_command_gives_back_its_profile(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    prof = profile.load(name)
    (tmp_path / prof.seccomp.file_name).write_bytes(seccomp.render(prof))
    argv = docker.argv(prof, in_dir="/h/in", out_dir="/h/out", seccomp_file=prof.seccomp.file_name, run_date="D")
    for cli in (["profile", "import", "docker", "--from", name], ["profile", "import", "docker", "--from", name, "--"]):
        assert main([*cli, *argv]) == 0
        cap = capsys.readouterr()
        # the rendered command says nothing a profile cannot, but /in's source (a run-time input;
        # review 16: a command binding the host's /etc there imported without a word)
        assert cap.err.splitlines() == [_in_line("/h/in")]
        (tmp_path / "imported.toml").write_text(cap.out)
        assert main(["profile", "diff", "imported.toml", name]) == 0
        assert capsys.readouterr().out == ""
        _same_model(profile.load("imported.toml"), prof)


def test_the_drafts_section_5_command_imports_as_b4_prime_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command a user already has (the draft's, word for word) and its seccomp file."""
    monkeypatch.chdir(tmp_path)
    seed = profile.load("b4-prime-seed")
    (tmp_path / seed.seccomp.file_name).write_bytes(seccomp.render(seed))
    argv = _draft_command()
    assert argv[:3] == ["docker", "run", "--rm"]
    assert main(["profile", "import", "docker", "--from", "b4-prime-seed", "--", *argv]) == 0
    cap = capsys.readouterr()
    # the draft has no --log-driver none (sandproof adds it); nothing else is left out but /in's source
    assert cap.err.splitlines() == [_in_line("/runner/temp/in")]
    _same_model(profile.parse(cap.out, "imported"), seed)
    # from the default profile, only what no docker run flag states differs
    assert main(["profile", "import", "docker", "--", *argv]) == 0
    (tmp_path / "from-default.toml").write_text(capsys.readouterr().out)
    assert main(["profile", "diff", "from-default.toml", "b4-prime-seed"]) == 1
    tables = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[")]
    assert tables == ["[image]", "[filesystem]", "[resources.ulimits]"]


def test_import_says_what_it_cannot_express(capsys: pytest.CaptureFixture[str]) -> None:
    # (--device /dev/kvm was here as a dropped flag: now refused, tests/test_profile_import.py, review 16 F4;
    # no --user or seccomp= was a line here, the base's values kept: now refused, test_profile_import.py)
    argv = [
        "docker",
        "run",
        "--rm",
        "-p",
        "8080:80",
        "--network=none",
        "-u",
        "0:0",
        "--security-opt",
        "seccomp=unconfined",
    ]
    assert main(["profile", "import", "docker", "--", *argv, "nginx"]) == 0
    cap = capsys.readouterr()
    err = cap.err.splitlines()
    assert "sandproof: -p 8080:80: no profile key expresses it" in err
    imported = profile.parse(cap.out, "imported")
    assert imported.image.name == "nginx"
    assert imported.filesystem.read_only_rootfs is False  # no --read-only: Docker's default
    assert imported.resources.pids == 0
    assert main(["profile", "import", "docker", "--", "docker", "run", "--rm"]) == 2
    assert "nothing usable" in capsys.readouterr().err


def test_toml_values_escape(tmp_path: Path) -> None:
    prof = dataclasses.replace(profile.load("default"), description='quote " tab \t del \x7f é 🙂')
    text = profiletoml.dumps(prof)
    assert profile.parse(text, str(tmp_path)).description == prof.description
    assert os.linesep not in profiletoml.value("a\nb")


@pytest.mark.parametrize(
    ("flags", "field", "want"),
    [
        # review: each imported as the safe-looking base's value, with no line saying otherwise
        (["--read-only", "--read-only=false"], "read_only_rootfs", False),
        (["--security-opt", "no-new-privileges", "--security-opt", "no-new-privileges=false"], "nnp", False),
        (["--security-opt", "seccomp:unconfined"], "seccomp", False),  # docker/cli's older KEY:VALUE
        (
            ["--link", "other", "--privileged"],
            "privileged",
            True,
        ),  # a valued flag ate the rest (--volumes-from: refused)
        (["--privileged=false"], "privileged", False),
    ],
)
def test_import_reads_a_flags_value_as_docker_does(
    flags: list[str], field: str, want: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # every command states --user and a seccomp file (left out, each is refused): the last seccomp= wins
    (tmp_path / "sc.json").write_bytes(seccomp.render(profile.load("default")))
    given = ["--network=none", "--user", "0:0", "--security-opt", f"seccomp={tmp_path}/sc.json"]
    assert main(["profile", "import", "docker", "--", "docker", "run", *given, *flags, "img"]) == 0
    imported = profile.parse(capsys.readouterr().out, "imported")
    assert imported.image.name == "img"
    got = {
        "read_only_rootfs": imported.filesystem.read_only_rootfs,
        "nnp": imported.security.no_new_privileges,
        "seccomp": imported.seccomp.enabled,
        "privileged": imported.security.privileged,
    }
    assert got[field] is want


def _slot_cases(tmp: Path) -> list[list[str]]:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp / "d.sock"))  # a socket as the Docker socket is one
    sock.close()
    (tmp / "file").write_text("x")
    (tmp / "link").symlink_to(tmp / "d.sock")  # Docker follows it to the socket
    return [
        ["-v", "/:/in:rw"],  # review 13 #5: the host's root writable as /in
        ["-v", f"{tmp}/d.sock:/out"],  # review 13 #5: the Docker socket as /out
        ["-v", f"{tmp}/link:/out:rw"],
        ["-v", f"{tmp}/indir:/in"],  # rw: sandproof's /in is read-only
        ["-v", f"{tmp}/file:/in:ro"],
        ["-v", "/:/out//"],  # the daemon cleans the target: this is /out
        ["--mount", f"type=bind,source={tmp}/d.sock,dst=/out"],
    ]


@pytest.mark.parametrize("case", range(7))
def test_import_refuses_a_bind_onto_in_or_out_unlike_sandproofs(
    case: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 13 #5: dropped silently, the profile said /in read-only and /out sandproof's own
    while the command bound the host's root or the Docker socket there."""
    flags = _slot_cases(tmp_path)[case]
    argv = ["docker", "run", "--network", "none", "--cap-drop", "ALL", *flags, "img"]
    assert main(["profile", "import", "docker", "--", *argv]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    (line,) = cap.err.splitlines()
    assert line.startswith(f"sandproof: error: {flags[0]} {flags[1]}: sandproof gives /")
    assert line.endswith("elsewhere")


def test_import_takes_sandproofs_own_in_and_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in").mkdir()
    flags = ["-v", f"{tmp_path}/in:/in:ro", "-v", f"{tmp_path}/out:/out", "-v", "/srv/data:/data:ro"]
    given = ["--network", "none", "--user", "65532:65532", "--security-opt", "seccomp=unconfined"]
    assert main(["profile", "import", "docker", "--", "docker", "run", *given, *flags, "img"]) == 0
    imported = profile.parse(capsys.readouterr().out, "imported")
    assert [(b.source, b.target, b.mode) for b in imported.filesystem.binds] == [("/srv/data", "/data", "ro")]
    assert (imported.filesystem.input, imported.filesystem.output) == ("/in", "/out")


@pytest.mark.parametrize("flags", [["--cap-drop", "all"], ["--cap-drop=All"], ["--cap-drop", "ALL"]])
def test_import_reads_cap_drop_all_in_any_case(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Review 13 #5: the daemon upper-cases capability names (moby oci/caps NormalizeLegacyCapabilities)."""
    given = ["--network", "none", "--user", "65532:65532", "--security-opt", "seccomp=unconfined"]
    assert main(["profile", "import", "docker", "--", "docker", "run", *given, *flags, "img"]) == 0
    cap = capsys.readouterr()
    assert "cap-drop" not in cap.err
    assert profile.parse(cap.out, "imported").security.cap_drop_all is True
