"""The mutation suite covers every probe: a probe no weakening targets is a probe never
shown to FAIL (tests/test_engine.py runs each weakening on Docker and runc)."""

from __future__ import annotations

from pathlib import Path

from sandproof import matrix, plan, profile, runtime_defaults, weaken
from sandproof.inspector.catalog import OUTSIDE_PROBES, PROBES
from sandproof.render import oci
from sandproof.runtime.interface import NO_MUTATION
from sandproof.weaken import filesystem, gvisor
from sandproof.weaken import runsc as runsc_only


def test_every_inside_probe_is_the_target_of_a_weakening() -> None:
    targets = {w.probe_id for w in weaken.WEAKENINGS}
    inside = {p["probe_id"] for p in plan.probes(profile.load("default"), "docker")}
    assert inside == set(PROBES) - OUTSIDE_PROBES
    assert inside <= targets, sorted(inside - targets)


def test_each_weakening_changes_the_profile_or_the_run() -> None:
    base = profile.load("default")
    names = [w.name for w in weaken.WEAKENINGS]
    assert len(names) == len(set(names))
    for w in weaken.WEAKENINGS:
        claim = profile.load(w.base) if w.base else base
        changed_run = w.mutation != NO_MUTATION or w.setup is not None
        assert (w.apply(claim).digest != claim.digest) != changed_run, w.name


def test_a_weakening_made_to_another_profile_names_a_shipped_one() -> None:
    for w in weaken.WEAKENINGS:
        assert w.base is None or w.base in profile.SHIPPED, w.name


def test_every_target_is_a_probe_or_a_bound_check() -> None:
    known = set(PROBES) | set(matrix.BOUND_CHECKS)
    assert all(w.probe_id in known for w in weaken.WEAKENINGS)
    # the engine's own view is shown to FAIL by weakenings no probe inside sees
    assert {"docker", "runc"} <= {r for w in weaken.WEAKENINGS if w.probe_id == "engine-view" for r in w.runtimes}


def test_in_rslave_reads_the_mount_holding_the_inputs_source(tmp_path: Path) -> None:
    """in-rslave's "no effect" is measured on the host mount that holds /in's source (the temp
    dir), not on / (review 15): a shared / above a private /tmp still gives the slave no master."""
    info = tmp_path / "mountinfo"
    root = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    tmp = "30 22 0:40 / /tmp rw,nosuid{tag} - tmpfs tmpfs rw\n"
    info.write_text(root + tmp.format(tag=""))
    why = filesystem._private_mount_of("/tmp/sandproof-run-x/in", str(info))
    assert why is not None
    assert why.startswith("the host's /tmp, which holds /in's source, is a private mount")
    info.write_text(root + tmp.format(tag=" shared:7"))
    assert filesystem._private_mount_of("/tmp/sandproof-run-x/in", str(info)) is None
    assert filesystem._private_mount_of("/var/tmp/x", str(info)) is None  # held by the shared /
    info.write_text(root.replace(" shared:1", ""))
    assert "the host's /, which holds" in (filesystem._private_mount_of("/var/tmp/x", str(info)) or "")
    # the host's own lines: an nsfs bind (its root no path), a point with an escaped space, a
    # second mount over a point (the last one is on top)
    nsfs = "52 27 0:4 net:[4026531833] /run/docker/netns/default rw - nsfs nsfs rw\n"
    spaced = "31 22 0:41 / /srv/my\\040dir rw shared:9 - tmpfs tmpfs rw\n"
    info.write_text(root + nsfs + spaced + tmp.format(tag=" shared:7") + tmp.format(tag="").replace("30 ", "33 "))
    assert filesystem._private_mount_of("/srv/my dir/in", str(info)) is None
    assert (filesystem._private_mount_of("/tmp/x", str(info)) or "").startswith("the host's /tmp, which holds")


def test_unmasking_weakenings_take_a_whole_list_off_and_leave_the_other() -> None:
    """``filesystem.unlisted`` with no path (unmasked-paths, proc-sys-writable) empties its
    list alone; hunt's weakenings take one path off (tests/test_weaken_hunt.py)."""
    base = oci.config(profile.load("default"), in_dir="/i", out_dir="/o", run_date="2026-11-29")
    for name, emptied, kept in (
        ("unmasked-paths", "maskedPaths", "readonlyPaths"),
        ("proc-sys-writable", "readonlyPaths", "maskedPaths"),
    ):
        edit = next(w for w in weaken.WEAKENINGS if w.name == name).mutation.oci
        assert edit is not None
        cfg = oci.config(profile.load("default"), in_dir="/i", out_dir="/o", run_date="2026-11-29")
        edit(cfg)
        assert base["linux"][emptied], name  # there was something to take off
        assert cfg["linux"][emptied] == [], name
        assert cfg["linux"][kept] == base["linux"][kept], name


def test_every_probe_runsc_passes_is_weakened_there_or_says_why_it_cannot_be() -> None:
    """Every probe runsc plans and PASSes unweakened is the target of a weakening caught on runsc
    (RUNSC, gvisor.AIMED, weaken/runsc.py), or gvisor.UNWEAKENABLE says why none can exist at
    this runsc; never both, and never a probe runsc does not plan or PASS."""
    planned = {p["probe_id"] for p in plan.probes(profile.load("default"), "runsc")}
    passing = planned - set(runtime_defaults.RUNSC_TRUE_FAILS) - set(runtime_defaults.RUNSC_UNVERIFIED)
    credited = {
        w.target("runsc") for w in weaken.WEAKENINGS if "runsc" in w.runtimes and w.name not in weaken.RUNSC_INERT
    }
    reasons = set(gvisor.UNWEAKENABLE)
    assert passing - credited == reasons, (sorted(passing - credited - reasons), sorted(reasons - passing))
    assert not credited & reasons
    assert all(len(why) > 80 and ".go" in why for why in gvisor.UNWEAKENABLE.values())


def test_runscs_own_weakenings_run_on_runsc_alone() -> None:
    """A runsc flag or a host file the gofer serves: runc has no such flag (its argv refuses
    them) and would see another sandbox; each names a probe runc's weakenings miss on runsc."""
    for w in runsc_only.WEAKENINGS:
        assert w.runtimes == ("runsc",), w.name
        assert w.name not in weaken.RUNSC | weaken.RUNSC_INERT, w.name
        assert w.probe_id not in gvisor.UNWEAKENABLE, w.name
    flags = [f for w in runsc_only.WEAKENINGS for f in w.mutation.runsc_flags]
    assert flags
    assert all(f.startswith("--") for f in flags)


def test_every_runsc_weakening_is_runcs_too_or_runscs_own() -> None:
    """A name in RUNSC or RUNSC_INERT that no weakening has would drop it from runsc silently
    (a unit test: tests/test_runsc.py runs on the engine only)."""
    on_runsc = [w for w in weaken.WEAKENINGS if "runsc" in w.runtimes]
    own = {w.name for w in runsc_only.WEAKENINGS}
    assert {w.name for w in on_runsc} == weaken.RUNSC | weaken.RUNSC_INERT | own
    assert all("runc" in w.runtimes for w in on_runsc if w.name not in own)
