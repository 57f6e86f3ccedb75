"""``profile import docker``: commands Docker reads otherwise than a naive parser (review 14)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from sandproof import profile, profileimport, seccomp
from sandproof.cli import main

# every flag whose absence is refused (no --network, --user or seccomp=: the engine's default)
RUN = ["docker", "run", "--network", "none", "--cap-drop", "ALL", "--user", "65532:65532"]
RUN += ["--security-opt", "seccomp=unconfined"]


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


PODMAN = ["podman", "run", "--network", "none", "--cap-drop", "ALL", "--user", "65532:65532"]
PODMAN += ["--security-opt", "seccomp=unconfined"]


def _import_argv(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["profile", "import", "docker", "--", *argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _refused_argv(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = _import_argv(argv, capsys)
    assert (code, out) == (2, ""), err
    (line,) = err.splitlines()
    assert line.startswith("sandproof: error: ")
    return line


@pytest.mark.parametrize("run", [RUN, PODMAN])
@pytest.mark.parametrize(
    "flags", [["--volumes-from", "other"], ["--volumes-from=other:ro"], ["--volumes-from", "other:rw"]]
)
def test_import_refuses_volumes_from(run: list[str], flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Another container's volumes and binds, which the command does not show (possibly the host's
    root onto /in): before, dropped with a note and exit 0."""
    line = _refused_argv([*run, *flags, "img", "--attest"], capsys)
    assert line.startswith("sandproof: error: --volumes-from: mounts another container's volumes and binds")
    assert line.endswith("remove the flag")


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        ([*RUN, "--use-api-socket"], "--use-api-socket"),  # docker/cli run.go: the Docker socket inside
        ([*PODMAN, "--pod", "mypod"], "--pod"),  # podman: the pod's namespaces; "mypod" was the image
        ([*PODMAN, "--pod-id-file=/run/pod.id"], "--pod-id-file"),
    ],
)
def test_import_refuses_what_another_container_or_the_engine_holds(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused_argv([*argv, "img", "--attest"], capsys)
    assert line.startswith(f"sandproof: error: {flag}: ")
    assert line.endswith("no profile expresses it: remove the flag")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        ([*RUN, "--bogus"], "--bogus"),
        ([*RUN, "--bogus=1"], "--bogus"),
        ([*RUN, "--pod", "mypod"], "--pod"),  # podman's, not docker's
        ([*RUN, "--read-only-tmpfs=false"], "--read-only-tmpfs"),
        ([*PODMAN, "--link", "other"], "--link"),  # docker's, not podman's
        ([*PODMAN, "--use-api-socket=false"], "--use-api-socket"),
        # podman's global options: cobra persistent flags podman run takes after "run" too
        ([*PODMAN, "--hooks-dir", "/usr/share/containers/oci/hooks.d"], "--hooks-dir"),
        ([*PODMAN, "--runtime", "crun"], "--runtime"),
        ([*PODMAN, "--root", "/var/lib/other"], "--root"),
        ([*PODMAN, "--storage-opt", "overlay.mount_program=/x"], "--storage-opt"),
    ],
)
def test_import_refuses_an_option_it_does_not_know(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An allow-list: before, dropped with a note, and a valued one's value read as the image."""
    line = _refused_argv([*argv, "img", "--attest"], capsys)
    engine = argv[0]
    assert line == (
        f"sandproof: error: {named}: not an option of `{engine} run` the import knows, so it cannot tell what it "
        "does or whether the next word is its value: remove it or write the profile by hand"
    )


@pytest.mark.parametrize("word", ["-network", "-x", "-itx", "-Z"])
def test_import_refuses_an_unknown_shorthand(word: str, capsys: pytest.CaptureFixture[str]) -> None:
    """pflag reads ``-network`` as -n -e -t ...: no such letters; before, a note and exit 0."""
    line = _refused_argv([*RUN, word, "none", "img"], capsys)
    assert line.startswith(f"sandproof: error: {word}: -")
    assert "is no single-letter option of docker run or podman run" in line


_PODMAN_ONLY_VALUED = sorted(
    profileimport._PODMAN_VALUED - profileimport._DOCKER_VALUED - {"pod", "pod-id-file", "volumes-from"}
)


@pytest.mark.parametrize("name", _PODMAN_ONLY_VALUED)
def test_import_reads_every_podman_option_with_its_value(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each takes the next word (podman create.go): before, read as a boolean, its value became the
    image and the bind of the host's root onto /in after it a harness argument (exit 0)."""
    line = _refused_argv([*PODMAN, f"--{name}", "value", "-v", "/:/in:rw", "img", "--attest"], capsys)
    assert line.startswith("sandproof: error: -v /:/in:rw: sandproof gives /in itself")


def test_podman_options_and_aliases_are_read(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*PODMAN, "--secret", "s", "--net=none", "--tls-verify", "--read-only", "--read-only-tmpfs=false"]
    code, out, err = _import_argv([*argv, "--pids-limit", "9", "img", "--attest"], capsys)
    assert code == 0, err
    imported = profile.parse(out, "imported")
    assert (imported.image.name, imported.network.mode, imported.resources.pids) == ("img", "none", 9)
    assert imported.filesystem.read_only_rootfs is True
    assert "sandproof: --secret s: no profile key expresses it" in err.splitlines()
    assert "read-only-tmpfs" not in err
    # podman passes the host's proxy variables unless told not to (its --http-proxy, true by default)
    assert "sandproof: no --http-proxy=false: podman run passes the host's proxy variables" in err
    code, out, err = _import_argv([*argv, "--http-proxy=false", "img", "--attest"], capsys)
    assert code == 0, err
    assert "proxy" not in err


@pytest.mark.parametrize("tmpfs", [[], ["--read-only-tmpfs"], ["--read-only-tmpfs=true"]])
def test_podman_read_only_keeps_writable_tmpfs(tmpfs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """podman's --read-only-tmpfs (true by default) mounts /tmp, /var/tmp and /run writable: the
    profile said a read-only root with only its own tmpfs writable."""
    line = _refused_argv([*PODMAN, "--read-only", *tmpfs, "img", "--attest"], capsys)
    assert line.startswith("sandproof: error: --read-only: podman run still mounts writable tmpfs on /tmp")


@pytest.mark.parametrize("key", ["dest", "dst", "target", "destination"])
def test_import_refuses_a_podman_mount_onto_in_by_any_key(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    """podman takes ``dest=`` too (pkg/specgenutil/volumes.go): before, dropped with a note while
    podman bound the host's root read-write as /in."""
    line = _refused_argv([*PODMAN, "--mount", f"type=bind,src=/,{key}=/in,rw=true", "img", "--attest"], capsys)
    assert line.startswith(f"sandproof: error: --mount type=bind,src=/,{key}=/in,rw=true: sandproof gives /in")


@pytest.mark.parametrize(
    "prefix",
    [
        ["docker", "container", "run"],
        ["podman", "container", "run"],
        ["/usr/bin/docker", "run"],
        ["/usr/local/bin/podman", "container", "run"],
    ],
)
def test_import_reads_the_container_run_forms(prefix: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Review 16 F3: ``docker container run --privileged`` imported with image "docker" and every
    flag as a harness argument: privileged = false, exit 0."""
    argv = [*prefix, "--network", "none", "--privileged", "-u", "0:0", "img", "--attest"]
    code, out, err = _import_argv(argv, capsys)
    assert code == 0, err
    imported = profile.parse(out, "imported")
    assert (imported.image.name, imported.security.privileged, imported.user.uid) == ("img", True, 0)
    assert "harness argument" not in err


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (["sudo", "docker", "run"], "word 1 'sudo': the command must start with `docker run`"),
        (["env", "A=1", "docker", "run"], "word 1 'env': "),
        (["doas", "podman", "run"], "word 1 'doas': "),
        (["nerdctl", "run"], "word 1 'nerdctl': "),
        (["./docker", "run"], "word 1 './docker': "),
        (["docker", "--context", "default", "run"], "word 2 '--context': a global option of docker before `run`"),
        (["docker", "-H", "unix:///other.sock", "run"], "word 2 '-H': a global option of docker"),
        (["podman", "--root", "/var/lib/other", "run"], "word 2 '--root': a global option of podman"),
        (["podman", "--runtime", "crun", "container", "run"], "word 2 '--runtime': "),
        (["docker", "create"], "after 'docker': 'create --privileged', where `docker run`"),
        (["docker", "container", "create"], "after 'docker': 'container create', where `docker run`"),
        (["docker", "exec"], "after 'docker': 'exec --privileged'"),
    ],
)
def test_import_refuses_a_command_it_cannot_read(
    argv: list[str], start: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 16 F3: each imported exit 0, the first word read as the image and the real flags
    (--privileged here) as harness arguments: the profile said privileged = false."""
    line = _refused_argv([*argv, "--privileged", "-v", "/:/in", "img", "--attest"], capsys)
    assert line.startswith(f"sandproof: error: {start}")


@pytest.mark.parametrize(
    ("flags", "got"),
    [
        (["--pids-limit", "100", "--pids-limit", "-1"], ("pids", 0)),  # Docker: unlimited (was 100)
        (["--pids-limit", "100", "--pids-limit", "0"], ("pids", 0)),
        (["--pids-limit=-1", "--pids-limit", "7"], ("pids", 7)),
        (["--user", "0:0", "-u", "1000:1000"], ("uid", 1000)),
        (["-m", "1g", "--memory", "2g"], ("memory", 2 << 30)),
    ],
)
def test_import_takes_the_last_value(
    flags: list[str], got: tuple[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """pflag's Set overwrites: the last occurrence is the command's value (review 16 F4)."""
    code, out, err = _import(flags, capsys)
    assert code == 0, err
    imported = profile.parse(out, "imported")
    value = {"pids": imported.resources.pids, "uid": imported.user.uid, "memory": imported.resources.memory.bytes}
    assert value[got[0]] == got[1]


@pytest.mark.parametrize(
    ("flags", "start"),
    [
        # review 16 F4: the profile kept the earlier value the import could read (none, 1000, 1g)
        (["--network", "bridge"], "--network none --network bridge: the profile reads one network mode"),
        (["--user", "1000:1000", "-u", "0"], "-u 0: not UID:GID in numbers"),
        (["--user", "root"], "--user root: not UID:GID in numbers"),
        (["--memory", "1g", "--memory", "lots"], "--memory lots: not a value `docker run` takes"),
        (["--pids-limit", "9", "--pids-limit", "many"], "--pids-limit many: not a value `docker run` takes"),
        (["--cpus", "1", "--cpus", "all"], "--cpus all: not a value"),
        (["--ulimit", "nofile"], "--ulimit nofile: not a value"),
        (["--security-opt", "seccomp=missing.json"], "--security-opt seccomp=missing.json: cannot read"),
        (["--env-file", "a.env", "--env-file", "b.env"], "--env-file b.env: a second env file after a.env"),
    ],
)
def test_import_refuses_a_last_value_it_cannot_read(
    flags: list[str], start: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    line = _refused(flags, capsys)
    assert line.startswith(f"sandproof: error: {start}")


@pytest.mark.parametrize(
    ("run", "flags"),
    [
        # review 16 F4 (addendum): each a line "no profile key expresses it", exit 0, while the
        # profile claimed the protection the flag removes
        (RUN, ["--security-opt", "systempaths=unconfined"]),
        (PODMAN, ["--security-opt", "unmask=ALL"]),
        (PODMAN, ["--security-opt=unmask=/proc/kcore"]),
        (RUN, ["--security-opt", "apparmor=unconfined"]),
        (RUN, ["--security-opt", "apparmor:my-profile"]),
        (RUN, ["--security-opt", "label=disable"]),
        (PODMAN, ["--security-opt", "proc-opts=hidepid=0"]),
        (RUN, ["--security-opt", "bogus=1"]),
        (RUN, ["--device", "/dev/kmsg"]),
        (RUN, ["--device-cgroup-rule", "c 1:11 rmw"]),
        (RUN, ["--gpus", "all"]),
        (RUN, ["--group-add", "0"]),
        (RUN, ["--group-add=1000"]),
        (RUN, ["--runtime", "runc"]),
        (RUN, ["--annotation", "run.oci.keep_original_groups=1"]),
        (RUN, ["--mount", "type=bind,src=/,dst=/host"]),
        (RUN, ["-v", "data:/data"]),  # a named volume: was "only HOST:TARGET binds", exit 0
        (RUN, ["-v", "/srv:/data:rshared"]),
        (PODMAN, ["--env-host"]),
        (PODMAN, ["--env-merge", "PATH=/x:${PATH}"]),
        (PODMAN, ["--preserve-fds", "2"]),
        (PODMAN, ["--cgroups", "disabled"]),
        (PODMAN, ["--cgroup-conf", "pids.max=max"]),
        (PODMAN, ["--systemd", "always"]),
        (PODMAN, ["--uidmap", "0:0:1"]),
        (PODMAN, ["--personality", "LINUX32"]),
        (PODMAN, ["--seccomp-policy", "image"]),
    ],
)
def test_import_refuses_a_flag_that_removes_a_protection(
    run: list[str], flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused_argv([*run, *flags, "img", "--attest"], capsys)
    named = flags[0].partition("=")[0]
    assert line.startswith(f"sandproof: error: {named}")
    assert line.endswith(
        "so the profile would claim more than the command gives: remove it or write the profile by hand"
    )


@pytest.mark.parametrize(
    ("run", "flags", "line"),
    [
        (RUN, ["-p", "8080:80"], "-p 8080:80"),
        (RUN, ["--label", "a=b"], "--label a=b"),
        (RUN, ["--restart", "no"], "--restart no"),
        (RUN, ["--cap-drop", "NET_RAW"], "--cap-drop NET_RAW"),
        (RUN, ["--security-opt", "apparmor=docker-default"], "--security-opt apparmor=docker-default"),
        (RUN, ["--log-driver", "json-file"], "--log-driver json-file"),
        (PODMAN, ["--security-opt", "mask=/proc/acpi"], "--security-opt mask=/proc/acpi"),
        (PODMAN, ["--systemd=false"], "--systemd false"),
        (PODMAN, ["--cgroups", "enabled"], "--cgroups enabled"),
    ],
)
def test_import_notes_a_flag_that_takes_nothing_away(
    run: list[str], flags: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An allow-list of options no profile key expresses but that remove no protection: a line, exit 0."""
    code, _, err = _import_argv([*run, *flags, "img", "--attest"], capsys)
    assert code == 0, err
    assert f"sandproof: {line}: no profile key expresses it" in err.splitlines()


def test_import_names_the_source_of_in(capsys: pytest.CaptureFixture[str]) -> None:
    """Review 16: ``-v /etc:/in:ro`` (the host's /etc shown to the sandbox) imported without a word."""
    code, _, err = _import(["-v", "/etc:/in:ro"], capsys)
    assert code == 0
    assert "sandproof: -v /etc:/in:ro: the profile's input; its source /etc is not recorded" in err


_GIVEN = {
    "--network": ["--network", "none"],
    "--user": ["--user", "65532:65532"],
    "--security-opt seccomp=": ["--security-opt", "seccomp=unconfined"],
}


@pytest.mark.parametrize("engine", ["docker", "podman"])
@pytest.mark.parametrize(
    ("left_out", "add"),
    [
        ("--network", "add --network none (or --network host) to the command"),
        ("--user", "add --user UID:GID to the command"),
        ("--security-opt seccomp=", "add --security-opt seccomp=FILE (or seccomp=unconfined) to the command"),
    ],
)
def test_import_refuses_a_left_out_flag_whose_default_no_profile_states(
    engine: str, left_out: str, add: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each imported exit 0 as the base's value (--network none, --user 65532:65532, its seccomp
    filter) while the engine gave a bridge, the image's USER (possibly root), its default filter."""
    flags = [w for flag, words in _GIVEN.items() if flag != left_out for w in words]
    line = _refused_argv([engine, "run", "--cap-drop", "ALL", *flags, "img", "--attest"], capsys)
    assert line.startswith(f"sandproof: error: no {left_out}: {engine} run ")
    assert line.endswith(add)


def test_import_names_the_first_left_out_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """``docker run img``: one line, naming the network first (exit 2, nothing on stdout)."""
    line = _refused_argv(["docker", "run", "img"], capsys)
    assert line.startswith("sandproof: error: no --network: docker run attaches the container to the default bridge")


@pytest.mark.parametrize(
    ("flags", "mode"),
    [
        (["--net", "none", "-u", "0:0", "--security-opt=seccomp:unconfined"], "none"),  # alias, shorthand, K:V
        (["--network=host", "-u0:0", "--privileged"], "host"),  # --privileged: no filter at all (below)
    ],
)
def test_import_takes_every_form_of_the_required_flags(
    flags: list[str], mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _import_argv(["docker", "run", *flags, "img", "--attest"], capsys)
    assert code == 0, err
    imported = profile.parse(out, "imported")
    assert (imported.user.uid, imported.user.gid, imported.network.mode) == (0, 0, mode)
    assert imported.seccomp.enabled is False
    assert " no --" not in err


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_import_states_no_filter_for_privileged_without_seccomp(
    engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both engines run ``--privileged`` with no seccomp filter unless seccomp= names one (moby
    WithSeccomp, podman specgen/generate/security.go): the profile said the base's filter."""
    argv = [engine, "run", "--network", "none", "--user", "0:0", "--privileged", "img", "--attest"]
    code, out, err = _import_argv(argv, capsys)
    assert code == 0, err
    imported = profile.parse(out, "imported")
    assert (imported.security.privileged, imported.seccomp.enabled) == (True, False)
    assert "seccomp" not in err


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_privileged_runs_no_filter_whatever_seccomp_names(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Measured with Docker 20.10 here: ``--privileged --security-opt seccomp=FILE`` runs with
    Seccomp 0 in /proc/self/status (moby daemon/seccomp_linux.go WithSeccomp returns for a
    privileged container before loading any profile; podman-run(1): --privileged disables the
    seccomp filter). The import kept the file's filter: a profile claiming more than it runs."""
    monkeypatch.chdir(tmp_path)
    Path("sc.json").write_text(json.dumps(_deny_list()))
    argv = [engine, "run", "--network", "none", "--user", "0:0", "--privileged"]
    code, out, err = _import_argv([*argv, "--security-opt", "seccomp=sc.json", "img", "--attest"], capsys)
    assert code == 0, err
    imported = profile.parse(out, "imported")
    assert (imported.security.privileged, imported.seccomp.enabled) == (True, False)
    code, out, err = _import_argv([*argv[:-1], "--security-opt", "seccomp=sc.json", "img", "--attest"], capsys)
    assert code == 0, err
    assert profile.parse(out, "imported").seccomp.enabled  # not privileged: the file's filter runs


def test_a_seccomp_file_is_read_bounded_and_regular(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The final read of the change: ``seccomp=/dev/zero`` grew in memory until killed, a FIFO
    would block for ever; a rule's ``names`` as a string became single letters."""
    monkeypatch.chdir(tmp_path)
    os.mkfifo("fifo.json")
    for path in ("/dev/zero", "fifo.json", str(tmp_path)):
        line = _refused(["--security-opt", f"seccomp={path}"], capsys)
        assert line == f"sandproof: error: --security-opt seccomp={path}: not a regular file"
    policy = _deny_list()
    policy["syscalls"][0]["names"] = "mount"
    Path("sc.json").write_text(json.dumps(policy))
    assert "names 'mount' is not a list of syscall names" in _refused(["--security-opt", "seccomp=sc.json"], capsys)


def test_no_healthcheck_is_noted_not_taken_silently(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _import(["--no-healthcheck"], capsys)
    assert code == 0
    assert "--no-healthcheck: no profile key expresses it" in err


def test_a_seccomp_file_nested_too_deeply_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Final read: a deeply nested seccomp file raised RecursionError: "internal error" and a traceback."""
    monkeypatch.chdir(tmp_path)
    Path("deep.json").write_text('{"defaultAction": ' + "[" * 200_000 + "]" * 200_000 + "}")
    line = _refused(["--security-opt", "seccomp=deep.json"], capsys)
    assert line.startswith("sandproof: error: --security-opt seccomp=deep.json: ")
    assert "internal error" not in line
