"""The runtimes' plumbing: the Engine API client on a unix socket (a fake engine here, the
real one in the engine tests), runc's rendered argv and bundle, one compiled plan and one
seccomp render per run, the evidence text."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandproof import attest, contract, evidence, image, plan, profile, runtime_defaults, seccomp, verify
from sandproof.render import oci
from sandproof.render import runc as render_runc
from sandproof.runtime import docker as docker_rt
from sandproof.runtime import runc as runc_rt
from sandproof.runtime.engine_api import EngineAPI, Unreachable, parse_answer, quote
from sandproof.runtime.interface import Seccomp, first_line
from sandproof.workload.carried import Workload
from tests.conftest import ASSETS, RUN_DATE

DEFAULT = profile.load("default")
Handler = Callable[[str], bytes]


def _answer(status: str, body: bytes = b"", headers: tuple[str, ...] = ()) -> bytes:
    head = "\r\n".join([f"HTTP/1.0 {status}", *headers, f"Content-Length: {len(body)}"])
    return head.encode() + b"\r\n\r\n" + body


@contextlib.contextmanager
def _engine(tmp_path: Path, handler: Handler) -> Iterator[tuple[EngineAPI, list[str]]]:
    """A fake engine on a unix socket: ``handler`` maps each request line to the raw answer."""
    path = str(tmp_path / "engine.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()
    seen: list[str] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data and (chunk := conn.recv(4096)):
                    data += chunk
                line = data.split(b"\r\n", 1)[0].decode()
                seen.append(line)
                conn.sendall(handler(line))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield EngineAPI(path, timeout=5), seen
    finally:
        server.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not)
        server.close()
        thread.join(5)


def test_version_comes_from_the_ping_servers_header(tmp_path: Path) -> None:
    def handler(_line: str) -> bytes:
        return _answer("200 OK", b"OK", ("Server: Docker/20.10.24+dfsg1 (linux)", "Api-Version: 1.41"))

    with _engine(tmp_path, handler) as (api, seen):
        assert api.version() == "20.10.24+dfsg1"
    assert seen == ["GET /_ping HTTP/1.0"]


def test_version_falls_back_to_the_version_endpoint(tmp_path: Path) -> None:
    def handler(line: str) -> bytes:
        if line.startswith("GET /version "):
            return _answer("200 OK", json.dumps({"Version": "4.3.1"}).encode(), ("Server: Libpod/4.3.1 (linux)",))
        return _answer("200 OK", b"OK", ("Server: Libpod/4.3.1 (linux)",))

    with _engine(tmp_path, handler) as (api, seen):
        assert api.version() == "4.3.1"
    assert seen == ["GET /_ping HTTP/1.0", "GET /version HTTP/1.0"]


def test_image_and_container_calls(tmp_path: Path) -> None:
    def handler(line: str) -> bytes:
        if line.startswith("GET /images/sandproof%2Finspector:default/json "):
            return _answer("200 OK", json.dumps({"Id": "sha256:abc"}).encode())
        if line.startswith("GET /containers/here/json "):
            return _answer("200 OK", b"{}")
        if line.startswith("DELETE /containers/here?force=1&v=1 "):
            return _answer("409 Conflict", b'{"message": "removal of container here is already in progress"}')
        return _answer("404 Not Found", b'{"message": "no such thing"}')

    with _engine(tmp_path, handler) as (api, seen):
        assert api.image_id("sandproof/inspector:default") == "sha256:abc"
        assert api.image_id("other:tag") is None
        assert api.container_exists("here")
        assert not api.container_exists("gone")
        api.remove_container("here")  # 409: the caller waits for container_exists
    assert seen[-1] == "DELETE /containers/here?force=1&v=1 HTTP/1.0"


@pytest.mark.parametrize(
    "answer",
    [b"", b"SSH-2.0-OpenSSH_9.2\r\n", b"HTTP/1.0 200 OK\r\nServer: Docker/1 (linux)", b"HTTP/9 x\r\n\r\n"],
    ids=["closed", "not-http", "cut-headers", "bad-status"],
)
def test_anything_but_an_http_answer_is_unreachable(tmp_path: Path, answer: bytes) -> None:
    with _engine(tmp_path, lambda _line: answer) as (api, _), pytest.raises(Unreachable):
        api.version()


def test_a_missing_socket_is_unreachable(tmp_path: Path) -> None:
    with pytest.raises(Unreachable):
        EngineAPI(str(tmp_path / "none.sock")).version()


def test_an_oversized_answer_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sandproof.runtime.engine_api.MAX_ANSWER_BYTES", 1000)
    with _engine(tmp_path, lambda _line: _answer("200 OK", b"x" * 5000)) as (api, _), pytest.raises(Unreachable):
        api.image_id("x")


def test_the_socket_is_the_one_docker_run_uses() -> None:
    default, named = EngineAPI.from_environ({}), EngineAPI.from_environ({"DOCKER_HOST": "unix:///x/d.sock"})
    assert default is not None
    assert default.socket_path == "/var/run/docker.sock"
    assert named is not None
    assert named.socket_path == "/x/d.sock"
    # other transports and contexts: the CLI, which knows them
    assert EngineAPI.from_environ({"DOCKER_HOST": "tcp://10.0.0.1:2375"}) is None
    assert EngineAPI.from_environ({"DOCKER_HOST": "ssh://u@h"}) is None
    assert EngineAPI.from_environ({"DOCKER_CONTEXT": "remote"}) is None


def test_path_segments_are_quoted() -> None:
    assert quote("sandproof/inspector:default") == "sandproof%2Finspector:default"
    assert quote("a b?c#d\r\n") == "a%20b%3Fc%23d%0D%0A"
    assert quote("é") == "%C3%A9"


def test_headers_are_read_case_insensitively() -> None:
    got = parse_answer(b"HTTP/1.1 404 Not Found\r\nSERVER: Docker/1 (linux)\r\nX: a:b\r\n\r\nbody")
    assert got == (404, {"server": "Docker/1 (linux)", "x": "a:b"}, b"body")


def test_docker_falls_back_to_the_cli_when_the_socket_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    asked: list[list[str]] = []

    def first_line(argv: list[str]) -> str:
        asked.append(argv)
        return "20.10.24"

    monkeypatch.setattr(docker_rt, "first_line", first_line)
    monkeypatch.setattr("shutil.which", lambda _b: "/usr/bin/docker")
    rt = docker_rt.Docker()
    assert rt.available()
    assert rt.version() == "Docker Engine 20.10.24"
    assert asked == [["docker", "version", "--format", "{{.Server.Version}}"]]  # once for both
    assert rt.api is None


def test_docker_is_unavailable_without_its_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API may answer, but the sandbox runs with ``docker run``."""
    monkeypatch.setattr("shutil.which", lambda _b: None)
    assert not docker_rt.Docker().available()


def test_runc_argv_is_the_shape_the_verifier_checks() -> None:
    argv = render_runc.argv(Path("/w/bundle"), "sandproof-0123")
    assert argv == ["runc", "--root", render_runc.STATE_ROOT, "run", "--bundle", "/w/bundle", "sandproof-0123"]
    leak = render_runc.argv("/w/bundle", "c", preserve_fds=1)
    assert leak[3:6] == ["run", "--preserve-fds", "1"]
    assert runc_rt.STATE_ROOT == render_runc.STATE_ROOT


def test_runc_config_is_the_oci_config_with_its_own_cgroup() -> None:
    cfg = render_runc.config(DEFAULT, in_dir="/h/in", out_dir="/h/out", run_date=RUN_DATE, container_id="sandproof-1")
    want = oci.config(DEFAULT, in_dir="/h/in", out_dir="/h/out", run_date=RUN_DATE, cgroup="/sandproof/sandproof-1")
    assert cfg == want
    assert json.loads(render_runc.config_bytes(cfg)) == cfg


def test_an_oci_config_never_shares_the_rendered_policy() -> None:
    policy = Seccomp.render(DEFAULT)
    cfg = oci.config(DEFAULT, in_dir="i", out_dir="o", run_date="D", seccomp_policy=policy.policy)
    cfg["linux"]["seccomp"]["syscalls"].clear()  # a mutation edits the config in place
    assert policy.policy["syscalls"]
    assert Seccomp.of(policy.policy).text == policy.text


def test_seccomp_is_rendered_once_and_edited_on_a_copy() -> None:
    rendered = Seccomp.render(DEFAULT)
    assert rendered.text == seccomp.render(DEFAULT)
    assert rendered.sha256 == seccomp.sha256(DEFAULT)
    assert rendered.edited(None) is rendered
    edited = rendered.edited(lambda p: p["syscalls"].pop())
    assert edited.sha256 != rendered.sha256
    assert rendered.text == seccomp.render(DEFAULT)


@pytest.mark.parametrize("runtime", plan.RUNTIMES)
def test_the_compiled_plan_is_the_built_plan(runtime: str) -> None:
    built = plan.build(DEFAULT, runtime)
    compiled = plan.compiled(DEFAULT, runtime)
    assert compiled.plan == built
    assert compiled.sha256 == built["sha256"] == plan.digest(json.loads(compiled.text))
    assert json.loads(compiled.text) == built  # the harness parses it (the sha256 is inside)
    assert compiled.runtime == runtime
    assert compiled.expectations() == plan.expectations(DEFAULT, runtime)


@pytest.mark.parametrize("name", sorted(p.name for p in (ASSETS / "bundles").glob("*.json")))
def test_the_evidence_text_is_the_stdlibs_byte_for_byte(name: str) -> None:
    data = json.loads((ASSETS / "bundles" / name).read_text())
    assert evidence.dumps(data) == json.dumps(data, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize(
    "value",
    ["é", "\u202e", "\ud800", 2**70, -(2**65), 1e-5, 1.5e-7, 1e16, 0.1, "0.00001", [], {}, None, True],
    ids=repr,
)
def test_the_evidence_text_where_orjson_would_differ(value: Any) -> None:
    data = {"b": [value, {"k": value}], "a": value}
    assert evidence.dumps(data) == json.dumps(data, indent=2, sort_keys=True) + "\n"


def test_after_run_prepares_the_build_time_record() -> None:
    record = attest._after_run()
    assert record == evidence.static_record()


def test_after_run_derives_what_the_verifier_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    # done while the container runs: after it, judging the bundle derives nothing again
    monkeypatch.setattr(verify, "_DERIVATIONS", {})
    attest._after_run(DEFAULT, "runc")

    def no_build(*args: object) -> None:
        raise AssertionError(f"the plan was derived again: {args}")

    monkeypatch.setattr(plan, "build", no_build)
    raw = (ASSETS / "bundles" / "runc-default-pass.json").read_bytes()
    assert verify.verify_bytes(raw, "runc-default-pass.json", DEFAULT).verdict == "PASS"


@pytest.mark.engine
# no cluster answers here: tests/test_k8s_runtime.py counts the plans of kubernetes' runc stand-in
@pytest.mark.parametrize("runtime", [r for r in plan.RUNTIMES if r != "kubernetes"])
def test_one_plan_per_attest(runtime: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verify._derived(DEFAULT, runtime)  # the verifier's cache, as an attest before this one left it
    real, built = plan.build, []

    def counting(profile: profile.Profile, runtime: str, workload: Workload | None = None) -> dict[str, Any]:
        built.append(runtime)
        return real(profile, runtime, workload)

    monkeypatch.setattr(plan, "build", counting)
    result = attest.attest(DEFAULT, runtime=runtime, out=tmp_path / "out", run_date=RUN_DATE)
    failing = {p.probe_id for p in result.report.probes if p.verdict != "PASS"}
    # gVisor's documented FAILs are true of gVisor (runtime_defaults.RUNSC_TRUE_FAILS); all else PASSes
    assert failing == (runtime_defaults.RUNSC_NOT_PASSING if runtime == "runsc" else set())
    assert result.report.verdict == ("FAIL" if runtime == "runsc" else "PASS")
    assert built == [runtime]


@pytest.mark.engine("docker")
def test_docker_asks_the_socket_not_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    cli = first_line(["docker", "version", "--format", "{{.Server.Version}}"])
    img = image.build(DEFAULT)
    image.ensure_docker(img)

    def no_cli(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the CLI was spawned: {args}")

    monkeypatch.setattr(docker_rt, "first_line", no_cli)
    monkeypatch.setattr(image, "ensure_docker", no_cli)
    rt = docker_rt.Docker()
    assert rt.available()
    assert rt.version() == f"Docker Engine {cli}"
    rt.prepare(img)


@pytest.mark.engine("runc")
def test_runc_cleans_up_only_what_runc_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spawned: list[list[str]] = []
    real = subprocess.run

    def spy(argv: list[str], **kwargs: Any) -> Any:
        spawned.append(argv)
        return real(argv, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    result = attest.attest(DEFAULT, runtime="runc", out=tmp_path / "out", run_date=RUN_DATE)
    assert result.report.verdict == "PASS"
    # no kill, no delete: runc run destroyed the container itself
    assert [a for a in spawned if "kill" in a or "delete" in a] == []
    ev = json.loads(result.evidence_path.read_text())
    assert not render_runc.state_dir(ev["argv"][-1]).exists()


@pytest.mark.engine("runc")
def test_runc_is_given_none_of_the_callers_notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NOTIFY_SOCKET in attest's environment (a systemd unit of Type=notify) made runc bind the
    socket into the sandbox and create /run/notify in the shared unpacked image: every later
    run then FAILed PR-ROOTFS-1 (review 10). runc is given only ``runc.CLIENT_ENV``."""
    shared = image.rootfs(image.build(DEFAULT))
    before = sorted(p.name for p in shared.iterdir())
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    result = attest.attest(DEFAULT, runtime="runc", out=tmp_path / "out", run_date=RUN_DATE)
    assert result.report.verdict == "PASS", [p for p in result.report.probes if p.verdict != "PASS"]
    assert sorted(p.name for p in shared.iterdir()) == before
    assert runc_rt.client_env({"NOTIFY_SOCKET": "/run/x", "PATH": "/bin", "HOME": "/root"}) == {"PATH": "/bin"}


@pytest.mark.engine("runc")
def test_attest_does_without_what_the_run_could_not_prepare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("warm-up failed")

    monkeypatch.setattr(attest, "_after_run", broken)
    result = attest.attest(DEFAULT, runtime="runc", out=tmp_path / "out", run_date=RUN_DATE)
    assert result.report.verdict == "PASS"


def test_runcs_version_is_asked_once_per_binary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.CACHE_ENV, str(tmp_path / "cache"))
    fake = tmp_path / "runc"
    fake.write_text("#!/bin/sh\necho runc version 1.1.5\n")
    fake.chmod(0o755)
    asked: list[list[str]] = []
    real = first_line

    def counting(argv: list[str]) -> str | None:
        asked.append(argv)
        return real(argv)

    monkeypatch.setattr(runc_rt, "first_line", counting)
    assert runc_rt.Runc(str(fake)).version() == "runc version 1.1.5"
    assert runc_rt.Runc(str(fake)).version() == "runc version 1.1.5"
    assert len(asked) == 1
    fake.write_text("#!/bin/sh\necho runc version 1.2.10\n")  # upgraded in place: another size and mtime
    assert runc_rt.Runc(str(fake)).version() == "runc version 1.2.10"
    assert len(asked) == 2
    fake.write_text("#!/bin/sh\nexit 1\n")
    assert not runc_rt.Runc(str(fake)).available()
    assert not runc_rt.Runc(str(tmp_path / "missing")).available()


def test_runc_and_runsc_versions_are_remembered_side_by_side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # both OCI runtimes share the memo file: each keeps its own entry, so alternating them spawns neither
    monkeypatch.setenv(contract.CACHE_ENV, str(tmp_path / "cache"))
    spawned: list[str] = []

    def asked(argv: list[str]) -> str:
        spawned.append(argv[0])
        return f"{Path(argv[0]).name} version 1"

    monkeypatch.setattr(runc_rt, "first_line", asked)
    binaries = []
    for name in ("runc", "runsc"):
        binary = tmp_path / name
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
        binaries.append(str(binary))
    for _ in range(2):
        assert [runc_rt.version_of(b) for b in binaries] == ["runc version 1", "runsc version 1"]
    assert spawned == binaries
    Path(binaries[0]).write_text("#!/bin/sh\n# upgraded\n")  # a replaced binary is asked again
    assert runc_rt.version_of(binaries[0]) == "runc version 1"
    assert spawned == [*binaries, binaries[0]]
    assert len(json.loads((tmp_path / "cache" / "runc-version.json").read_bytes())) == 2
