"""Matrices go through the profile's validator: one line with the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandproof import matrix

ROW = '[[row]]\nid = "R1"\ntitle = "t"\nprobes = ["PR-NET-1"]\n'


def _load(tmp_path: Path, text: str) -> matrix.Matrix:
    f = tmp_path / "m.toml"
    f.write_text(text)
    return matrix.load(str(f))


def _refused(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(matrix.MatrixError, match=match) as err:
        _load(tmp_path, text)
    assert err.value.message.startswith(f"matrix {tmp_path / 'm.toml'}: ")
    assert "\n" not in err.value.message


def test_shipped_matrices_load() -> None:
    for name in matrix.SHIPPED:
        m = matrix.load(name)
        assert m.rows
    undefined = [r for r in matrix.load("b4-prime-rev4").rows if not r.defined]
    assert undefined
    assert all(r.title == "not defined by the source" or r.title for r in undefined)


def test_a_row_with_defaults(tmp_path: Path) -> None:
    m = _load(tmp_path, 'name = "m"\n[[row]]\nid = "R0"\ndefined = false\n' + ROW)
    assert m.description == ""
    assert m.rows[0] == matrix.Row("R0", "not defined by the source", (), defined=False)
    assert m.rows[1].probes == ("PR-NET-1",)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('name = "m"\n' + ROW.replace("title", "titel"), r"unknown key 'row\[0\].titel' .*did you mean 'title'"),
        ('name = "m"\nrows = 1\n' + ROW, r"unknown key 'rows' in the top level \(did you mean 'row'\?\)"),
        ('name = "m"\n' + ROW.replace("PR-NET-1", "PR-NET-9"), r"key 'row\[0\].probes': .*unknown probe 'PR-NET-9'"),
        ('name = "m"\n' + ROW.replace('probes = ["PR-NET-1"]', "probes = []"), r"at least one probe"),
        (
            'name = "m"\n' + ROW.replace("defined", "x").replace('id = "R1"', "id = 1"),
            r"key 'row\[0\].id': expected a str",
        ),
        ('name = "m"\n' + ROW + "defined = 1\n", r"key 'row\[0\].defined': expected true or false"),
        ('name = "m"\n', r"key 'row': expected a value"),
        ('name = "m"\nrow = []\n', r"key 'row': expected a non-empty list of tables"),
        (ROW, r"key 'name': expected a value"),
    ],
)
def test_refusals(tmp_path: Path, text: str, match: str) -> None:
    _refused(tmp_path, text, match)
