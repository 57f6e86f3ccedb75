"""Report injection: strings a hostile sandbox chooses (a socket path, the venue, the host
name) reach every report. None may become a CI workflow command in a log, Markdown or HTML
in a step summary, or a cell of its own."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

import sandproof.report as report_pkg
from sandproof import profile, verify
from sandproof.capture import inert
from sandproof.cli import main
from sandproof.report import markdown as md_report
from sandproof.report import text as text_report
from sandproof.report import visible
from tests.ci_log import runner_commands
from tests.conftest import asset_json
from tests.forge import by_id, make_consistent

# what a hostile harness writes into its observations and its venue record
MASK = "/run/x##[add-mask]FAIL"
NOTICE = "::notice title=sandproof::PASS, all probes held"
SPACED = " \t::add-mask::FAIL"
HTML = '<img src="https://evil.example/p.png"><b>PASS</b>[all good](https://evil.example) $\\color{green}PASS$'


def _hostile() -> dict[str, Any]:
    b = asset_json("runc-default-pass.json")
    by_id(b)["PR-SOCK-DOCKER"]["observation"]["present"] += [MASK, HTML]
    b["venue"] = NOTICE
    b["venue_identity"] = {**b["venue_identity"], "node": SPACED}
    return make_consistent(b)


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(_hostile()))
    return path


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "junit", "sarif"])
@pytest.mark.parametrize("many", [False, True])
def test_no_report_line_is_a_workflow_command(
    hostile: Path, fmt: str, many: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(hostile), str(hostile)] if many else [str(hostile)]
    assert main(["verify", "--format", fmt, *paths]) == 1
    out, err = capsys.readouterr()
    assert "mask" in out  # the strings are shown...
    assert runner_commands(out + err) == []  # ...as text, never as a command


def test_a_refusal_line_is_no_workflow_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = asset_json("runc-default-pass.json")
    b["x\n::error title=sandproof::PASS\n##[add-mask]FAIL"] = 1
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert main(["verify", str(tmp_path / "b.json")]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1
    assert runner_commands(err) == []


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("::error::x", "\\x3a:error::x"),
        ("  ::error::x", "  \\x3a:error::x"),
        ("a::b", "a::b"),  # mid-line is plain text (an IPv6 address)
        ("##[group]x", "\\x23\\x23[group]x"),
        ("#[x", "\\x23[x"),
        ("x#", "x\\x23"),  # a join with text starting "#[" cannot make one either
        ("#36 and C#7", "#36 and C#7"),
    ],
)
def test_inert(raw: str, shown: str) -> None:
    assert inert(raw) == shown
    assert visible(raw) == shown


def _html(text: str) -> str:
    html: str = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    return html


def test_markdown_cells_are_plain_text() -> None:
    """No link, image, inline HTML or emphasis from a bundle; the row keeps its cells."""
    report = verify.verify(_hostile(), profile.load("default"), source="hostile.json")
    out = md_report.render(report)
    html = _html(out)
    assert "<img" not in html
    assert "<a " not in html
    assert "<b>" not in html
    assert "<strong>PASS" not in html
    assert "&lt;img src=&quot;https://evil.example/p.png&quot;&gt;&lt;b&gt;PASS&lt;/b&gt;[all good]" in html
    row = next(ln for ln in html.split("<tr>") if "PR-SOCK-DOCKER" in ln)
    assert row.count("<td>") == 7
    assert "<td>FAIL</td>" in row


@pytest.mark.parametrize(
    "text",
    ["a|b", "a\\|b", "a\\", "`x`", "*PASS*", "[x](y)", "<b>", "&amp;", "~~x~~", "$x$", "https://e.x", "www.e.x"],
)
def test_markdown_cell_shows_its_text_exactly(text: str) -> None:
    html = _html(f"| a | b |\n|---|---|\n| {md_report._cell(text)} | z |\n")
    cells = re.findall(r"<td>(.*?)</td>", html)
    expected = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert cells == [expected, "z"]


def test_markdown_cells_break_bare_autolinks_and_keep_plain_words() -> None:
    """GFM links ``scheme://`` and ``www.`` text by itself (no markup needed): an escape inside
    each breaks it; the words of an honest reason stay as written."""
    assert md_report._cell("go https://evil.example or WWW.evil.example") == (
        "go https:\\/\\/evil.example or WWW\\.evil.example"
    )
    honest = "the engine applied exactly what the profile says (its own view, read before removal): engine-view PASS"
    assert md_report._cell(honest) == honest
    # "_" is a word character to re's \b, not to GFM: "_www.e.x" still links www.e.x
    assert md_report._cell("_www.evil.example awww.x") == "\\_www\\.evil.example awww.x"


@pytest.mark.parametrize(
    "text", ["ping @octocat", "@org/team", "see #12", "GH-7", "owner/repo#3", ":white_check_mark: PASS", "a|b @x`y"]
)
def test_a_cell_github_would_make_a_mention_a_reference_or_an_emoji_of_is_code(text: str) -> None:
    """GitHub's mention, reference and emoji filters run on the rendered text (no escape stops
    them) and never inside code: such a cell is one code span showing the text."""
    cell = md_report._cell(text)
    html = _html(f"| a | b |\n|---|---|\n| {cell} | z |\n")
    cells = re.findall(r"<td>(.*?)</td>", html)
    shown = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")
    assert cells == [f"<code>{shown}</code>", "z"]


def test_a_reports_cells_with_mentions_are_code(tmp_path: Path) -> None:
    b = asset_json("runc-default-pass.json")
    by_id(b)["PR-SOCK-DOCKER"]["observation"]["present"] += ["@octocat :white_check_mark: #1"]
    out = md_report.render(verify.verify(make_consistent(b), profile.load("default"), source="x.json"))
    html = _html(out)
    assert "@octocat" in html
    assert "@octocat" not in re.sub(r"<code>.*?</code>", "", html)


def test_sarif_messages_embed_no_link(hostile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """SARIF 2.1.0 §3.11.6: ``[text](target)`` in a plain text message is a link a viewer renders."""
    assert main(["verify", "--format", "sarif", str(hostile)]) == 1
    doc = json.loads(capsys.readouterr().out)
    texts = [r["message"]["text"] for r in doc["runs"][0]["results"]]
    assert any("evil.example" in t for t in texts)
    link = re.compile(r"(?<!\\)\[(?:[^\]\\]|\\.)*(?<!\\)\]\(")
    assert [t for t in texts if link.search(t)] == []


def _columns(line: str) -> int:
    """What a terminal shows (UAX #11): wide and full-width take two columns, combining marks none."""
    return sum(
        0 if unicodedata.category(c) in ("Mn", "Me") else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in line
    )


@pytest.mark.parametrize("node", ["\uff4e\uff4f\uff44\uff45\uff0d\uff42", "node-a" + "\u0301" * 9, "\u8282\u70b9"])
def test_a_wide_or_combining_name_keeps_the_columns(node: str) -> None:
    """The counts stay under their headers whatever the node name: padded by display width."""
    b = asset_json("runc-default-pass.json")
    b["venue_identity"] = {**b["venue_identity"], "node": node}
    reports = [verify.verify(x, profile.load("default"), source=s) for x, s in ((b, "a"), (_hostile(), "b"))]
    lines = text_report.render_many(reports).splitlines()
    start = lines.index(next(ln for ln in lines if ln.startswith("VENUE")))
    table = lines[start : start + 3]
    assert len({_columns(ln) for ln in table}) == 1, table
    assert len({_columns(ln[: ln.rindex("runc")]) for ln in table[1:]}) == 1, table


def test_sarif_locations_are_uris_whatever_the_file_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unreadable bundle is located at its file: a name with a space, newline or '#' is percent-encoded."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "sandbox-attestation-evidence-a b\n#c.json").write_text("{")
    (tmp_path / "runs" / "sandbox-attestation-evidence-ok.json").write_text(json.dumps(_hostile()))
    assert main(["verify", "--format", "sarif", "runs"]) == 2
    doc = json.loads(capsys.readouterr().out)
    uris = [
        loc["physicalLocation"]["artifactLocation"]["uri"] for r in doc["runs"][0]["results"] for loc in r["locations"]
    ]
    assert "runs/sandbox-attestation-evidence-a%20b%0A%23c.json" in uris
    assert all(re.fullmatch(r"[A-Za-z0-9%/._~:-]+", u) for u in uris), uris


def test_a_file_in_the_working_directory_named_from_two_dots_is_a_relative_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandproof.report import sarif  # noqa: PLC0415 - its private URI rule, on its own

    monkeypatch.chdir(tmp_path / "..")
    inside = tmp_path / "..bundle.json"
    assert sarif._uri(inside) == f"{tmp_path.name}/..bundle.json"
    monkeypatch.chdir(tmp_path)
    assert sarif._uri(inside) == "..bundle.json"
    assert sarif._uri(tmp_path.parent / "x.json").startswith("file:///")


# every character class the two fast paths care about, and some they don't
_TEXT = st.text(
    alphabet=st.sampled_from(list('ab:/ #.wW"\\\n\r\t\x00\x1b\x7f\u200b\u2028é' + md_report._MARKUP)), max_size=12
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


def _slow_cell(text: str) -> str:
    if re.search(r"@[0-9a-z]|#[0-9]|\bgh-[0-9]|:[0-9a-z_+-]+:", text, re.IGNORECASE | re.ASCII):
        return f"`{md_report._code(text)}`"
    text = text.replace("\n", " ").replace("\r", " ").replace("\\", "\\\\")
    for c in md_report._MARKUP:
        text = text.replace(c, "\\" + c)
    return md_report._AUTOLINK.sub(lambda m: "\\" + "\\".join(m.group(0)), text)


@given(_TEXT)
def test_a_cell_that_needs_no_escape_is_kept_and_one_that_does_is_escaped(text: str) -> None:
    assert md_report._cell(text) == _slow_cell(text)


@given(st.dictionaries(_TEXT, _JSON, max_size=4))
def test_an_expectation_is_kept_whole_only_when_every_string_is_visible(value: dict[str, Any]) -> None:
    """``_deep``'s reading of the compact JSON says "as it is" exactly when the walk changes
    nothing (a false alarm only costs the walk)."""
    walked = report_pkg._walk(value)
    assert report_pkg._deep(value) == walked
    if report_pkg._all_visible(value):
        assert walked == value


@pytest.mark.parametrize("key", [":x", " x", "x#", "a\x7f", "a\\b", 'a"b', "é", "\u200b"])
def test_an_expectation_with_one_string_to_show_is_walked(key: str) -> None:
    for value in ({key: 1}, {"k": [1, key]}, {"k": {"j": key}}):
        assert not report_pkg._all_visible(value)


@pytest.mark.parametrize("value", [":x", " x", [":x"], [1, " x"], {"a": [[" x"]]}])
def test_a_string_that_leads_with_a_colon_or_blank_anywhere_is_walked(value: object) -> None:
    assert not report_pkg._all_visible(value)
