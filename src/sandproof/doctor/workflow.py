"""GitHub workflow rules: no expression of untrusted text inside a shell script, every action
pinned to a commit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sandproof.doctor.core import Hit, Level, Rule, Workflow

_STRING = re.compile(r"'(?:[^']|'')*'")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_*-]+|\[[^\]]*\])*")
_LITERALS = frozenset({"true", "false", "null"})
# The allow-list: contexts whose values the runner or the repository's owner sets, never a
# pull request, an issue, a branch name or a dispatch input. Everything else is untrusted.
SAFE = frozenset(
    {
        *("github.run_id", "github.run_number", "github.run_attempt", "github.sha", "github.job"),
        *("github.repository", "github.repository_id", "github.repository_owner", "github.repository_owner_id"),
        *("github.workflow", "github.server_url", "github.api_url", "github.graphql_url", "github.event_name"),
        *("github.workspace", "github.action_path", "github.ref_type", "github.retention_days"),
        *("runner.os", "runner.arch", "runner.temp", "runner.tool_cache", "runner.debug", "runner.name"),
        *("job.status", "strategy.job-index", "strategy.job-total", "strategy.fail-fast", "strategy.max-parallel"),
    }
)
SINKS = frozenset({"run", "script"})
"""Keys whose text runs as code: a step's shell script and actions/github-script's JavaScript
(``with: script:``, the sink GitHub's "Security hardening for GitHub Actions" names)."""
_PINNED = re.compile(r"[^@\s]+@[0-9a-f]{40}")


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value node) of the document's mappings, depth first."""
    import yaml  # noqa: PLC0415 # only a workflow needs it

    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                yield k.value, v
            yield from _walk(v)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item)


def expressions(raw: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each ``${{ ... }}`` in a scalar, found as the runner finds them
    (actions/runner TemplateReader.ParseScalar): from ``${{`` to the first ``}}`` outside a
    single-quoted string (a quote toggles the string, so ``''`` inside one keeps it open), then
    the next ``${{`` after it. An expression never closed is the runner's error (the workflow
    does not run); it is scanned to the end all the same."""
    start = raw.find("${{")
    while start != -1:
        in_string = False
        end = len(raw)
        for i in range(start + 3, len(raw)):
            if raw[i] == "'":
                in_string = not in_string
            elif not in_string and raw[i] == "}" and raw[i - 1] == "}":
                end = i + 1
                break
        yield start, end
        start = raw.find("${{", end)


def untrusted(expression: str) -> list[str]:
    """The context references in an expression that the allow-list does not know."""
    body = _STRING.sub("''", expression)
    out = []
    for m in _NAME.finditer(body):
        name = m[0]
        if body[m.end() :].lstrip().startswith("(") or name in _LITERALS:
            continue  # a function (contains, format, cancelled) or a literal
        if body[: m.start()].rstrip().endswith("."):
            continue
        if name not in SAFE and not name.startswith("secrets."):
            out.append(name)
    return out


def injection(w: Workflow) -> Iterator[Hit]:
    import yaml  # noqa: PLC0415 # only a workflow needs it

    for key, value in _walk(w.root):
        if key not in SINKS or not isinstance(value, yaml.ScalarNode):
            continue
        source = w.text[value.start_mark.index : value.end_mark.index]
        # the runner reads expressions in the scalar's value, after YAML's escapes ("\u0024{{"
        # is "${{"): the value is scanned, the source only places the line
        raw = str(value.value)
        for start, end in expressions(raw):
            whole = raw[start:end]
            names = untrusted(whole.removeprefix("${{").removesuffix("}}"))
            if names:
                at = source.find(whole)
                line = w.text.count("\n", 0, value.start_mark.index + max(at, 0)) + 1
                yield Hit(
                    f"`{whole}` is expanded into a script before it runs: {', '.join(names)} can carry shell syntax",
                    whole.strip(),
                    line=line,
                )


def unpinned(w: Workflow) -> Iterator[Hit]:
    import yaml  # noqa: PLC0415 # only a workflow needs it

    for key, value in _walk(w.root):
        if key != "uses" or not isinstance(value, yaml.ScalarNode):
            continue
        ref = str(value.value).strip()
        if ref.startswith("./"):
            continue  # an action of this repository, at this commit
        if ref.startswith("docker://"):
            if "@sha256:" not in ref:
                yield Hit(f"{ref} is a container image by tag", ref, line=value.start_mark.line + 1)
            continue
        if not _PINNED.fullmatch(ref):
            yield Hit(
                f"{ref} is not pinned to a commit: a tag or branch can be moved to other code",
                ref,
                line=value.start_mark.line + 1,
            )


RULES = (
    Rule(
        "SPD060",
        "Template injection in a run: script",
        "`${{ … }}` is substituted into the script text before the shell parses it: an input, a branch "
        "name or an issue title holding `\"; curl … | sh` runs as code with the job's token.",
        "Pass the value through env: and quote the variable: `env: RUN_DATE: ${{ inputs.run_date }}` then "
        '`run: echo "$RUN_DATE"`.',
        Level.ERROR,
        workflow=injection,
    ),
    Rule(
        "SPD061",
        "Action not pinned to a commit SHA",
        "A tag (`@v4`) or branch is a pointer its owner, or whoever takes over the account, can move to "
        "other code; only a full 40-hex commit names fixed code.",
        "Pin to the commit the tag points at, the tag in a comment: "
        "`uses: actions/checkout@11d5960a326750d5838078e36cf38b85af677262  # v4.4.0`.",
        Level.ERROR,
        workflow=unpinned,
    ),
)
