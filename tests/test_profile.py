from __future__ import annotations

from pathlib import Path

import pytest

from sandproof import profile
from sandproof.errors import ProfileError


def test_shipped_profiles_load() -> None:
    d = profile.load("default")
    assert d.user.uid == 65532
    assert d.filesystem.read_only_rootfs
    assert d.network.mode == "none"
    assert d.seccomp.inprocess is not None
    assert "execve" in d.seccomp.inprocess.deny
    assert d.resources.memory.bytes == 256 << 20
    assert d.environment.variables == {}
    seed = profile.load("b4-prime-seed")
    assert seed.seccomp.inprocess is None
    assert seed.image.container_name == "tki-sandbox-attest"


def _write(tmp_path: Path, old: str, new: str) -> str:
    text = profile.load("default").text.replace(old, new, 1)
    assert text != profile.load("default").text
    f = tmp_path / "p.toml"
    f.write_text(text)
    return str(f)


def test_unknown_key_names_file_key_and_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, "[user]\n", "[user]\nuidd = 1\n")
    with pytest.raises(ProfileError) as err:
        profile.load(path)
    msg = err.value.message
    assert path in msg
    assert "user.uidd" in msg
    assert "did you mean 'uid'" in msg


def test_wrong_type_names_key_and_expectation(tmp_path: Path) -> None:
    path = _write(tmp_path, "pids = 64", 'pids = "64"')
    with pytest.raises(ProfileError, match=r"resources.pids'.*non-negative integer"):
        profile.load(path)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ('memory = "256m"', 'memory = "lots"', "size like"),
        ('[network]\nmode = "none"', '[network]\nmode = "bridge"', "one of none, host"),
        ('input = "/in"', 'input = "in"', "absolute path"),
        ('errno = "ENOSYS"', 'errno = "enosys"', "errno name"),
        ('probe_target = "1.1.1.1:53"', 'probe_target = "1.1.1.1"', "HOST:PORT"),
    ],
)
def test_bad_values(tmp_path: Path, old: str, new: str, match: str) -> None:
    with pytest.raises(ProfileError, match=match):
        profile.load(_write(tmp_path, old, new))


def test_missing_file() -> None:
    with pytest.raises(ProfileError, match="no such file and not a shipped profile"):
        profile.load("/nonexistent/profile.toml")


def test_invalid_toml(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("name = \n")
    with pytest.raises(ProfileError, match="not valid TOML"):
        profile.load(str(f))
