"""Reading a bundle that may be hostile: bounded size, strict JSON, then its schema, as
typed values (``model``).

Nothing in a bundle is executed, imported or used as a path. Every refusal is one
line naming the file and what was expected (exit 2 at the CLI).

Speed without a weaker reader: orjson parses (refusing NaN, Infinity, an out-of-range
number, invalid UTF-8, more than 1024 levels), and its re-serialisation (two-space indent) must
give back the very bytes read, which no document with a duplicate key can (the second
value replaced the first, so one key is missing). Sandproof writes bundles in that form
(``evidence.dumps``). Any other document takes the strict stdlib reader below, whose
refusals and messages are the reference: the fast path only accepts what it accepts.
The schema is then stated as msgspec Structs (``model``), checked in ~50 µs where the
compiled JSON Schema took ~500 µs; ``tests/test_model.py`` holds the two to the same
answers.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson

from sandproof import contract, model
from sandproof.errors import BundleError
from sandproof.regular import NotRegular, open_regular

MAX_BYTES = contract.BUNDLE_MAX_BYTES
# schema field value -> shipped schema file
SCHEMAS = contract.SCHEMA_FILES
NAMES = contract.SCHEMA_NAMES


def schema_text(name: str) -> str:
    """A shipped schema by short name (``evidence-v1``, ``inside-v1``, ``b4-prime-inside-v1``)."""
    if name not in NAMES:
        raise BundleError(f"no schema {name!r}; shipped schemas: {', '.join(sorted(NAMES))}")
    return resources.files("sandproof.schemas").joinpath(NAMES[name]).read_text("utf-8")


@cache
def _documents() -> dict[str, dict[str, Any]]:
    files = resources.files("sandproof.schemas")
    docs = [json.loads(files.joinpath(f).read_text("utf-8")) for f in SCHEMAS.values()]
    return {d["$id"]: d for d in docs}


@cache
def _validator(file_name: str) -> Callable[[Any], Any]:
    """The schema compiled to Python by fastjsonschema (about 20x faster than an
    interpreting validator); references between our schemas resolve from the package,
    never from the network."""
    docs = _documents()

    def local(uri: str) -> dict[str, Any]:
        if uri not in docs:
            raise BundleError(f"schema reference {uri} is not a shipped schema")
        return docs[uri]

    schema = json.loads(resources.files("sandproof.schemas").joinpath(file_name).read_text("utf-8"))
    return fastjsonschema.compile(schema, handlers={"https": local, "http": local})


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # a later key would silently win: refuse instead
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate key {dup!r}")
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


# orjson's output with a two-space indent (json.dumps(indent=2) writes the same bytes for
# ASCII text), with or without a final newline. Keys are written in the order read: the
# proof needs no sorting (a duplicate key leaves the parsed object one key short, so its
# text can never come back), and sorting them again took ~15% of the re-serialisation.
# Sandproof writes its keys sorted (``evidence.dumps``), so its own bundles read as before.
CANONICAL = orjson.OPT_INDENT_2


def _fast(raw: bytes) -> dict[str, Any] | None:
    """The document when it is in canonical form (then no key can be duplicated), else None."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        again = orjson.dumps(data, option=CANONICAL)
    except TypeError:
        return None
    # with or without the final newline, compared in place (raw[:-1] would copy the file)
    tail = raw[len(again) :] if raw.startswith(again) else None
    return data if tail in (b"", b"\n") else None


ENVELOPE_KEYS = frozenset({"payload", "payloadType", "signatures"})


def is_envelope(data: Mapping[str, Any]) -> bool:
    """A DSSE envelope (signing.py opens it), not a bare bundle: told apart without importing
    the signing code (securesystemslib and cryptography, ~50 ms of every ``sandproof verify``)."""
    return set(data) >= ENVELOPE_KEYS


def parse(raw: bytes, where: str) -> dict[str, Any]:
    if len(raw) > MAX_BYTES:
        raise BundleError(f"bundle {where}: {len(raw)} bytes, more than the {MAX_BYTES} byte limit")
    if (data := _fast(raw)) is not None:
        return data
    try:
        data = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except UnicodeDecodeError as exc:
        raise BundleError(f"bundle {where}: not UTF-8 (byte {exc.start})") from exc
    except RecursionError:
        raise BundleError(f"bundle {where}: nested too deeply") from None
    except ValueError as exc:
        raise BundleError(f"bundle {where}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BundleError(f"bundle {where}: expected a JSON object at the top, got {type(data).__name__}")
    if _SURROGATE_ESCAPE.search(raw):  # rare: only then is the whole document encoded again
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BundleError(f"bundle {where}: a string escapes a lone surrogate, which is not Unicode text") from None
    return data


# "\udc80" is valid JSON syntax (RFC 8259 §8.2) but no Unicode text: the stdlib gives a str that
# every later encode (msgspec, a report, a hash) refuses with an exception instead of a verdict
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def typed(data: dict[str, Any], where: str) -> model.Bundle:
    """The bundle as typed values, checked against the schema it names (``model``)."""
    name = data.get("schema")
    if name == contract.RECEIPT_SCHEMA:  # a signed receipt opened as if it were evidence
        raise BundleError(f"bundle {where}: a run receipt, not evidence: verify RECEIPT --attestation BUNDLE")
    if not isinstance(name, str) or name not in SCHEMAS:
        what = 'no "schema" field' if "schema" not in data else f"unknown schema {repr(name)[:80]}"
        raise BundleError(f"bundle {where}: {what}; expected one of {', '.join(SCHEMAS)}")
    try:
        return model.from_json(data)
    except model.ShapeError as exc:
        raise BundleError(f"bundle {where}: does not match schema {name}: {str(exc)[:240]}") from None


def from_mapping(data: Mapping[str, object], where: str) -> model.Bundle:
    """A JSON object built in Python, read as its file would be: written out, then through
    the strict reader and the schema (a NaN, say, is refused here as it would be there)."""
    try:
        raw = json.dumps(data).encode()
    except (TypeError, ValueError) as exc:
        raise BundleError(f"bundle {where}: not JSON: {exc}") from None
    return decode(raw, where)


def decode(raw: bytes, where: str) -> model.Bundle:
    """Strict JSON, then the typed bundle: what the verifier reads."""
    return typed(parse(raw, where), where)


def validate(data: dict[str, Any], where: str) -> str:
    """Check against the schema the bundle names; return that schema name."""
    return typed(data, where).schema


def validate_json_schema(data: dict[str, Any], where: str) -> str:
    """Check against the shipped JSON Schema itself (the published contract; slower)."""
    name = data.get("schema")
    if not isinstance(name, str) or name not in SCHEMAS:
        what = 'no "schema" field' if "schema" not in data else f"unknown schema {repr(name)[:80]}"
        raise BundleError(f"bundle {where}: {what}; expected one of {', '.join(SCHEMAS)}")
    try:
        _validator(SCHEMAS[name])(data)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise BundleError(f"bundle {where}: does not match schema {name}: {exc.message[:240]}") from None
    except RecursionError:
        raise BundleError(f"bundle {where}: nested too deeply") from None
    return name


def load(path: str | Path) -> dict[str, Any]:
    """Read, parse strictly and check against its schema."""
    data = load_json(path)
    validate(data, str(path))
    return data


def read_bytes(path: str | Path, *, dir_fd: int | None = None, follow: bool = True) -> bytes:
    """A bundle's bytes, read once: only a regular file, never opened otherwise (a FIFO or a
    device would block, never end, or run its driver's open: ``regular``), at most
    ``MAX_BYTES`` + 1, never blocking. ``follow=False`` (directory mode) also refuses a
    symlink: a link to /etc/shadow or to a bundle elsewhere is not a file of the directory."""
    try:
        fd, st = open_regular(str(path), dir_fd=dir_fd, follow=follow)
    except NotRegular:
        raise BundleError(f"bundle {path}: not a regular file") from None
    except OSError as exc:
        why = "a symlink, not followed" if exc.errno == errno.ELOOP and not follow else exc.strerror or str(exc)
        raise BundleError(f"bundle {path}: cannot read: {why}") from exc
    try:
        if st.st_size > MAX_BYTES:
            raise BundleError(f"bundle {path}: {st.st_size} bytes, more than the {MAX_BYTES} byte limit")
        return _read_bounded(fd, st.st_size)
    except OSError as exc:
        raise BundleError(f"bundle {path}: cannot read: {exc.strerror}") from exc
    finally:
        os.close(fd)


def _read_bounded(fd: int, size: int) -> bytes:
    """At most ``MAX_BYTES`` + 1 bytes, to the end of the file. Asked for one byte more than
    fstat's size, a file that did not change is read in one call (and an empty one says it
    is at its end); one that grew since is read on, to the bound. (A buffered
    ``read(MAX_BYTES + 1)`` first allocates the whole bound, 16 MiB per bundle.)"""
    chunks, left = [], MAX_BYTES + 1
    ask = min(size, MAX_BYTES) + 1
    while left > 0:
        chunk = os.read(fd, min(left, ask))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
        ask = 1 << 20
    return b"".join(chunks)


def read_below(top: str | Path, relative: str) -> bytes:
    """``relative`` under the directory ``top``, every component opened without following a
    symlink: a directory swapped for a link after it was listed leads nowhere else."""
    *dirs, name = relative.split("/")
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for d in dirs:
            try:
                nxt = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except OSError as exc:
                raise BundleError(f"bundle {top}/{relative}: cannot open {d}: {exc.strerror}") from exc
            os.close(fd)
            fd = nxt
        try:
            return read_bytes(name, dir_fd=fd, follow=False)
        except BundleError as exc:
            raise BundleError(exc.message.replace(f"bundle {name}:", f"bundle {top}/{relative}:", 1)) from exc
    finally:
        os.close(fd)


def load_json(path: str | Path) -> dict[str, Any]:
    """Read with the size limit and parse strictly; no schema yet (it may be an envelope)."""
    return parse(read_bytes(path), str(path))
