"""README's probe list and mutation table are printed by the code (scripts/readme.py), not
typed by hand: they must still be what the code prints. Whether each weakening is caught is
proven on real engines by tests/test_engine.py."""

from __future__ import annotations

from pathlib import Path

from sandproof import docs
from sandproof.weaken import WEAKENINGS

README = (Path(__file__).parent.parent / "README.md").read_text()


def _block(begin: str, end: str) -> str:
    return README.split(begin, 1)[1].split(end, 1)[0].lstrip("\n")


def test_probe_table_is_the_generated_one() -> None:
    assert _block(docs.PROBES_BEGIN, docs.PROBES_END) == docs.probe_table()


def test_mutation_table_lists_exactly_the_suite_all_caught() -> None:
    block = _block(docs.SCORE_BEGIN, docs.SCORE_END)
    rows = [ln for ln in block.splitlines() if ln.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == [w.name for w in WEAKENINGS]
    assert len(WEAKENINGS) >= 100
    assert "NOT caught" not in block
    assert "NOT settled" not in block
    assert "not run" not in block
    for w, row in zip(WEAKENINGS, rows, strict=True):
        assert f"| {w.probe_id} |" in row
