from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

import pytest

from sandproof import profile, tomldata
from sandproof.errors import ProfileError
from sandproof.weaken.core import replaced


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


def test_model_is_nested_like_the_toml() -> None:
    d = profile.load("default")
    assert d.resources.memory == profile.Size(256 << 20, "256m")
    assert d.filesystem.output_limit.bytes == 16 << 20
    assert d.namespaces.cgroup == "private"
    seed = profile.load("b4-prime-seed")
    assert seed.namespaces == profile.Namespaces()  # no [namespaces] table: every default
    assert seed.sysctls == {}


def test_every_key_of_the_model_is_a_key_of_the_file() -> None:
    data = tomllib.loads(profile.load("default").text)
    assert set(tomldata.canonical(profile.load("default"))) == set(data)
    for table in ("image", "user", "network", "filesystem", "resources", "ipc", "environment", "seccomp"):
        model = {f.toml for f in tomldata.fields(type(getattr(profile.load("default"), table)))}
        assert set(data[table]) <= model, table


def test_size() -> None:
    assert profile.Size.of("1g") == profile.Size(1 << 30, "1g")
    assert profile.Size.of("4K").bytes == 4096
    with pytest.raises(ValueError, match="lots"):
        profile.Size.of("lots")


def test_digest_changes_with_the_model_and_holds_env_names_only() -> None:
    d = profile.load("default")
    weak = replaced(d, "resources", memory=profile.Size.of("1g"))
    assert weak.digest != d.digest
    one = replaced(d, "environment", variables={"TOKEN": "a"})
    two = replaced(d, "environment", variables={"TOKEN": "b"})
    assert one.digest == two.digest != d.digest
    assert "TOKEN" in json.dumps(tomldata.canonical(one))
    assert '"a"' not in json.dumps(tomldata.canonical(one))
    assert replaced(d, "image", name="x").digest != d.digest
    # where the file came from and its text are not what it says
    assert dataclasses.replace(d, source="elsewhere", text="").digest == d.digest


def test_missing_key_and_wrong_table(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"key 'user.gid': expected a value \(the key is missing\)"):
        profile.load(_write(tmp_path, "gid = 65532\n", ""))
    text = profile.load("default").text.replace("[user]\nuid = 65532\ngid = 65532\n", "")
    with pytest.raises(ProfileError, match=r"key 'user': expected a table, got int"):
        profile.parse("user = 1\n" + text, "p.toml")


def test_unknown_top_level_key_with_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, "[user]\n", "[users]\nuid = 1\n[user]\n")
    with pytest.raises(ProfileError, match=r"unknown key 'users' in the top level \(did you mean 'user'\?\)"):
        profile.load(path)
