"""sandproof doctor: every rule flags a profile (or layout) made bad for it and passes a clean one;
the seed's profile and workflow give exactly their known findings; waivers are shown, never
silent, and only doctor rules can be waived; the SARIF is valid SARIF 2.1.0 (its JSON Schema)."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from sandproof import doctor, matrix, profile, verify
from sandproof.cli import main
from sandproof.doctor import locate
from sandproof.doctor import workflow as workflow_rules
from sandproof.errors import ProfileError
from sandproof.render import workflow
from sandproof.report import sarif as sarif_report
from tests.conftest import asset_json

ROOT = Path(__file__).resolve().parent.parent
SARIF_SCHEMA = ROOT / ".tools" / "node_modules" / "@microsoft" / "jest-sarif" / "lib" / "schemas"
SARIF_SCHEMA = SARIF_SCHEMA / "sarif-2.1.0-rtm.5.json"
SEED_WORKFLOW = Path(__file__).parent / "assets" / "workflows" / "b4-prime-seed.yml"
BUNDLES = Path(__file__).parent / "assets" / "bundles"
DEFAULT_TEXT = (Path(profile.__file__).parent / "profiles" / "default.toml").read_text()
WAIVERS = DEFAULT_TEXT[DEFAULT_TEXT.index("\n# Doctor findings accepted") :]
BARE = DEFAULT_TEXT.replace(WAIVERS, "\n")
"""The default profile without its waivers: what each rule sees before any is accepted."""


@functools.cache
def sarif_validator() -> Callable[[Any], Any]:
    assert SARIF_SCHEMA.is_file(), "the SARIF schema: run scripts/test.sh (scripts/lib.sh install_actionlint)"
    return fastjsonschema.compile(json.loads(SARIF_SCHEMA.read_text()))


def _edit(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _lint(tmp_path: Path, text: str) -> doctor.Result:
    path = tmp_path / "profile.toml"
    path.write_text(text)
    return doctor.run(str(path))


def _ids(result: doctor.Result, *, failing: bool = False) -> set[str]:
    return {f.rule.id for f in result.findings if f.fails or not failing}


def _layout(tmp_path: Path, *, workflows: tuple[Path, ...] = (), name: str = "default") -> Path:
    repo = tmp_path / "repo"
    assert main(["init", str(repo), "--profile", name]) == 0
    for w in workflows:
        shutil.copy(w, repo / ".github" / "workflows" / w.name)
    return repo


# rule -> the default profile (without waivers) edited to break exactly that rule
RW_BIND = '{ source = "/var/run/docker.sock", target = "/run/docker.sock", mode = "rw" }'
RO_BIND = '{ source = "/srv/data", target = "/data", mode = "ro" }'
BAD: dict[str, tuple[tuple[str, str], ...]] = {
    "SPD001": (('"ptrace", "process_vm_readv"', '"execve", "ptrace", "process_vm_readv"'),),
    "SPD002": (('{ errno = "ENOSYS", names = ["clone3"] }', '{ errno = "EPERM", names = ["clone3"] }'),),
    "SPD004": (('"io_uring_setup", "io_uring_enter", "io_uring_register",', ""),),
    "SPD006": (("[seccomp]\nfile_name", "[seccomp]\nenabled = false\nfile_name"),),
    "SPD010": (('it 1777).\nmode = "none"', 'it 1777).\nmode = "private"'),),
    "SPD011": (('  { path = "/dev/mqueue", options = ["ro", "noexec", "nosuid", "nodev", "size=4k"] },\n', ""),),
    "SPD012": (('"/tmp", options = ["rw", "noexec", "nosuid", "nodev"', '"/tmp", options = ["rw", "nodev"'),),
    "SPD013": (("read_only_rootfs = true", "read_only_rootfs = false"),),
    "SPD014": (("output_files = 1024\n", f"output_files = 1024\nbinds = [{RW_BIND}]\n"),),
    "SPD015": (("output_files = 1024\n", f"output_files = 1024\nbinds = [{RO_BIND}]\n"),),
    "SPD020": (("capabilities = []", 'capabilities = ["NET_ADMIN"]'),),
    "SPD021": (("no_new_privileges = true", "no_new_privileges = true\nprivileged = true"),),
    "SPD022": (("no_new_privileges = true", "no_new_privileges = false"),),
    "SPD023": (("uid = 65532", "uid = 0"),),
    "SPD030": (("pids = 64", "pids = 0"),),
    "SPD031": (('memory = "256m"\n', 'memory = "0"\n'), ('memory_swap = "256m"', 'memory_swap = "0"')),
    "SPD040": (('[network]\nmode = "none"', '[network]\nmode = "host"'),),
}  # fmt: skip
PINNED = "gcr.io/distroless/python3-debian12:nonroot@sha256:" + "0" * 64
CLEAN = _edit(BARE, ('base = "gcr.io/distroless/python3-debian12:nonroot"', f'base = "{PINNED}"'))
"""The default with its base pinned (SPD050's fix) and no waiver."""


def _failing(result: doctor.Result) -> set[tuple[str, str]]:
    return {(f.rule.id, f.subject) for f in result.findings if f.fails}


@pytest.mark.parametrize("rule", sorted(BAD))
def test_each_profile_rule_flags_a_bad_profile_and_passes_the_clean_one(tmp_path: Path, rule: str) -> None:
    clean = _failing(_lint(tmp_path, CLEAN))
    assert rule not in _ids(doctor.run("default"), failing=True)
    assert not [r for r, _ in clean if r == rule]
    bad = _lint(tmp_path, _edit(CLEAN, *BAD[rule]))
    assert rule in {r for r, _ in _failing(bad) - clean}, [f.message for f in bad.findings]
    assert not bad.ok


def test_clean_default_has_only_the_deny_list_note(tmp_path: Path) -> None:
    result = _lint(tmp_path, CLEAN)
    assert _ids(result) == {"SPD005"}
    assert _failing(result) == set()
    assert {f.rule.id for f in doctor.run("learned-example").findings if f.fails} == {"SPD050"}


def test_shipped_default_passes_with_its_waivers_shown() -> None:
    result = doctor.run("default")
    assert result.ok
    waived = {f.rule.id: f.subject for f in result.findings if f.waived}
    assert waived == {"SPD050": "gcr.io/distroless/python3-debian12:nonroot"}
    assert result.unused_waivers == ()


def test_unpinned_base_without_its_waiver(tmp_path: Path) -> None:
    assert _ids(_lint(tmp_path, BARE), failing=True) == {"SPD050"}


def test_mount_setattr_left_out_of_the_deny_list_opens_the_new_mount_api(tmp_path: Path) -> None:
    text = _edit(CLEAN, ('"open_tree", "mount_setattr",', '"open_tree",'))
    (hit,) = [f for f in _lint(tmp_path, text).findings if f.fails]
    assert (hit.rule.id, hit.subject) == ("SPD004", "the new mount API")
    assert "mount_setattr passes" in hit.message


def test_deny_list_note_and_its_clean_allowlist() -> None:
    assert "SPD005" in _ids(doctor.run("default"))
    assert _ids(doctor.run("learned-example")) == {"SPD050"}  # an allowlist: no route, no note


def test_routes_are_checked_in_an_allowlist_too(tmp_path: Path) -> None:
    learned = (Path(profile.__file__).parent / "profiles" / "learned-example.toml").read_text()
    text = _edit(learned, ("x86_64 = [", 'x86_64 = ["mount_setattr", '))
    (hit,) = [f for f in _lint(tmp_path, text).findings if f.rule.id == "SPD004"]
    assert "mount_setattr passes" in hit.message
    assert hit.line == locate.toml_line(text, "seccomp.allow.x86_64", "mount_setattr")


def test_clone_namespaces_and_clone3_routes(tmp_path: Path) -> None:
    result = _lint(tmp_path, _edit(CLEAN, ("deny_clone_namespaces = true", "deny_clone_namespaces = false")))
    assert _failing(result) == {("SPD004", "clone namespaces")}
    result = _lint(tmp_path, _edit(CLEAN, ('  { errno = "ENOSYS", names = ["clone3"] },\n', "")))
    assert _failing(result) == {("SPD004", "clone3")}


def test_architectures_of_a_layout_seccomp_file(tmp_path: Path) -> None:
    repo = _layout(tmp_path)
    assert "SPD003" not in _ids(doctor.run(str(repo)))
    path = repo / "seccomp-sandproof-default.json"
    data = json.loads(path.read_text())
    data["architectures"] += ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    path.write_text(json.dumps(data, indent=2))
    hits = [f for f in doctor.run(str(repo)).findings if f.rule.id == "SPD003"]
    assert {f.subject for f in hits} == {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}
    assert {(f.uri, f.line) for f in hits} == {("seccomp-sandproof-default.json", 3)}
    del data["architectures"]
    path.write_text(json.dumps(data, indent=2))
    assert [f.subject for f in doctor.run(str(repo)).findings if f.rule.id == "SPD003"] == ["architectures"]


def test_seed_profile_gives_its_known_findings() -> None:
    """The draft's defects (seed §4, §5; DESIGN.md "The seed's profile, run as written")."""
    result = doctor.run("b4-prime-seed")
    got = sorted((f.rule.id, f.subject, f.line) for f in result.findings)
    assert got == [
        ("SPD001", "execve", 58),  # execve denied at the runtime layer: the container never starts
        ("SPD002", "clone3", 59),  # clone3 EPERM: threads cannot start
        ("SPD004", "clone namespaces", 53),
        ("SPD004", "file handles", 54),
        ("SPD004", "io_uring", 54),
        ("SPD004", "kernel modules and kexec", 54),  # kexec_file_load
        ("SPD004", "other processes", 54),  # pidfd_getfd, kcmp
        ("SPD004", "pidfds", 54),  # pidfd_open, pidfd_send_signal
        ("SPD004", "process memory", 54),  # process_madvise, process_mrelease, move_pages, migrate_pages
        ("SPD004", "the kernel keyring", 54),
        ("SPD004", "the new mount API", 54),
        ("SPD004", "userfaultfd", 54),
        ("SPD005", "deny list", 51),
        ("SPD010", "/dev/shm", 43),  # writable /dev/shm
        ("SPD011", "/dev/mqueue", 26),  # writable /dev/mqueue
        ("SPD050", "gcr.io/distroless/python3-debian12:nonroot", 9),  # seed §8: "pin to digests"
    ]
    assert not result.ok


def test_seed_workflow_gives_its_known_findings(tmp_path: Path) -> None:
    """zizmor's findings on the draft (DESIGN.md) less checkout's persisted credentials."""
    repo = _layout(tmp_path, workflows=(SEED_WORKFLOW,))
    uri = ".github/workflows/b4-prime-seed.yml"
    got = sorted((f.rule.id, f.subject, f.line) for f in doctor.run(str(repo)).findings if f.uri == uri)
    assert got == [
        ("SPD060", "${{ github.event.inputs.run_date }}", 64),
        ("SPD060", "${{ github.event.inputs.run_date }} #2", 70),
        ("SPD061", "actions/checkout@v4", 19),
        ("SPD061", "actions/upload-artifact@v4", 85),
    ]


def test_generated_layout_is_clean(tmp_path: Path) -> None:
    repo = _layout(tmp_path)
    result = doctor.run(str(repo))
    assert str(repo / workflow.WORKFLOW_PATH) in result.files
    assert result.ok
    assert not [f for f in result.findings if f.rule.id in ("SPD060", "SPD061")]


@pytest.mark.parametrize(
    ("expression", "untrusted"),
    [
        ("inputs.run_date", ["inputs.run_date"]),
        ("github.event.pull_request.title", ["github.event.pull_request.title"]),
        ("github.head_ref", ["github.head_ref"]),
        ("env.X", ["env.X"]),
        ("steps.meta.outputs.digest", ["steps.meta.outputs.digest"]),
        ("github.run_id", []),
        ("runner.temp", []),
        ("secrets.TOKEN", []),
        ("!cancelled()", []),
        ("format('{0} {1}', github.sha, github.event.issue.title)", ["github.event.issue.title"]),
        ("contains(github.event.head_commit.message, 'x') && true", ["github.event.head_commit.message"]),
    ],
)
def test_template_injection_is_an_allow_list(expression: str, untrusted: list[str]) -> None:
    assert workflow_rules.untrusted(expression) == untrusted


def test_waivers_need_a_known_doctor_rule_and_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    for waiver, message in [
        ('rule = "SPD05"\nreason = "x"', "did you mean 'SPD050'"),
        ('rule = "PR-EXEC-1"\nreason = "x"', "a verify probe or check cannot be waived"),
        ('rule = "SPD050"\nreason = "  "', "a non-empty reason"),
        ('rule = "SPD050"', "key 'waiver[0].reason'"),
    ]:
        path.write_text(f"{BARE}\n[[waiver]]\n{waiver}\n")
        with pytest.raises(ProfileError, match=re.escape(message)):
            profile.load(str(path))


def test_a_waiver_changes_nothing_the_evidence_names(tmp_path: Path) -> None:
    path = tmp_path / "bare.toml"
    path.write_text(BARE)
    assert profile.load(str(path)).digest == profile.load("default").digest


def test_unused_waiver_is_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.toml"
    path.write_text(CLEAN + '\n[[waiver]]\nrule = "SPD030"\nreason = "stale"\n')
    assert main(["doctor", str(path)]) == 0  # shown, not failed: the clean default has no failing finding
    assert "waiver SPD030 matches no finding (stale)" in capsys.readouterr().out


def test_waived_findings_show_in_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "default"]) == 0
    text = capsys.readouterr().out
    assert "SPD050 waived (sandproof image build assembles" in text
    assert text.splitlines()[-1].startswith("PASS: default: 0 failing, 1 waived, 1 notes")
    assert main(["doctor", "default", "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert {f["rule"]: f["waived"] for f in body["findings"]} == {"SPD005": False, "SPD050": True}
    assert all(f["waiver_reason"] for f in body["findings"] if f["waived"])
    assert main(["doctor", "default", "--format", "sarif"]) == 0
    sarif = json.loads(capsys.readouterr().out)
    sarif_validator()(sarif)
    results = sarif["runs"][0]["results"]
    suppressed = {r["ruleId"]: r["suppressions"][0]["justification"] for r in results if "suppressions" in r}
    assert set(suppressed) == {"SPD050"}
    assert all(suppressed.values())


def test_doctor_sarif_is_valid_and_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _layout(tmp_path, workflows=(SEED_WORKFLOW,), name="b4-prime-seed")
    capsys.readouterr()
    assert main(["doctor", str(repo), "--format", "sarif"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    sarif_validator()(sarif)
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(doctor.RULE_IDS)
    assert all(r["help"]["text"] and r["help"]["markdown"] for r in rules)
    results = run["results"]
    assert {r["ruleId"] for r in results} >= {"SPD001", "SPD002", "SPD010", "SPD011", "SPD060", "SPD061"}
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        (loc,) = r["locations"]
        assert loc["physicalLocation"]["artifactLocation"]["uri"] in (
            "sandproof-profile.toml",
            ".github/workflows/b4-prime-seed.yml",
        )
        assert loc["physicalLocation"]["region"]["startLine"] >= 1
    prints = [r["partialFingerprints"]["sandproof/v1"] for r in results]
    assert len(set(prints)) == len(prints)
    # the same finding keeps its fingerprint when the file's lines move
    moved = repo / "sandproof-profile.toml"
    moved.write_text("# a comment that moves every line\n" + moved.read_text())
    assert main(["doctor", str(repo), "--format", "sarif"]) == 1
    again = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    assert sorted(r["partialFingerprints"]["sandproof/v1"] for r in again) == sorted(prints)


VERIFIED = ["runc-weak-exec-allowed.json", "docker-seed-nostart.json", "runc-default-pass.json"]


@pytest.mark.parametrize("bundle", VERIFIED)
def test_verify_sarif_is_valid(capsys: pytest.CaptureFixture[str], bundle: str) -> None:
    name = "b4-prime-seed" if "seed" in bundle else "default"
    code = main(["verify", "--profile", name, "--format", "sarif", str(BUNDLES / bundle)])
    sarif = json.loads(capsys.readouterr().out)
    sarif_validator()(sarif)
    results = sarif["runs"][0]["results"]
    assert (code == 0) == (results == [])
    for r in results:
        uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri.endswith(f"profiles/{name}.toml")
        assert r["message"]["text"].split(":")[0] in ("FAIL", "ERROR", "UNVERIFIED")
    if bundle == "runc-weak-exec-allowed.json":
        assert "PR-EXEC-1" in {r["ruleId"] for r in results}


@pytest.mark.parametrize("bundle", [*VERIFIED, "runsc-default.json"])
def test_every_sarif_result_is_an_error_and_there_is_one_exactly_when_the_verdict_is_not_pass(
    bundle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Code scanning fails a check on errors only: an UNVERIFIED probe (the verdict is FAIL)
    as a warning read as a passing check (review 11)."""
    name = "b4-prime-seed" if "seed" in bundle else "default"
    code = main(["verify", "--profile", name, "--format", "sarif", str(BUNDLES / bundle)])
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    assert {r["level"] for r in results} <= {"error"}
    assert (code == 0) == (results == [])
    if bundle == "runsc-default.json":  # gVisor hides some facts: UNVERIFIED, reported as errors
        assert any(r["message"]["text"].startswith("UNVERIFIED") for r in results)


def test_a_matrix_row_that_fails_alone_is_a_sarif_result() -> None:
    """A row can FAIL with every probe and check PASS (a probe it names the plan has not): the
    verdict is FAIL, so SARIF must say so."""
    report = verify.verify(asset_json("runc-default-pass.json"), profile.load("default"), source="x.json")
    assert report.verdict == "PASS"
    row = matrix.Row("SP-NEW", "a row bound to a probe this plan lacks", ("PR-NOT-PLANNED",))
    failed = dataclasses.replace(
        report, rows=(*report.rows, matrix.RowResult(row, "FAIL", "no evidence for PR-NOT-PLANNED"))
    )
    assert failed.verdict == "FAIL"
    results = json.loads(sarif_report.verify([failed]))["runs"][0]["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [("row.SP-NEW", "error")]
    assert "no evidence for PR-NOT-PLANNED" in results[0]["message"]["text"]


def test_doctor_escapes_what_it_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # image.base carried the escape before the loader took image references only (review 13):
    # a waiver's reason is free text every format prints
    path = tmp_path / "esc.toml"
    path.write_text(BARE + '[[waiver]]\nrule = "SPD005"\nreason = "x\\u001b[32mPASS"\n')
    for fmt in ("text", "json", "sarif"):
        assert main(["doctor", str(path), "--format", fmt]) == 1
        out = capsys.readouterr().out
        assert "\x1b" not in out
        assert "\\x1b" in out
    path.write_text(_edit(BARE, ('base = "gcr.io/distroless/python3-debian12:nonroot"', r'base = "x\u001b[32mPASS"')))
    assert main(["doctor", str(path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert "\\x1b" in err


def test_nothing_to_lint_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", str(tmp_path)]) == 2
    assert "nothing to lint" in capsys.readouterr().err


def test_every_rule_is_shown_to_fire() -> None:
    """BAD covers the profile rules; SPD003 (a layout's JSON), SPD005 (default vs learned-example),
    SPD050 (without default's waiver) and SPD060/SPD061 (the seed's workflow) have tests of their own."""
    assert {*BAD, "SPD003", "SPD005", "SPD050", "SPD060", "SPD061"} == set(doctor.RULE_IDS)


def test_template_injection_in_an_escaped_run_and_a_github_script(tmp_path: Path) -> None:
    # review: the runner reads expressions after YAML's escapes, and github-script's `script:`
    # runs as JavaScript; both were missed (only the raw text of `run:` was scanned)
    flows = tmp_path / ".github" / "workflows"
    flows.mkdir(parents=True)
    (flows / "w.yml").write_text(
        "on: issues\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: "echo \\u0024{{ github.event.issue.title }}"\n'
        "      - uses: actions/github-script@60a0d83039c74a4aee543508d2ffcb1c3799cdea\n"
        "        with:\n"
        '          script: console.log("${{ github.event.issue.body }}")\n'
    )
    got = [(f.rule.id, f.subject, f.line) for f in doctor.run(str(tmp_path)).findings]
    assert got == [
        ("SPD060", "${{ github.event.issue.title }}", 6),
        ("SPD060", "${{ github.event.issue.body }}", 9),
    ]


def _spd060(tmp_path: Path, text: str) -> list[doctor.Finding]:
    """The SPD060 findings of a layout holding one workflow, ``text``."""
    flows = tmp_path / ".github" / "workflows"
    flows.mkdir(parents=True)
    (flows / "w.yml").write_text(text)
    return [f for f in doctor.run(str(tmp_path)).findings if f.rule.id == "SPD060"]


DOCKER_SINKS = """on: issues
jobs:
  j:
    runs-on: ubuntu-latest
    container:
      image: node:${{ github.event.issue.title }}
      options: --cpus 1 ${{ github.event.issue.body }}
      env:
        TITLE: ${{ github.event.issue.title }}
      ports:
        - ${{ inputs.port }}
      credentials:
        username: ${{ github.head_ref }}
        password: ${{ secrets.PASSWORD }}
    services:
      db:
        image: postgres@sha256:${{ github.event.comment.body }}
        options: ${{ inputs.options }} --health-cmd pg_isready
        env:
          POSTGRES_PASSWORD: ${{ github.event.issue.title }}
    steps:
      - uses: docker://alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
        with:
          entrypoint: ${{ inputs.entry }}
          args: echo ${{ github.event.pull_request.title }}
      - uses: actions/checkout@11d5960a326750d5838078e36cf38b85af677262
        with:
          args: ${{ github.event.issue.title }}
  k:
    runs-on: ubuntu-latest
    container: ${{ inputs.image }}
    services:
      cache: redis:${{ github.ref_name }}
    steps:
      - run: echo ok
"""


def test_template_injection_into_the_docker_command_line(tmp_path: Path) -> None:
    """actions/runner DockerCommandManager.cs writes a job container's and each service's image,
    options, ports and registry username, and a docker:// step's args and entrypoint, unquoted
    into the docker command line: before, only run: and script: were scanned. env is escaped, an
    action's own `args` input is no docker argument, and a secret is no finding."""
    findings = _spd060(tmp_path, DOCKER_SINKS)
    got = [(f.subject, f.line) for f in findings]
    assert got == [
        ("${{ github.event.issue.title }}", 6),
        ("${{ github.event.issue.body }}", 7),
        ("${{ inputs.port }}", 11),
        ("${{ github.head_ref }}", 13),
        ("${{ github.event.comment.body }}", 17),
        ("${{ inputs.options }}", 18),
        ("${{ inputs.entry }}", 24),
        ("${{ github.event.pull_request.title }}", 25),
        ("${{ inputs.image }}", 31),
        ("${{ github.ref_name }}", 33),
    ]
    assert "(jobs.j.container.options): github.event.issue.body can add docker flags" in findings[1].message
    assert "(jobs.j.services.db.image)" in findings[4].message
    assert "(jobs.j.steps[0].with.args)" in findings[7].message
    assert "(jobs.k.container (its image))" in findings[8].message
    assert "(jobs.k.services.cache (its image))" in findings[9].message


def test_literal_and_trusted_docker_values_are_no_finding(tmp_path: Path) -> None:
    text = (
        "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n"
        "    container:\n      image: node@sha256:${{ github.sha }}\n      options: --cpus 1\n"
        "    steps:\n      - run: echo ${{ runner.temp }}\n"
    )
    assert not _spd060(tmp_path, text)
