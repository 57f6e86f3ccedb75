"""Foreign workload images (issue 11 groundwork): built offline and reproducibly, run in the
default profile's sandbox on Docker and runc, and sandproof's own Python carried into them."""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import io
import json
import os
import subprocess
import tarfile
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sandproof import attest, image, profile, seccomp, verify
from sandproof.cli import main
from sandproof.runtime.interface import Mutation
from sandproof.workload import harness_mount, images, rendered, sandbox
from tests.conftest import RUN_DATE

DEFAULT = profile.load("default")
RUNTIMES = ("docker", "runc")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "packet-inspector"


def _example_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("packet_inspector", EXAMPLE / "app" / "packet_inspector.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"packet": "a"}', None),
        (b'{"packet": "a", "seq": 3, "source": "s", "payload": "p"}', None),
        (b'{"packet": "a", "packet": "b"}', "duplicate key 'packet'"),
        (b'{"packet": "a", "seq": NaN}', "non-finite number NaN"),
        (b'{"packet": "a", "seq": true}', "field 'seq' is bool, not int"),
        (b'{"packet": "a", "extra": 1}', "unknown field 'extra'"),
        (b'{"seq": 1}', "missing field 'packet'"),
        (b"[1]", "a JSON list, not an object"),
        (b"\xff", "not UTF-8 at byte 0"),
        (b'{"packet": ""}', "field 'packet' must be 1..4096 printable characters"),
    ],
)
def test_example_validates_packets(data: bytes, reason: str | None) -> None:
    mod = _example_module()
    if reason is None:
        assert mod.validate(data)["packet"] == "a"
    else:
        with pytest.raises(mod.Invalid, match="^" + reason.replace("(", r"\(")):
            mod.validate(data)


def test_busybox_image_has_no_interpreter_and_no_python() -> None:
    img = images.busybox()
    assert images.busybox().image_id == img.image_id  # reproducible
    with tarfile.open(img.layers[0]) as tar:
        names = tar.getnames()
        elf = tar.extractfile("./bin/busybox").read()  # type: ignore[union-attr]
    assert not [n for n in names if "python" in n or "/lib" in n]
    # static: an ELF with no PT_INTERP (type 3) among its program headers
    phoff, phentsize, phnum = int.from_bytes(elf[32:40], "little"), elf[54], int.from_bytes(elf[56:58], "little")
    types = [int.from_bytes(elf[phoff + i * phentsize : phoff + i * phentsize + 4], "little") for i in range(phnum)]
    assert elf[:4] == b"\x7fELF"
    assert 1 in types  # PT_LOAD
    assert 3 not in types


def test_example_image_is_reproducible_and_shares_the_base() -> None:
    a, b = images.packet_inspector(), images.packet_inspector()
    assert a.image_id == b.image_id
    assert a.layers[0] == images.base().layers[0]  # the same pinned Debian layer image build makes
    assert json.loads(a.config)["config"]["Entrypoint"] == list(images.EXAMPLE_ENTRYPOINT)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    """An input directory holding the example's packets, read-only; an output directory
    only the profile's user can write."""
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    for f in (EXAMPLE / "in").glob("*.json"):
        (in_dir / f.name).write_bytes(f.read_bytes())
        (in_dir / f.name).chmod(0o444)
    in_dir.chmod(0o555)
    out_dir.mkdir(mode=0o700)
    os.chown(out_dir, DEFAULT.user.uid, DEFAULT.user.gid)
    tmp_path.chmod(0o755)
    return in_dir, out_dir


def _run(
    runtime: str, img: image.Image, argv: list[str], dirs: tuple[Path, Path], work: Path, *, mount: bool = False
) -> tuple[int, bytes, bytes]:
    """``argv`` in ``img`` under the default profile's whole sandbox (seccomp included)."""
    in_dir, out_dir = dirs
    hm = harness_mount.build() if mount else None
    if runtime == "docker":
        image.ensure_docker(img)
        sf = work / "seccomp.json"
        sf.write_bytes(seccomp.render(DEFAULT))
        extra = hm.docker_args()[:2] if hm else []
        cmd = sandbox.docker_argv(
            DEFAULT, img, argv, in_dir=str(in_dir), out_dir=str(out_dir), seccomp_file=str(sf), extra=extra
        )
        env = {**os.environ, "DOCKER_CONFIG": str(work / "docker-config")}  # no proxy variables copied in
        p = subprocess.run(cmd, capture_output=True, env=env, timeout=120, check=False)
        return p.returncode, p.stdout, p.stderr
    cfg = sandbox.oci_config(
        DEFAULT,
        img,
        argv,
        rootfs=image.rootfs(img),
        in_dir=str(in_dir),
        out_dir=str(out_dir),
        cgroup=f"/sandproof/wl-{work.name}",
        mounts=[hm.oci_mount()] if hm else [],
    )
    ran = sandbox.run_runc(cfg, work)
    return ran.code, ran.stdout, ran.stderr


@pytest.mark.engine
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_example_runs_in_the_default_sandbox(runtime: str, dirs: tuple[Path, Path], tmp_path: Path) -> None:
    img = images.packet_inspector()
    code, out, err = _run(runtime, img, sandbox.command(img), dirs, tmp_path)
    assert (code, out) == (1, b"packet-inspector: 4 packets, 2 invalid\n"), err
    report = json.loads((dirs[1] / "report.json").read_text())
    assert [(p["file"], p["valid"]) for p in report["packets"]] == [
        ("bad-duplicate.json", False),
        ("bad-seq.json", False),
        ("packet.json", True),
        ("sensor.json", True),
    ]


@pytest.mark.engine("docker")
def test_example_image_loads_into_docker_with_its_id() -> None:
    img = images.packet_inspector()
    image.ensure_docker(img)
    got = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", img.name], capture_output=True, text=True, check=True
    )
    assert got.stdout.strip() == img.image_id


@pytest.mark.engine("docker")
def test_an_engine_image_is_saved_without_leaking_its_pipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    img = images.packet_inspector()
    image.ensure_docker(img)
    monkeypatch.setenv("SANDPROOF_CACHE", str(tmp_path / "cache"))  # not saved yet: `docker save` runs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        got = images.from_docker(img.name)
        gc.collect()
    assert got.image_id == img.image_id
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


PROBE = (
    "import ctypes, hashlib, json, os, ssl, sys; "
    "print(sys.executable, sys.prefix, os.getuid(), os.path.exists('/usr/bin/python3.11'))"
)


@pytest.mark.engine
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("which", ["busybox", "example"])
def test_carried_python_runs_in_a_foreign_image(
    runtime: str, which: str, dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    img = images.busybox() if which == "busybox" else images.packet_inspector()
    argv = harness_mount.build().python_argv("-c", PROBE)
    code, out, err = _run(runtime, img, argv, dirs, tmp_path, mount=True)
    has_own = "True" if which == "example" else "False"
    assert (code, out.decode()) == (0, f"/.sandproof/usr/bin/python3.11 /.sandproof/usr 65532 {has_own}\n"), err
    assert not any(a.startswith("LD_") for a in argv)


EVIDENCE = f"sandbox-attestation-evidence-local-{RUN_DATE}.json"


Attested = Callable[[str, str], tuple[int, str, Path]]


@pytest.fixture(scope="module")
def attested(tmp_path_factory: pytest.TempPathFactory) -> Attested:
    """``attest --image WHICH`` on a runtime, run once for the module: (exit code, what it
    printed, its output directory). The passing run and the edited image ID read the same one."""
    runs: dict[tuple[str, str], tuple[int, str, Path]] = {}

    def attest_once(runtime: str, which: str) -> tuple[int, str, Path]:
        if (runtime, which) not in runs:
            out = tmp_path_factory.mktemp(f"attest-{which}-{runtime}") / "out"
            argv = ["attest", "--runtime", runtime, "--image", which, "--out", str(out), "--run-date", RUN_DATE]
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                code = main(argv)
            runs[runtime, which] = (code, printed.getvalue(), out)
        return runs[runtime, which]

    return attest_once


@pytest.mark.engine
@pytest.mark.parametrize("runtime", [*RUNTIMES, "podman"])
@pytest.mark.parametrize("which", ["busybox", "example"])
def test_attest_image_passes_and_verifies(runtime: str, which: str, attested: Attested) -> None:
    """``attest --image``: every probe PASSes in the user's image, the harness carried in at
    /.sandproof; ``verify --image`` recomputes it all from the evidence and the profile."""
    code, printed, out = attested(runtime, which)
    assert code == 0, printed
    inside = json.loads((out / "sandbox-attestation-inside.json").read_text())
    ev = json.loads((out / EVIDENCE).read_text())
    img = images.resolve(which)
    wl = ev["workload"]
    assert (wl["ref"], wl["image_id"], ev["image_digest"]) == (which, img.image_id, img.image_id)
    assert wl["harness_digest"] == harness_mount.build().digest
    n = len(inside["probes"])
    assert inside["summary"] == {"total": n, "pass": n, "fail": 0, "unverified": 0, "error": 0}
    carried_mount = [ln.split() for ln in inside["raw"]["mountinfo"].splitlines() if ln.split()[4] == "/.sandproof"]
    assert len(carried_mount) == 1
    assert carried_mount[0][5].split(",")[0] == "ro"  # judged by PR-MOUNT-1 like any other mount
    assert main(["verify", str(out / EVIDENCE), "--profile", "default", "--image", which]) == 0
    assert main(["verify", str(out / EVIDENCE)]) == 1  # the default profile names no user's image


@pytest.mark.engine
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_edited_image_id_fails_verify(runtime: str, attested: Attested) -> None:
    _, _, out = attested(runtime, "busybox")
    prof = profile.with_workload(DEFAULT, "busybox")
    ev = json.loads((out / EVIDENCE).read_text())
    other = "sha256:" + "0" * 64
    for edit in ("record", "both"):
        doc = json.loads(json.dumps(ev))
        doc["workload"]["image_id"] = other
        if edit == "both":
            doc["image_digest"] = other
        report = verify.verify(doc, prof)
        failed = {c.name for c in report.checks if c.verdict != "PASS"}
        assert report.verdict == "FAIL"
        assert failed & {"workload", "plan", "rendered", "image"}, failed


@pytest.mark.engine
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(("flaw", "probe"), [("setuid", "PR-SUID-1"), ("fcap", "PR-FCAP-1"), ("ww", "PR-WW-1")])
def test_a_flawed_user_image_fails_its_probe(runtime: str, flaw: str, probe: str, tmp_path: Path) -> None:
    """A user's image with a setuid file, a file capability or a world-writable directory:
    exactly that probe FAILs, on both runtimes (runc's rootfs keeps the layer's xattr)."""
    prof = profile.with_workload(DEFAULT, f"busybox-{flaw}")
    result = attest.attest(prof, runtime=runtime, out=tmp_path / "out", run_date=RUN_DATE)
    failed = {p.probe_id for p in result.report.probes if p.verdict != "PASS"}
    assert failed == {probe}
    assert all(c.verdict == "PASS" for c in result.report.checks if c.name != "exit-code"), result.report.checks


@pytest.mark.engine
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(
    ("which", "why"),
    [
        ("root0711", "unlistable directories it can enter (names in them reachable, unseen): ['/root']"),
        ("dir0744", "paths the walk cannot see into ['/opt/helper', '/root']"),
    ],
)
def test_a_setuid_file_the_walk_cannot_see_is_caught(runtime: str, which: str, why: str, tmp_path: Path) -> None:
    """A setuid file hidden from the walk: in a /root of mode 0711 (the expected unlistable
    directory, yet enterable: the name reachable, no listing shows it), or in a directory of mode
    0744 (listed, not enterable). Every walk FAILs naming where it could not see, PR-ROOTFS-1
    (the image's tree, read from outside) too."""
    prof = profile.with_workload(DEFAULT, f"busybox-{which}")
    result = attest.attest(prof, runtime=runtime, out=tmp_path / "out", run_date=RUN_DATE)
    failed = {p.probe_id: p.reason for p in result.report.probes if p.verdict != "PASS"}
    assert set(failed) == {"PR-SUID-1", "PR-SOCK-ANY", "PR-WW-1", "PR-FCAP-1", "PR-ROOTFS-1"}, failed
    assert all(why in reason for reason in failed.values()), failed  # PR-ROOTFS-1: the same walk's


@pytest.mark.engine
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_user_image_that_preloads_a_library_into_the_harness_is_caught(runtime: str, tmp_path: Path) -> None:
    """A hostile image's /etc/ld.so.preload reaches the carried harness too (ld.so reads it from
    the container's root): PR-INTEGRITY-1 names the library, and the verifier then believes no
    other observation of that process."""
    prof = profile.with_workload(DEFAULT, "busybox-preload")
    result = attest.attest(prof, runtime=runtime, out=tmp_path / "out", run_date=RUN_DATE)
    failed = {p.probe_id: p.reason for p in result.report.probes if p.verdict != "PASS"}
    assert set(failed) == {"PR-INTEGRITY-1"}
    assert "/lib/libinject.so" in failed["PR-INTEGRITY-1"]
    checks = {c.name: c.reason for c in result.report.checks if c.verdict != "PASS"}
    assert "process-integrity" in checks
    # and from outside, whatever the library does inside: attest read the image's file itself
    assert "/etc/ld.so.preload names '/lib/libinject.so'" in checks["workload"]
    assert json.loads(result.evidence_path.read_text())["workload"]["preload"] == "/lib/libinject.so"


def _carried_rw_docker(argv: list[str]) -> None:
    argv[:] = [a.replace(",readonly", "") if "target=/.sandproof" in a else a for a in argv]


def _carried_rw_oci(cfg: dict[str, Any]) -> None:
    for m in cfg["mounts"]:
        if m["destination"] == "/.sandproof":
            m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]


@pytest.mark.engine
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_carried_harness_mounted_read_write_is_caught(runtime: str, tmp_path: Path) -> None:
    """A weakening of the carried mount itself: /.sandproof bound read-write FAILs PR-MOUNT-1."""
    prof = profile.with_workload(DEFAULT, "example")
    weak = Mutation(docker=_carried_rw_docker, oci=_carried_rw_oci)
    result = attest.attest(prof, runtime=runtime, out=tmp_path / "out", run_date=RUN_DATE, mutation=weak)
    failed = {p.probe_id: p.reason for p in result.report.probes if p.verdict != "PASS"}
    assert set(failed) == {"PR-MOUNT-1"}
    assert "/.sandproof: read-write" in failed["PR-MOUNT-1"]


def _healthcheck_kept(argv: list[str]) -> None:
    argv.remove("--no-healthcheck")


@pytest.mark.engine("docker")
def test_a_user_images_healthcheck_never_runs_in_the_sandbox(tmp_path: Path) -> None:
    """An image's HEALTHCHECK is a command of the image's choosing the engine would run inside
    every second: attest starts a user's image with --no-healthcheck and the engine view
    requires the engine to record the test NONE; a run that lets it through FAILs that view."""
    prof = profile.with_workload(DEFAULT, "busybox-healthcheck")
    result = attest.attest(prof, runtime="docker", out=tmp_path / "out", run_date=RUN_DATE)
    assert "--no-healthcheck" in json.loads(result.evidence_path.read_text())["argv"]
    assert result.report.verdict == "PASS", [(c.name, c.reason) for c in result.report.checks if c.verdict != "PASS"]
    weak = Mutation(docker=_healthcheck_kept)
    result = attest.attest(prof, runtime="docker", out=tmp_path / "weak", run_date=RUN_DATE, mutation=weak)
    failed = {c.name: c.reason for c in result.report.checks if c.verdict != "PASS"}
    assert "engine-view" in failed
    assert "Healthcheck" in failed["engine-view"]


def test_a_user_images_run_never_starts_its_healthcheck() -> None:
    """``sandproof run`` (and its receipt check) renders the same flag before the image."""
    image_id = "sha256:" + "a" * 64
    argv = rendered.docker_argv(DEFAULT, image_id, ["/bin/true"], in_dir="/i", out_dir="/o", seccomp_file="/s")
    assert argv.index("--no-healthcheck") < argv.index(image_id)


@pytest.mark.engine
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_user_image_that_exposes_a_port_passes(runtime: str, tmp_path: Path) -> None:
    """EXPOSE 8080 in a user's image: Docker copies it into the container's Config.ExposedPorts
    (with no network it opens nothing). The view expects exactly the ports of the image's config,
    which the evidence carries and the verifier hashes to the image ID: no false FAIL."""
    prof = profile.with_workload(DEFAULT, "busybox-expose")
    result = attest.attest(prof, runtime=runtime, out=tmp_path / "out", run_date=RUN_DATE)
    assert result.report.verdict == "PASS", [(c.name, c.reason) for c in result.report.checks if c.verdict != "PASS"]
    if runtime == "docker":  # one port more than the image's: the view names it
        weak = Mutation(docker=lambda argv: argv.insert(argv.index("--network"), "--expose=9999"))
        result = attest.attest(prof, runtime=runtime, out=tmp_path / "weak", run_date=RUN_DATE, mutation=weak)
        checks = {c.name: c.reason for c in result.report.checks if c.verdict != "PASS"}
        assert '"9999/tcp", not in the profile' in checks["engine-view"], checks


@pytest.mark.engine
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_user_image_whose_user_is_root_by_another_name_fails(runtime: str, tmp_path: Path) -> None:
    """USER toor, and the image's /etc/passwd maps toor to uid 0: the image is configured to
    run as root (attest resolves the name from the image as runc's libcontainer/user does)."""
    prof = profile.with_workload(DEFAULT, "busybox-toor")
    result = attest.attest(prof, runtime=runtime, out=tmp_path / "out", run_date=RUN_DATE)
    failed = {c.name: c.reason for c in result.report.checks if c.verdict != "PASS"}
    assert set(failed) == {"workload"}, failed
    assert "configured to run as root (toor: uid 0 in the image)" in failed["workload"]
    assert json.loads(result.evidence_path.read_text())["workload"]["user_uid"] == "0"


def _locale_kept_docker(argv: list[str]) -> None:
    at = argv.index("LC_ALL=C")
    del argv[at - 1 : at + 1]


def _locale_kept_oci(cfg: dict[str, Any]) -> None:
    cfg["process"]["env"].remove("LC_ALL=C")


LOCALES = {
    # every Debian 12 image has /usr/lib/locale/C.utf8: CPython's C-locale coercion (PEP 538)
    # mapped the image's LC_CTYPE and set LC_CTYPE (PR-ENV-1 and PR-INTEGRITY-1 FAILed)
    "busybox-locale": "/usr/lib/locale/C.utf8/LC_CTYPE",
    # a locale named UTF-8 (the last name the coercion tries) whose charset is BIG5, and the
    # image's own gconv module for it: glibc dlopened the image's BIG5.so into the harness
    "busybox-gconv": f"/{images.GCONV_DIR}/BIG5.so",
}


@pytest.mark.engine
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("image", sorted(LOCALES))
def test_an_images_locale_is_never_read_nor_its_code_loaded(runtime: str, image: str, tmp_path: Path) -> None:
    """The carried harness starts with LC_ALL=C: no file of the image's locale is read and it
    PASSes; the same run without that variable maps the image's file again, and misses LC_ALL."""
    prof = profile.with_workload(DEFAULT, image)
    result = attest.attest(prof, runtime=runtime, out=tmp_path / "out", run_date=RUN_DATE)
    assert result.report.verdict == "PASS", _not_passed(result)
    weak = Mutation(docker=_locale_kept_docker, oci=_locale_kept_oci)
    result = attest.attest(prof, runtime=runtime, out=tmp_path / "weak", run_date=RUN_DATE, mutation=weak)
    failed = {p.probe_id: p.reason for p in result.report.probes if p.verdict != "PASS"}
    assert f"{LOCALES[image]} is mapped but not a file of the image" in failed["PR-INTEGRITY-1"]
    assert "variables missing: ['LC_ALL']" in failed["PR-ENV-1"]


@pytest.mark.engine
@pytest.mark.parametrize("runtime", [*RUNTIMES, "podman"])
def test_a_user_images_env_preloading_a_library_is_caught_from_outside(runtime: str, tmp_path: Path) -> None:
    """ENV LD_PRELOAD in a user's image: Docker and podman pass the image's ENV, and the carried
    loader preloads the library before Python starts (where it could hide itself from every
    probe); the engine's own view names the variable from outside. runc is given the profile's
    environment alone: the library is a file of the image and nothing more."""
    prof = profile.with_workload(DEFAULT, "busybox-ldenv")
    result = attest.attest(prof, runtime=runtime, out=tmp_path / "out", run_date=RUN_DATE)
    if runtime == "runc":
        assert result.report.verdict == "PASS", _not_passed(result)
        return
    checks = {c.name: c.reason for c in result.report.checks if c.verdict != "PASS"}
    assert '"LD_PRELOAD", not in the profile' in checks["engine-view"], checks


def _not_passed(result: attest.Attestation) -> list[tuple[str, str]]:
    return [(p.probe_id, p.reason) for p in result.report.probes if p.verdict != "PASS"]


@pytest.mark.engine("podman")
def test_a_docker_image_of_two_layers_loads_into_podman(tmp_path: Path) -> None:
    """A user's image read from Docker (docker save: each layer at <v1 id>/layer.tar) and run
    under podman: the load archive named both layers layer/layer.tar and podman refused it."""
    img = images.localed("locale")  # two layers, a Debian locale in the second
    image.ensure_docker(img)
    tag = f"sandproof-test/two-layers:{os.getpid()}"
    subprocess.run(["docker", "tag", img.image_id, tag], check=True, capture_output=True)
    try:
        assert len(images.from_docker(tag).layers) == 2
        prof = profile.with_workload(DEFAULT, tag)
        result = attest.attest(prof, runtime="podman", out=tmp_path / "out", run_date=RUN_DATE)
        assert result.report.verdict == "PASS", _not_passed(result)
    finally:
        subprocess.run(["docker", "image", "rm", tag], check=False, capture_output=True)
