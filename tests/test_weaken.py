"""The mutation suite covers every probe: a probe no weakening targets is a probe never
shown to FAIL (tests/test_engine.py runs each weakening on Docker and runc)."""

from __future__ import annotations

from pathlib import Path

from sandproof import matrix, plan, profile, weaken
from sandproof.inspector.catalog import OUTSIDE_PROBES, PROBES
from sandproof.render import oci
from sandproof.runtime.interface import NO_MUTATION
from sandproof.weaken import filesystem


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
