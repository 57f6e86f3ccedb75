"""The host side of attest on its own: bounded capture, escaping, cleanup without
recursion, the inside bundle refused before anything reads it, the /out bound."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from sandproof import bundle, cleanup, evidence, outdir, profile
from sandproof.capture import EMPTY, Captured, Pump, printable
from sandproof.cli import main
from sandproof.errors import ProfileError
from sandproof.inspector.wire import BUNDLE_NAME, STDOUT_MARKER


def test_pump_keeps_head_and_tail_and_counts_everything() -> None:
    r, w = os.pipe()
    pump = Pump(io.FileIO(r, "rb"), head=10, tail=1000)
    for i in range(2000):
        os.write(w, f"{i:05d}\n".encode())
    os.close(w)
    got = pump.result(10)
    assert got.total == 2000 * 6
    assert got.head == b"00000\n0000"
    assert len(got.tail) == 1000
    assert got.tail.endswith(b"01999\n")
    assert got.dropped == 2000 * 6 - 1010
    assert "[... 10990 bytes left out ...]" in got.text()


@pytest.mark.parametrize("tail", [1, 1000, 65536, 65537, 200_000])
def test_pump_tail_is_exactly_the_last_bytes_whatever_the_write_sizes(tail: int) -> None:
    # the tail is a ring: writes straddling its end, larger than it, or filling it exactly
    rng = random.Random(tail)  # noqa: S311 - reproducible test data, not a secret
    data = bytes(rng.randrange(256) for _ in range(3 * tail + 70_000))
    r, w = os.pipe()
    pump = Pump(io.FileIO(r, "rb"), head=7, tail=tail)
    i = 0
    while i < len(data):
        n = rng.choice((1, 13, 4096, 65536, 65537, tail))
        os.write(w, data[i : i + n])
        i += n
    os.close(w)
    got = pump.result(10)
    assert got.head == data[:7]
    assert got.tail == data[7:][-tail:]
    assert got.total == len(data)


def test_printable_escapes_every_control_and_format_character() -> None:
    hostile = "\x1b[2J\x07ok\rPASS\x9b31m\u202eabc\u200b\x00\x7f"
    out = printable(hostile)
    assert out == "\\x1b[2J\\x07ok\\x0dPASS\\x9b31m\\u202eabc\\u200b\\x00\\x7f"
    assert printable("a\nb") == "a\\x0ab"
    assert printable("a\nb", newlines=True) == "a\nb"
    assert all(c.isprintable() or c == "\n" for c in printable("".join(map(chr, range(0x3000))), newlines=True))


@pytest.mark.long
def test_cleanup_of_a_5000_level_tree_never_recurses_nor_follows_links(tmp_path: Path) -> None:
    secret = tmp_path / "host-secret"
    secret.write_text("keep")
    root = tmp_path / "run"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    for i in range(5000):  # far past PATH_MAX and the recursion limit
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
        if i % 1000 == 0:
            os.symlink(secret, "file-link", dir_fd=fd)
            os.symlink(tmp_path, "dir-link", dir_fd=fd)
            os.mkfifo("fifo", dir_fd=fd)
    os.close(fd)
    for i in range(2000):
        (root / f"f{i}").write_bytes(b"x")
    (root / "locked").mkdir()
    (root / "locked" / "x").write_bytes(b"x")
    (root / "locked").chmod(0)
    cleanup.remove_tree(root)
    assert not root.exists()
    assert secret.read_text() == "keep"
    cleanup.remove_tree(root)  # already gone: nothing to do


def _captured(text: str) -> Captured:
    return Captured(text.encode(), b"", len(text.encode()))


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ('{"x": 1}', 'no "schema" field'),
        ('{"probes": 5}', 'no "schema" field'),
        ('{"schema": "sandproof/inside/v1", "probes": 5}', "does not match schema"),
        ('{"schema": "sandproof/evidence/v1"}', "does not match schema"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a": 1, "a": 2}', "duplicate key"),
        ("\xff", "not valid JSON"),
    ],
)
def test_a_malformed_inside_bundle_is_refused_with_a_reason(tmp_path: Path, content: str, why: str) -> None:
    (tmp_path / BUNDLE_NAME).write_text(content)
    found = evidence.read_inside(str(tmp_path), EMPTY)
    assert found.bundle is None
    assert found.channel == "none"
    assert found.problem is not None
    assert why in found.problem


def test_stdout_marker_without_probes_is_refused(tmp_path: Path) -> None:
    line = STDOUT_MARKER + json.dumps({"schema": "sandproof/inside/v1"})
    found = evidence.read_inside(str(tmp_path), _captured(f"noise\n{line}\n"))
    assert (found.bundle, found.channel) == (None, "none")
    assert found.problem is not None
    assert "does not match schema" in found.problem


def test_stdout_marker_cut_by_the_bound_is_not_read(tmp_path: Path, docker_pass: dict[str, object]) -> None:
    required = json.loads(bundle.schema_text("inside-v1"))["required"]
    inside = {k: v for k, v in docker_pass.items() if k in required}
    inside.update(schema="sandproof/inside/v1", profile="default")
    inside["probes"] = [p for p in docker_pass["probes"] if p["probe_id"] != "PR-DYNIMPORT"]  # type: ignore[attr-defined]
    line = (STDOUT_MARKER + json.dumps(inside)).encode()
    whole = evidence.read_inside(str(tmp_path), Captured(b"x\n", line + b"\n", len(line) + 3))
    assert whole.channel == "stdout", whole.problem
    cut = evidence.read_inside(str(tmp_path), Captured(b"x\n", line[20:], len(line) + 2))
    assert (cut.bundle, cut.channel, cut.problem) == (None, "none", None)


def test_output_limit_knobs_are_validated(tmp_path: Path) -> None:
    text = profile.load("default").text
    p = tmp_path / "p.toml"
    p.write_text(
        text.replace('output_limit = "16m"', 'output_limit = "2m"').replace("output_files = 1024", "output_files = 9")
    )
    loaded = profile.load(str(p))
    assert (loaded.filesystem.output_limit.bytes, loaded.filesystem.output_files) == (2 << 20, 9)
    p.write_text(text.replace('output_limit = "16m"', 'output_limit = "1k"'))
    with pytest.raises(ProfileError, match="output_limit"):
        profile.load(str(p))
    p.write_text(text.replace("output_files = 1024", "output_files = 0"))
    with pytest.raises(ProfileError, match="output_files"):
        profile.load(str(p))


def test_staging_dir_is_a_bounded_tmpfs_and_goes_away(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "the test command runs as root (the engines need it): the tmpfs bound is root's"
    staging = outdir.create(tmp_path / "out", uid=65532, gid=65532, limit_bytes=1 << 20, limit_files=10)
    try:
        assert staging.bounded
        with pytest.raises(OSError, match="No space left"):
            (staging.path / "big").write_bytes(b"x" * (2 << 20))
        (staging.path / "big").unlink()
        for i in range(10):  # nr_inodes is 10 + 1: the root directory takes one
            (staging.path / f"f{i}").touch()
        with pytest.raises(OSError, match="No space left"):
            (staging.path / "one-too-many").touch()
    finally:
        outdir.remove(staging)
    assert not staging.path.exists()
    assert str(staging.path) not in Path("/proc/self/mountinfo").read_text()


def test_timeout_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["attest", "--timeout", "0"])
    assert exc.value.code == 2
    assert "--timeout" in capsys.readouterr().err


def test_cli_help_names_the_timeout() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sandproof", "attest", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--timeout SECONDS" in out
