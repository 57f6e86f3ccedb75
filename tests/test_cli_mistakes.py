"""The mistakes a first-time user makes: each is ONE line (what, where, what was expected, what
to do next), exit 2, nothing written, no traceback."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from sandproof.cli import main, parser, render
from sandproof.render import runnable as render_runnable
from sandproof.weaken import WEAKENINGS
from tests.conftest import ASSETS, RUN_DATE


def _line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("sandproof: error: ")
    return err[0]


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    return _line(capsys)


def test_mistyped_command_names_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_error(["atest"], capsys)
    assert line.startswith("sandproof: error: argument COMMAND: invalid choice: 'atest' (did you mean 'attest'? ")
    assert line.endswith("(see `sandproof --help`)")


def test_mistyped_choice_of_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_error(["verify", "--format", "jnuit", "x.json"], capsys)
    assert "invalid choice: 'jnuit' (did you mean 'junit'? choose from " in line
    assert line.endswith("(see `sandproof verify --help`)")
    line = _usage_error(["profile", "shwo", "default"], capsys)
    assert "(did you mean 'show'? " in line
    assert line.endswith("(see `sandproof profile --help`)")


def test_unknown_option_is_named_by_its_command(capsys: pytest.CaptureFixture[str]) -> None:
    # it was the top level's two-line usage before, which named no command
    line = _usage_error(["selftest", "--bogus"], capsys)
    assert line == "sandproof: error: unrecognized arguments: --bogus (see `sandproof selftest --help`)"
    line = _usage_error(["profile", "show", "default", "--bogus"], capsys)
    assert line == "sandproof: error: unrecognized arguments: --bogus (see `sandproof profile show --help`)"


def test_missing_argument_and_bad_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_error(["verify"], capsys)
    assert line == "sandproof: error: the following arguments are required: BUNDLE|DIR (see `sandproof verify --help`)"
    line = _usage_error(["attest", "--timeout", "0"], capsys)
    assert "expected seconds above 0 and at most 86400, got '0'" in line


def test_selftest_list(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["selftest", "--list"])
    assert done.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(WEAKENINGS)
    assert out[0].split()[:2] == [WEAKENINGS[0].name, WEAKENINGS[0].probe_id]


@pytest.mark.engine("runc")
def test_runc_without_root_is_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: the image was unpacked, runc refused ("rootless container requires user
    # namespaces") and an evidence file of a run that never happened was written
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    out = tmp_path / "out"
    assert main(["attest", "--runtime", "runc", "--out", str(out), "--run-date", RUN_DATE]) == 2
    assert _line(capsys) == (
        "sandproof: error: runtime runc needs root (running as uid 1000): a sandbox in the host's user namespace, "
        "as every profile asks, is refused to an unprivileged caller; run sandproof as root, or use --runtime "
        "docker or --runtime podman (rootless)"
    )
    assert not out.exists()


def test_learn_refuses_before_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = tmp_path / "mine.toml"
    edited.write_text("# the user's own edits\n")
    assert main(["learn", "--image", "busybox", "--out", str(edited)]) == 2
    assert _line(capsys) == (
        f"sandproof: error: --out {edited}: exists; not overwritten (give another --out, or --force to replace it)"
    )
    assert edited.read_text() == "# the user's own edits\n"
    assert main(["learn", "--image", "busybox", "--out", str(tmp_path)]) == 2
    assert _line(capsys).endswith(f"is a directory; expected the profile file to write, e.g. {tmp_path}/learned.toml")
    fresh = tmp_path / "l.toml"
    assert main(["learn", "--image", "busybox", "--in", str(tmp_path / "nope"), "--out", str(fresh)]) == 2
    assert _line(capsys).endswith("not a directory; expected the directory bound read-only as /in")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(["learn", "--image", "busybox", "--out", str(fresh)]) == 2
    assert "runtime runc needs root (running as uid 1000)" in _line(capsys)
    assert not fresh.exists()


@pytest.mark.engine("docker")
def test_docker_host_at_a_dead_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = tmp_path / "dead.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{dead}")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    out = tmp_path / "out"
    assert main(["attest", "--runtime", "docker", "--out", str(out), "--run-date", RUN_DATE]) == 2
    assert _line(capsys) == (
        f"sandproof: error: runtime docker does not answer ({dead}: No such file or directory); start dockerd, "
        "check DOCKER_HOST, or use --runtime runc or --runtime podman"
    )
    assert not out.exists()


def test_a_directory_where_a_file_is_expected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # before: "no such file and not a shipped profile", though the directory is there
    assert main(["render", "docker", "--profile", str(tmp_path)]) == 2
    assert _line(capsys) == (
        f"sandproof: error: profile {str(tmp_path)!r}: is a directory; expected a profile TOML file or a shipped "
        "profile: default, b4-prime-seed, learned-example"
    )


def test_a_file_where_a_directory_is_expected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main(["init", str(taken)]) == 2  # before: "taken: File exists"
    assert _line(capsys) == (
        f"sandproof: error: {taken}: not a directory; expected a directory for the layout (new, or one "
        "`sandproof init` wrote)"
    )
    missing = tmp_path / "nope"
    assert main(["init", "--check", str(missing)]) == 2  # before: "profile 'nope/sandproof-profile.toml': ..."
    assert _line(capsys) == (
        f"sandproof: error: {missing}: no sandproof-profile.toml; expected a directory `sandproof init` wrote "
        f"(run `sandproof init {missing}` first)"
    )
    assert not missing.exists()
    assert main(["render", "docker", "--in", str(tmp_path / "in"), "--out", str(taken)]) == 2
    assert _line(capsys) == (
        f"sandproof: error: --out {taken}: not a directory; expected a directory (new, or one render wrote)"
    )
    assert not (tmp_path / "in").exists()


def test_render_refuses_what_it_would_ignore(capsys: pytest.CaptureFixture[str]) -> None:
    # before: each printed the artifact as if the option were not there
    assert main(["render", "seccomp", "--format", "yaml"]) == 2
    assert _line(capsys) == (
        "sandproof: error: --format yaml: render seccomp cannot print that; it has one format and takes no --format"
    )
    assert main(["render", "docker", "--format", "yaml"]) == 2
    assert _line(capsys).endswith("render docker cannot print that; it prints shell or json")
    assert main(["render", "k8s", "--format", "shell"]) == 2
    assert _line(capsys).endswith("render k8s cannot print that; it prints yaml or json")


PINNED = "registry.example/sandproof@sha256:" + "0" * 64


@pytest.mark.parametrize(
    "date",
    ["2026-11-28\n", "2026-11-28\x00", "${{ github.event.issue.title }}", "D", "2026-11-28; id", "20261128"],
)
def test_render_checks_the_run_date_before_anything(
    date: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # before: taken as given into the harness's argv, the shell line and the k8s manifests
    def unreachable(*_a: object, **_k: object) -> object:
        raise AssertionError("written before the run date was checked")

    monkeypatch.setattr(render_runnable, "prepare", unreachable)
    for artifact in ("docker", "podman", "oci", "k8s"):
        assert main(["render", artifact, f"--run-date={date}"]) == 2
        assert _line(capsys) == f"sandproof: error: --run-date {date!r}: expected a date as YYYY-MM-DD"
    ind, out = tmp_path / "in", tmp_path / "out"
    assert main(["render", "docker", "--in", str(ind), "--out", str(out), "--run-date", date]) == 2
    assert _line(capsys) == f"sandproof: error: --run-date {date!r}: expected a date as YYYY-MM-DD"
    assert not ind.exists()
    assert not out.exists()


@pytest.mark.parametrize(
    "ref",
    [
        PINNED + "\n",
        PINNED + "\x00",
        "registry.example/sandproof:${{ github.event.issue.title }}",
        "registry.example/sandproof:default",  # a tag: each node may pull other bytes
        "registry.example/sandproof",
        "--help",
        "Registry.example/UPPER@sha256:" + "0" * 64,
        PINNED.replace("0" * 64, "0" * 63),
    ],
)
def test_render_k8s_takes_only_a_pinned_image_reference(ref: str, capsys: pytest.CaptureFixture[str]) -> None:
    # before: any text became the pod's image (JSON-escaped, but pulled as given)
    assert main(["render", "k8s", f"--image-ref={ref}", "--run-date", RUN_DATE]) == 2
    assert _line(capsys) == (
        f"sandproof: error: --image-ref {ref!r}: expected an image reference pinned by digest, "
        "[HOST[:PORT]/]PATH[:TAG]@sha256:<64 hex> (every node pulls it; a tag alone can name other bytes)"
    )
    assert capsys.readouterr().out == ""


def test_render_takes_a_pinned_image_reference_for_k8s_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "k8s", "--image-ref", PINNED, "--run-date", RUN_DATE]) == 0
    assert f'"image": "{PINNED}"' in capsys.readouterr().out
    tagged = "registry.example:5000/team/sandproof:v1@sha256:" + "a" * 64
    assert main(["render", "k8s", "--image-ref", tagged, "--run-date", RUN_DATE]) == 0
    assert f'"image": "{tagged}"' in capsys.readouterr().out
    assert main(["render", "docker", "--image-ref", PINNED]) == 2  # before: silently ignored
    assert _line(capsys) == (
        "sandproof: error: --image-ref: render docker does not take it; only render k8s names an image to pull"
    )


def test_output_into_a_closed_pipe_is_quiet(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: "sandproof: error:: Broken pipe" under `sandproof render docker | head -c 10`
    def closed(_args: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(render, "run", closed)
    assert main(["render", "docker"]) == 2
    assert capsys.readouterr().err == ""


def _parsers(ap: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [ap]
    for action in ap._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += _parsers(sub)
    return found


def test_every_help_states_its_defaults() -> None:
    missing = [
        f"{p.prog} {'/'.join(a.option_strings) or a.dest}"
        for p in _parsers(parser())
        for a in p._actions
        if a.default not in (None, False, argparse.SUPPRESS) and "default" not in (a.help or "")
    ]
    assert not missing, missing


def test_the_wrong_half_of_a_key_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # before: the library's "Valid PEM but no BEGIN/END delimiters for a private key found"
    prefix = tmp_path / "k"
    assert main(["keygen", str(prefix)]) == 0
    capsys.readouterr()
    private, public = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    evidence = tmp_path / "ev.json"
    evidence.write_bytes((ASSETS / "bundles" / "docker-default-pass.json").read_bytes())
    assert main(["sign", str(evidence), "--key", str(public)]) == 2
    assert _line(capsys) == (
        f"sandproof: error: --key {public}: a public key; signing needs the private key (keygen's PREFIX.pem, "
        "not PREFIX.pub.pem)"
    )
    assert not (tmp_path / "ev.dsse.json").exists()
    assert main(["verify", str(evidence), "--key", str(private)]) == 2
    line = _line(capsys)
    assert line == (
        f"sandproof: error: --key {private}: a private key; verify needs the public key (keygen's PREFIX.pub.pem), "
        "and the private key stays with whoever signs"
    )
    assert "PRIVATE KEY" not in line  # nothing of the key itself
    assert main(["sign", str(evidence), "--key", str(tmp_path / "nope.pem")]) == 2
    assert _line(capsys).endswith("not a readable unencrypted PEM private key (cannot read: No such file or directory)")


@pytest.mark.engine("docker")
def test_an_image_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The next step is named (before: only the daemon's own words, twice)."""
    assert main(["run", "--image", "sandproof-test/no-such-image:1", "--out", str(tmp_path / "r")]) == 2
    line = _line(capsys)
    assert line.startswith("sandproof: error: image 'sandproof-test/no-such-image:1': not in the local Docker engine (")
    assert line.endswith(
        "`docker pull sandproof-test/no-such-image:1` or `docker load` it first, or use busybox or example"
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("date", ["2026-W48-1", "2026-332", "\u0662\u0660\u0662\u0666-11-28"])
def test_a_run_date_is_a_calendar_date_in_ascii(date: str, capsys: pytest.CaptureFixture[str]) -> None:
    # before: fromisoformat read 2026-W48-1 as a week date and attest and render took it; the
    # verifier (provenance's run-date check) refused the very evidence named by it
    for argv in (["render", "docker"], ["attest", "--runtime", "runc"]):
        assert main([*argv, "--run-date", date]) == 2
        assert _line(capsys) == f"sandproof: error: --run-date {date!r}: expected a date as YYYY-MM-DD"


@pytest.mark.parametrize("ref", [PINNED + "\n", "x:${{ github.event.issue.title }}", "--privileged", "a b"])
def test_attest_takes_only_an_image_reference_for_kubernetes(ref: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attest", "--runtime", "kubernetes", f"--image-ref={ref}", "--run-date", RUN_DATE]) == 2
    assert _line(capsys) == (
        f"sandproof: error: --image-ref {ref!r}: expected an image reference, "
        "[HOST[:PORT]/]PATH[:TAG][@sha256:<64 hex>]"
    )
