"""attest --image without an engine: what the plan, the renderers and the verifier derive
from a recorded user's image (workload/carried.py), and the probes' walk judgement."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest

from sandproof import mountplan_gvisor, plan, profile, provenance
from sandproof.inspector import judge
from sandproof.render import docker, oci
from sandproof.workload import carried
from sandproof.workload.carried import Workload

DEFAULT = profile.load("default")
IMAGE_ID = "sha256:" + "a" * 64
WL = Workload("busybox", IMAGE_ID, "65532:65532", "", "sha256:" + "b" * 64, "/cache/harness/" + "b" * 32)
CARRIED = profile.with_workload(DEFAULT, "busybox")


def test_the_key_is_optional_and_leaves_older_digests_alone() -> None:
    assert DEFAULT.image.workload is None
    assert CARRIED.digest != DEFAULT.digest
    text = DEFAULT.text.replace('workdir = "/app"\n', 'workdir = "/app"\nworkload = "busybox"\n', 1)
    parsed = profile.parse(text, "p.toml")
    assert parsed.image.workload == "busybox"
    assert parsed.digest == CARRIED.digest  # the flag and the key are the same profile


@pytest.mark.parametrize("runtime", list(carried.MOUNT_FLAGS))  # the runtimes that can carry it
def test_the_plan_expects_the_carried_harness(runtime: str) -> None:
    rows = plan.expectations(CARRIED, runtime, WL)
    mounts = {m["point"]: m for m in rows["PR-MOUNT-1"]["expect"]["mounts"]}
    m = mounts[carried.MOUNT_POINT]
    flags = carried.MOUNT_FLAGS[runtime]
    if runtime == "runsc":  # the sentry prints only noexec of the bind's flags
        flags = mountplan_gvisor.shown(flags)
    assert (m["ro"], m["flags"], m["root"]) == (True, sorted(flags), "*/harness/" + "b" * 32)
    argv = rows["PR-PROC-1"]["expect"]["argv"]
    assert argv[:6] == [
        carried.loader(),
        "--library-path",
        carried.library_path(),
        "--argv0",
        carried.PYTHON,
        carried.PYTHON,
    ]
    assert all(p.startswith(carried.MOUNT_POINT + "/") for p in rows["PR-INTEGRITY-1"]["expect"]["files"])
    assert rows["PR-FS-ESC-2"]["params"]["path"] == "/__probe"  # the image's WorkingDir ("" = /)
    assert carried.MOUNT_POINT not in {
        m["point"] for m in plan.expectations(DEFAULT, runtime)["PR-MOUNT-1"]["expect"]["mounts"]
    }
    # the recorded image and harness name the plan: another of either is another plan
    other = dataclasses.replace(WL, image_id="sha256:" + "c" * 64)
    assert plan.build(CARRIED, runtime, WL)["sha256"] != plan.build(CARRIED, runtime, other)["sha256"]


def test_the_renderers_carry_the_harness() -> None:
    argv = docker.argv(CARRIED, in_dir="/i", out_dir="/o", seccomp_file="/s", run_date="2026-11-28", workload=WL)
    at = argv.index(IMAGE_ID)
    assert argv[at - 2 : at] == ["--entrypoint", carried.loader()]
    assert f"type=bind,source={WL.harness_tree},target=/.sandproof,readonly" in argv
    assert argv[at + 1 :] == plan.process_args(CARRIED, "2026-11-28", "docker", WL)[1:]
    cfg = oci.config(CARRIED, in_dir="/i", out_dir="/o", run_date="2026-11-28", workload=WL)
    assert cfg["process"]["cwd"] == "/"
    assert cfg["process"]["args"][0] == carried.loader()
    assert cfg["mounts"][-1] == WL.oci_mount()
    assert not any(e.startswith("LD_") for e in cfg["process"]["env"])
    # the carried harness starts in the C locale: the image's locale files are never read
    assert argv[argv.index("--env") : argv.index("--env") + 2] == ["--env", "LC_ALL=C"]
    assert "LC_ALL=C" in cfg["process"]["env"]
    plain = oci.config(DEFAULT, in_dir="/i", out_dir="/o", run_date="2026-11-28")
    assert not any(e.startswith("LC_") for e in plain["process"]["env"])
    assert "LC_ALL=C" not in docker.argv(DEFAULT, in_dir="/i", out_dir="/o", seccomp_file="/s", run_date="2026-11-28")


@pytest.mark.parametrize("runtime", list(carried.MOUNT_FLAGS))
def test_the_carried_harnesss_locale_is_expected_with_its_value(runtime: str) -> None:
    """PR-ENV-1 expects the carried harness's LC_ALL, value included (a C.UTF-8 there would read
    the image's locale); not in sandproof's own image, and a profile's own LC_ALL stands."""
    env = plan.expectations(CARRIED, runtime, WL)["PR-ENV-1"]
    assert "LC_ALL" in env["expect"]["names"]
    assert env["params"]["runtime_values"]["LC_ALL"] == env["expect"]["runtime_values"]["LC_ALL"] == "C"
    assert "LC_ALL" not in plan.expectations(DEFAULT, runtime)["PR-ENV-1"]["expect"]["names"]
    keys = sorted(env["expect"]["names"])
    matches = dict.fromkeys(env["expect"]["runtime_values"], True)
    ok = judge.judge(env["kind"], env["expect"], {"keys": keys, "runtime_values": matches, "hostname": "x"})
    assert "LC_ALL" not in ok.reason
    wrong = {"keys": keys, "runtime_values": {"LC_ALL": False}, "hostname": "x"}
    assert "LC_ALL does not hold" in judge.judge(env["kind"], env["expect"], wrong).reason
    gone = {"keys": [k for k in keys if k != "LC_ALL"], "runtime_values": {}, "hostname": "x"}
    assert "variables missing: ['LC_ALL']" in judge.judge(env["kind"], env["expect"], gone).reason
    coerced = {"keys": sorted([*keys, "LC_CTYPE"]), "runtime_values": {}, "hostname": "x"}
    assert "does not declare: ['LC_CTYPE']" in judge.judge(env["kind"], env["expect"], coerced).reason
    text = DEFAULT.text.replace("variables = {}", 'variables = { LC_ALL = "X" }', 1)
    own = profile.with_workload(profile.parse(text, "p.toml"), "busybox")
    assert carried.env(own.environment.variables) == {}
    assert "LC_ALL" not in plan.expectations(own, runtime, WL)["PR-ENV-1"]["expect"]["runtime_values"]


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        ({"image_id": "sha256:zz"}, "not sha256"),
        ({"extra": "x"}, "exactly the string fields"),
        ({"user": 0}, "exactly the string fields"),
        ({"harness_tree": "relative"}, "not an absolute path"),
        ({"workdir": "app"}, "workdir is not absolute"),
    ],
)
def test_a_malformed_workload_record_is_refused(edit: dict[str, Any], why: str) -> None:
    found = carried.from_record({**WL.record(), **edit})
    assert isinstance(found, str)
    assert why in found
    assert carried.from_record(WL.record()) == WL


class _Data:
    """The two fields workload_check reads of an evidence bundle."""

    def __init__(self, image_digest: str, workload: dict[str, str]) -> None:
        self.image_digest, self.workload = image_digest, workload


@pytest.mark.parametrize(
    ("prof", "wl", "ran", "verdict", "why"),
    [
        (CARRIED, WL, IMAGE_ID, "PASS", "configured user '65532:65532'"),
        (DEFAULT, WL, IMAGE_ID, "FAIL", "the profile names none"),
        (profile.with_workload(DEFAULT, "example"), WL, IMAGE_ID, "FAIL", "the profile names 'example'"),
        (profile.with_workload(DEFAULT, "sha256:" + "d" * 64), WL, IMAGE_ID, "FAIL", "the profile names"),
        (CARRIED, WL, "sha256:" + "e" * 64, "FAIL", "the engine ran"),
        (CARRIED, dataclasses.replace(WL, user=""), IMAGE_ID, "FAIL", "run as root"),
        (CARRIED, dataclasses.replace(WL, user="root:root"), IMAGE_ID, "FAIL", "run as root"),
        # moby parses a numeric User with Atoi: "00" and "0000:0" are uid 0 as much as "0" is
        (CARRIED, dataclasses.replace(WL, user="00"), IMAGE_ID, "FAIL", "run as root"),
        (CARRIED, dataclasses.replace(WL, user="0000:0"), IMAGE_ID, "FAIL", "run as root"),
        (CARRIED, dataclasses.replace(WL, user="100"), IMAGE_ID, "PASS", "configured user '100'"),
        # the one file of the image the carried loader reads, read by attest from outside
        (CARRIED, dataclasses.replace(WL, preload="/lib/x.so"), IMAGE_ID, "FAIL", "names '/lib/x.so'"),
    ],
)
def test_the_workload_check(prof: profile.Profile, wl: Workload, ran: str, verdict: str, why: str) -> None:
    data: Any = _Data(ran, wl.record())  # a stand-in with the two fields it reads
    got = provenance.workload_check(data, prof, wl)
    assert (got.verdict, why in got.reason) == (verdict, True), got.reason


def test_a_record_without_preload_is_an_older_ones() -> None:
    """Records an older sandproof wrote have no "preload": still read (as none found); a record
    with it must hold a string."""
    old = {k: v for k, v in WL.record().items() if k != "preload"}
    assert carried.from_record(old) == dataclasses.replace(WL, preload="")
    assert carried.from_record({**old, "preload": "/lib/x.so"}) == dataclasses.replace(WL, preload="/lib/x.so")
    assert isinstance(carried.from_record({**old, "preload": 1}), str)
    assert isinstance(carried.from_record({**old, "preloaded": ""}), str)


def test_a_profile_naming_an_image_needs_the_record() -> None:
    data: Any = _Data(IMAGE_ID, {})
    got = provenance.workload_check(data, CARRIED, None)
    assert got.verdict == "FAIL"


WALK = {"setid": [], "sockets": [], "devices": [], "unreadable": ["/root"], "complete": True, "scanned": 9}


@pytest.mark.parametrize("pid", ["PR-WW-1", "PR-FCAP-1"])
def test_the_image_walk_probes(pid: str) -> None:
    row = plan.expectations(DEFAULT, "runc")[pid]
    clean = {**WALK, "world_writable": ["/tmp", "/dev/mqueue"], "file_caps": [], "searchable": []}
    assert judge.judge(row["kind"], row["expect"], clean).verdict == "PASS"
    flawed = {**clean, "world_writable": ["/tmp", "/srv"], "file_caps": ["/bin/pinger"]}
    got = judge.judge(row["kind"], row["expect"], flawed)
    assert got.verdict == "FAIL"
    assert ("/srv" if pid == "PR-WW-1" else "/bin/pinger") in got.reason
    assert judge.judge(row["kind"], row["expect"], WALK).verdict == "ERROR"  # an older walk: not PASS


@pytest.mark.parametrize("pid", ["PR-SUID-1", "PR-SOCK-ANY", "PR-WW-1", "PR-FCAP-1"])
def test_a_walk_that_cannot_see_everything_fails(pid: str) -> None:
    """The expected unlistable /root, but enterable (mode 0711): a name in it is reachable and no
    listing shows it. A file listed in a directory it cannot enter (0744) is unseen, not absent."""
    row = plan.expectations(DEFAULT, "runc")[pid]
    assert row["expect"]["searchable"] == []
    clean = {**WALK, "world_writable": ["/tmp", "/dev/mqueue"], "file_caps": [], "searchable": []}
    assert judge.judge(row["kind"], row["expect"], clean).verdict == "PASS"
    got = judge.judge(row["kind"], row["expect"], {**clean, "searchable": ["/root"]})
    assert (got.verdict, "it can enter" in got.reason, "/root" in got.reason) == ("FAIL", True, True)
    got = judge.judge(row["kind"], row["expect"], {**clean, "unreadable": ["/opt/r/helper", "/root"]})
    assert (got.verdict, "/opt/r/helper" in got.reason) == ("FAIL", True)
    no_list = {k: v for k, v in clean.items() if k != "searchable"}
    assert judge.judge(row["kind"], row["expect"], no_list).verdict == "ERROR"  # an older walk: not PASS
    older_plan = {k: v for k, v in row["expect"].items() if k != "searchable"}
    assert judge.judge(row["kind"], older_plan, no_list).verdict == "PASS"  # recorded bundles still verify


def test_only_the_profiles_own_writable_mounts_may_be_world_writable() -> None:
    assert plan.world_writable(DEFAULT) == ["/dev/mqueue", "/tmp"]  # ipc none: no /dev/shm
    shm = dataclasses.replace(DEFAULT, ipc=dataclasses.replace(DEFAULT.ipc, mode="private"))
    assert plan.world_writable(shm) == ["/dev/mqueue", "/dev/shm", "/tmp"]


PASSWD = (
    b"root:x:0:0:root:/root:/sbin/nologin\n toor:x:0:0::/:/sbin/nologin \n"
    b"odd:x:abc:1::/:/x\nnonroot:x:65532:65532::/:/x\n"
)


@pytest.mark.parametrize(
    ("user", "passwd", "uid"),
    [
        ("", PASSWD, "0"),
        ("toor", PASSWD, "0"),  # a name /etc/passwd maps to uid 0 (spaces trimmed, as runc does)
        ("toor:nonroot", PASSWD, "0"),
        ("odd", PASSWD, "0"),  # runc's parseParts reads a uid field that is no number as 0
        ("nonroot", PASSWD, "65532"),
        ("+0", PASSWD, "0"),  # Go's Atoi takes a sign: "+0" and "-0" are uid 0, whatever passwd says
        ("-0", None, "0"),
        ("0065532", None, "65532"),
        ("nonroot", None, "?'nonroot' with no /etc/passwd in the image"),
        ("ghost", PASSWD, "?'ghost' is not in the image's /etc/passwd"),
        ("-1", PASSWD, "?'-1' is out of the range of uids"),
        ("\u0660", PASSWD, "?'\u0660' is not in the image's /etc/passwd"),  # Arabic-Indic zero: no Atoi number
    ],
)
def test_the_images_user_is_resolved_as_the_engines_do(user: str, passwd: bytes | None, uid: str) -> None:
    assert carried.resolve_uid(user, passwd) == uid


@pytest.mark.parametrize(
    ("uid", "verdict", "why"),
    [
        ("65532", "PASS", "configured user"),
        ("0", "FAIL", "uid 0 in the image"),
        ("?'ghost' is not in the image's /etc/passwd", "FAIL", "names no uid: 'ghost' is not"),
        ("x1", "FAIL", "run as root"),  # malformed: never a pass
        ("", "PASS", "configured user"),  # an older record: the spellings alone
    ],
)
def test_the_workload_check_judges_the_resolved_uid(uid: str, verdict: str, why: str) -> None:
    wl = dataclasses.replace(WL, user="toor", user_uid=uid)
    data: Any = _Data(IMAGE_ID, wl.record())
    got = provenance.workload_check(data, CARRIED, wl)
    assert (got.verdict, why in got.reason) == (verdict, True), got.reason


def _with_config(cfg: dict[str, Any], **edit: str) -> Workload:
    text = json.dumps({"config": cfg, "rootfs": {"type": "layers", "diff_ids": []}})
    image_id = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return dataclasses.replace(WL, image_id=image_id, config=text, user_uid="65532", **edit)


def test_the_recorded_image_config_binds_user_workdir_and_ports() -> None:
    """The config hashes to the image ID, so the User and WorkingDir the verifier trusts are
    the image's own, and its EXPOSE lines are what Docker's view may show (nothing else)."""
    wl = _with_config({"User": "65532:65532", "ExposedPorts": {"8080/tcp": {}, "53/udp": {}}})
    assert carried.from_record(wl.record()) == wl
    assert carried.exposed_ports(wl) == ["53/udp", "8080/tcp"]
    assert carried.exposed_ports(WL) == []  # an older record: none
    lied = dataclasses.replace(wl, user="65533")
    assert "is not the image config's User" in str(carried.from_record(lied.record()))
    moved = dataclasses.replace(wl, workdir="/srv")
    assert "is not the image config's WorkingDir" in str(carried.from_record(moved.record()))
    other = dataclasses.replace(wl, image_id="sha256:" + "c" * 64)
    assert "does not hash to its image_id" in str(carried.from_record(other.record()))
    old = {k: v for k, v in wl.record().items() if k not in ("config", "user_uid")}
    assert carried.from_record(old) == dataclasses.replace(wl, config="", user_uid="")


def test_dockers_view_expects_exactly_the_images_exposed_ports() -> None:
    from sandproof.engineview import core as view_core  # noqa: PLC0415
    from sandproof.engineview.docker import DockerInspect  # noqa: PLC0415

    wl = _with_config({"User": "65532:65532", "ExposedPorts": {"8080/tcp": {}}})
    ctx = view_core.Context(image_id=wl.image_id, in_dir="/i", out_dir="/o", workload=wl)
    assert DockerInspect().expected(CARRIED, ctx)["Config.ExposedPorts"] == ["8080/tcp"]
