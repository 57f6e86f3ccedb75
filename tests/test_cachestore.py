"""`sandproof cache`: the entries that grow with use, listed, and pruned by last use, never one
an image a run holds, never a name of another shape, never through a link."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sandproof import cachestore, image
from sandproof.cli import main
from sandproof.errors import OutputError
from sandproof.workload import harness_mount
from tests.test_image import _one_file_image

DAY = 86400.0
OLD_ID, NEW_ID, HELD_ID = "a" * 64, "b" * 64, "c" * 64


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    root.mkdir()
    monkeypatch.setenv("SANDPROOF_CACHE", str(root))
    return root


def _entry(path: Path, age_days: float, *, tree: bool = True) -> Path:
    if tree:
        (path / "tree" / "bin").mkdir(parents=True)
        (path / "tree" / "bin" / "sh").write_bytes(b"x" * 10_000)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    when = time.time() - age_days * DAY
    os.utime(path, (when, when), follow_symlinks=False)
    return path


def _layout(cache: Path, outside: Path) -> dict[str, Path]:
    made = {
        "old-tree": _entry(cache / "rootfs" / f"u5-{OLD_ID}", 40),
        "old-lines": _entry(cache / "rootfs" / f"u5-{OLD_ID}.lines-1.json", 40, tree=False),
        "new-tree": _entry(cache / "rootfs" / f"u5-{NEW_ID}", 1),
        "held-tree": _entry(cache / "rootfs" / f"u5-{HELD_ID}", 40),
        "old-harness": _entry(cache / "harness" / ("d" * 32), 40),
        "new-harness": _entry(cache / "harness" / ("e" * 32), 2),
        "old-saved": _entry(cache / "saved" / OLD_ID, 90),
        "fresh-leftover": _entry(cache / "saved" / ".saving-x1", 0.1),
        "old-leftover": _entry(cache / "harness" / ".building-y2", 3),
        # names of no shape of the cache's: never touched, whatever their age
        "mine": _entry(cache / "rootfs" / "mine", 400),
        "short": _entry(cache / "rootfs" / "u5-abc", 400),
        "debs": _entry(cache / "debs" / ("f" * 64), 400),
    }
    outside.mkdir()
    (outside / "keep.txt").write_text("the host's")
    link = cache / "saved" / ("9" * 64)
    link.symlink_to(outside)
    os.utime(link, (time.time() - 90 * DAY,) * 2, follow_symlinks=False)
    made["link"] = link
    return made


def test_entries_are_the_cache_shapes_only_with_size_and_last_use(cache: Path, tmp_path: Path) -> None:
    made = _layout(cache, tmp_path / "outside")
    found = {e.path: e for e in cachestore.entries()}
    shaped = ("old-tree", "old-lines", "new-tree", "held-tree", "old-harness", "new-harness", "old-saved", "link")
    leftovers = ("fresh-leftover", "old-leftover")
    assert set(found) == {made[k] for k in (*shaped, *leftovers)}
    assert found[made["old-tree"]].size >= 10_000
    assert found[made["link"]].size < 10_000  # the link, not what it names
    assert found[made["old-tree"]].lock == f"sha256:{OLD_ID}"
    assert found[made["old-harness"]].lock == harness_mount.lock_key("d" * 32)
    assert time.time() - found[made["old-saved"]].used == pytest.approx(90 * DAY, abs=60)
    assert all(found[made[k]].leftover for k in leftovers)


def test_prune_removes_only_what_no_run_used_and_no_run_holds(cache: Path, tmp_path: Path) -> None:
    made = _layout(cache, tmp_path / "outside")
    with image.in_use(f"sha256:{HELD_ID}"):  # a run of that image is under way
        done = cachestore.prune(30 * DAY)
    removed = {e.path for e in done.removed}
    assert removed == {made[k] for k in ("old-tree", "old-lines", "old-harness", "old-saved", "old-leftover", "link")}
    assert [e.path for e in done.in_use] == [made["held-tree"]]
    for name in ("new-tree", "held-tree", "new-harness", "fresh-leftover", "mine", "short", "debs"):
        assert made[name].exists(), name
    for gone in removed:
        assert not os.path.lexists(gone)
    assert (tmp_path / "outside" / "keep.txt").read_text() == "the host's"  # the link went, not its target
    assert not [
        n for top in ("rootfs", "harness", "saved") for n in os.listdir(cache / top) if n.startswith(".pruning")
    ]


def _listing(cache: Path) -> list[str]:
    return sorted(
        os.path.join(d, n) for top in cachestore.AREAS for d, dirs, files in os.walk(cache / top) for n in dirs + files
    )


def test_a_dry_run_removes_nothing_and_zero_days_spares_what_a_run_holds(cache: Path, tmp_path: Path) -> None:
    made = _layout(cache, tmp_path / "outside")
    before = _listing(cache)
    said = cachestore.prune(0, dry_run=True)
    assert _listing(cache) == before
    assert made["new-tree"] in {e.path for e in said.removed}
    assert made["fresh-leftover"] in {e.path for e in said.building}  # a build under way may own it: a day at least
    with image.in_use(f"sha256:{NEW_ID}"):
        done = cachestore.prune(0)
    assert made["new-tree"].is_dir()
    assert {e.path for e in done.in_use} == {made["new-tree"]}


def test_a_reused_tree_is_marked_used(cache: Path, tmp_path: Path) -> None:
    """Each use of a cached tree sets its time: a tree runs keep using is never pruned."""
    tree = image.rootfs(_one_file_image(tmp_path))
    entry = tree.parent
    os.utime(entry, (time.time() - 60 * DAY,) * 2)
    assert image.rootfs(_one_file_image(tmp_path)) == tree
    assert time.time() - entry.stat().st_mtime < 60
    assert entry not in {e.path for e in cachestore.prune(30 * DAY).removed}


def test_the_cache_command(cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _layout(cache, tmp_path / "outside")
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert f"cache: {cache}" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:5]}
    assert {area: lines[area][1] for area in cachestore.AREAS} == {"rootfs": "4", "harness": "3", "saved": "3"}
    assert main(["cache", "prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("would remove 7 entries")  # the held tree is not held here
    assert (cache / "saved" / OLD_ID).is_dir()
    assert main(["cache", "prune", "--older-than", "60"]) == 0
    # the saved image and the link (90 days), the build's leftover (3 days: a day is enough)
    assert capsys.readouterr().out.startswith("removed 3 entries")
    assert not (cache / "saved" / OLD_ID).exists()
    with pytest.raises(SystemExit) as bad:
        main(["cache", "prune", "--older-than", "soon"])
    assert bad.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "'soon' is not a number of days" in err


def test_an_area_that_is_a_link_or_anothers_refuses_the_cache(cache: Path, tmp_path: Path) -> None:
    """Pruning removes entries inside each area: an area that is a link would remove them
    wherever it points; one another user owns or may write is theirs to fill. Such a cache is
    refused whole, listing and pruning alike, as every run refuses it (image.refuse_planted)."""
    elsewhere = tmp_path / "elsewhere"
    precious = _entry(elsewhere / ("d" * 32), 400)
    (cache / "harness").symlink_to(elsewhere)
    with pytest.raises(OutputError, match="harness is not sandproof's own"):
        cachestore.entries()
    with pytest.raises(OutputError, match="harness is not sandproof's own"):
        cachestore.prune(0)
    assert precious.is_dir()
    (cache / "harness").unlink()
    saved = cache / "saved"
    old = _entry(saved / OLD_ID, 400)
    saved.chmod(0o777)
    with pytest.raises(OutputError, match="saved is not sandproof's own"):
        cachestore.prune(0)
    assert old.is_dir()
    saved.chmod(0o755)
    assert [e.path for e in cachestore.prune(0).removed] == [old]


def test_nothing_used_in_the_last_hour_nor_a_harness_a_run_holds_is_removed(cache: Path, tmp_path: Path) -> None:
    """Review 18: `prune --older-than 0` removed the harness tree a running `attest --image`
    had mounted (no lock), and could remove what a run had just prepared before it took the
    image's lock. A run holds its harness as its image; nothing used in the last hour goes."""
    made = _layout(cache, tmp_path / "outside")
    recent = _entry(cache / "saved" / ("7" * 64), 0.02)  # half an hour ago
    with image.in_use(harness_mount.lock_key("e" * 32)):
        done = cachestore.prune(0)
    assert recent in {e.path for e in done.kept}
    assert recent.is_dir()
    assert made["new-harness"] in {e.path for e in done.in_use}
    assert made["new-harness"].is_dir()
    assert made["new-tree"] in {e.path for e in done.removed}  # a day old, held by no run


def test_a_cache_through_another_users_directory_is_refused(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 18 (HIGH): SANDPROOF_CACHE through a directory another user owns, or a link of
    theirs, had root remove another directory's entries (theirs to point anywhere, or to swap
    while the prune ran). The cache's path is held to render's rule, all the way."""
    victim = tmp_path / "victim"
    precious = _entry(victim / "saved" / OLD_ID, 400)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "cache").symlink_to(victim)
    os.chown(theirs / "cache", 65534, 65534, follow_symlinks=False)
    os.chown(theirs, 65534, 65534)
    for root in (theirs / "cache", theirs / "cache" / "x"):
        monkeypatch.setenv("SANDPROOF_CACHE", str(root))
        if not os.path.lexists(root):
            continue
        with pytest.raises(OutputError, match="another user"):
            cachestore.prune(0)
    monkeypatch.setenv("SANDPROOF_CACHE", str(theirs))
    (theirs / "saved").mkdir()
    with pytest.raises(OutputError, match=f"the cache {theirs}: owned by uid 65534"):
        cachestore.prune(0)
    assert precious.is_dir()


def test_the_listing_makes_nothing_and_takes_a_relative_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Final read: `sandproof cache` made a missing cache; a relative SANDPROOF_CACHE was walked
    from / with its first part dropped (and refused for /'s owner)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SANDPROOF_CACHE", "relcache")
    assert main(["cache"]) == 0
    assert not (tmp_path / "relcache").exists()
    _entry(tmp_path / "relcache" / "saved" / OLD_ID, 90)
    assert [e.name for e in cachestore.entries()] == [OLD_ID]
    assert main(["cache", "prune", "--dry-run"]) == 0
    assert "would remove 1 entries" in capsys.readouterr().out
