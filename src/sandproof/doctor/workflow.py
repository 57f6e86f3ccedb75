"""GitHub workflow rules: no expression of untrusted text inside a shell script or a docker
command line the runner builds, every action pinned to a commit."""

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


CONTAINER_SINKS = ("image", "options", "ports", "credentials.username")
"""A job's ``container:`` and each of its ``services:``: the runner writes these into the one
command line it hands ``docker create`` unquoted (actions/runner src/Runner.Worker/Container/
DockerCommandManager.cs DockerCreate and DockerLogin): ``options`` is documented as docker
create flags, and a space in any of them starts another flag (``--privileged -v /:/host``).
``env`` is not here: its values are escaped (DockerUtil.CreateEscapedOption), ``volumes`` are
quoted with their quotes escaped."""
DOCKER_STEP_SINKS = ("args", "entrypoint")
"""A ``uses: docker://`` step's ``with:``: ``args`` is written unquoted after the image, and
``entrypoint`` inside quotes it does not escape (DockerRun, the same file)."""


def _get(node: Any, key: str) -> Any:
    """The value node of ``key`` in a mapping node, or None."""
    import yaml  # noqa: PLC0415 # only a workflow needs it

    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _scalars(node: Any) -> list[Any]:
    """A scalar node, or the scalar items of a sequence node (``ports: [...]``)."""
    import yaml  # noqa: PLC0415 # only a workflow needs it

    if isinstance(node, yaml.ScalarNode):
        return [node]
    if isinstance(node, yaml.SequenceNode):
        return [n for n in node.value if isinstance(n, yaml.ScalarNode)]
    return []


def _pairs(node: Any) -> list[tuple[str, Any]]:
    import yaml  # noqa: PLC0415 # only a workflow needs it

    if not isinstance(node, yaml.MappingNode):
        return []
    return [(str(k.value), v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]


def _docker_sinks(root: Any) -> Iterator[tuple[str, Any]]:
    """(where, scalar node) for each value the runner writes into a docker command line."""
    import yaml  # noqa: PLC0415 # only a workflow needs it

    for job_id, job in _pairs(_get(root, "jobs")):
        holders = [(f"jobs.{job_id}.container", _get(job, "container"))]
        holders += [(f"jobs.{job_id}.services.{n}", svc) for n, svc in _pairs(_get(job, "services"))]
        for where, holder in holders:
            if isinstance(holder, yaml.ScalarNode):  # `container: IMAGE`
                yield f"{where} (its image)", holder
            for key in CONTAINER_SINKS:
                node = holder
                for part in key.split("."):
                    node = _get(node, part)
                yield from ((f"{where}.{key}", n) for n in _scalars(node))
        steps = _get(job, "steps")
        for i, step in enumerate(steps.value if isinstance(steps, yaml.SequenceNode) else []):
            uses = _get(step, "uses")
            if isinstance(uses, yaml.ScalarNode) and str(uses.value).strip().startswith("docker://"):
                for key in DOCKER_STEP_SINKS:
                    found = _get(_get(step, "with"), key)
                    yield from ((f"jobs.{job_id}.steps[{i}].with.{key}", n) for n in _scalars(found))


def _expanded(w: Workflow, value: Any, what: str, can: str) -> Iterator[Hit]:
    """A hit for each expression in the scalar ``value`` naming an untrusted context."""
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
            yield Hit(f"`{whole}` is expanded into {what}: {', '.join(names)} {can}", whole.strip(), line=line)


def injection(w: Workflow) -> Iterator[Hit]:
    import yaml  # noqa: PLC0415 # only a workflow needs it

    found = [
        (value.start_mark.index, value, "a script before it runs", "can carry shell syntax")
        for key, value in _walk(w.root)
        if key in SINKS and isinstance(value, yaml.ScalarNode)
    ]
    found += [
        (node.start_mark.index, node, f"the docker command line the runner builds ({where})", "can add docker flags")
        for where, node in _docker_sinks(w.root)
    ]
    for _, value, what, can in sorted(found, key=lambda f: f[0]):
        yield from _expanded(w, value, what, can)


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
        "Template injection in a script or a docker command line",
        "`${{ … }}` is substituted into the script text before the shell parses it: an input, a branch "
        "name or an issue title holding `\"; curl … | sh` runs as code with the job's token. A job's "
        "`container:` or `services:` image, options, ports or registry username, and a `docker://` step's "
        "args or entrypoint, are written unquoted into the docker command line the runner runs: "
        "`--privileged -v /:/host` there is the host.",
        "Pass the value through env: and quote the variable: `env: RUN_DATE: ${{ inputs.run_date }}` then "
        '`run: echo "$RUN_DATE"`. Name a container\'s image, options and ports literally in the workflow.',
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
