"""Reading fixture files: YAML, ``${VAR}`` placeholders, and problem messages.

What each API's world holds is checked by ``craftkit/world.py`` and
``firma/world.py``; this module gives them the parts every fixture shares,
so that every refusal reads the same way::

    fixtures/craftkit.yaml: signature_requests[3] (id 0c3f...).status: 'canceled'
    is not one of sent, viewed, ... (did you mean 'cancelled'?)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from jsonschema.exceptions import ValidationError

from mock_server._http import not_text
from mock_server.contract import Contract
from mock_server.errors import FixtureError
from mock_server.issues import missing_property

__all__ = [
    "FixtureFile",
    "Problems",
    "did_you_mean",
    "display",
    "explain",
    "read_fixture",
    "unsendable_key",
]

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

_FORMAT_EXAMPLES = {
    "uuid": "0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c",
    "date-time": '"2026-11-01T09:00:00Z"',
    "email": "ada@example.com",
    "uri": "https://api.example.com/v1/signatures/<id>/certificate",
}


if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:  # libyaml's parser when PyYAML was built with it: pure-Python YAML is slow
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MERGE = "tag:yaml.org,2002:merge"


class _StrictLoader(_SafeLoader):
    """Safe YAML without timestamp coercion (dates stay the strings the spec wants)
    and with duplicate keys refused (YAML would silently keep the last one).

    Anchors and merge keys work: ``<<: *base`` then ``name: other`` overrides the
    merged ``name``, as YAML says; only keys written twice in one mapping are refused.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._checked: set[int] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Flattening rewrites node.value in place (merged keys first, then the
        # explicit ones), so check the keys as written, once per node.
        if id(node) not in self._checked:
            self._checked.add(id(node))
            self._refuse_duplicate_keys(node)
        super().flatten_mapping(node)

    def _refuse_duplicate_keys(self, node: yaml.MappingNode) -> None:
        seen: set[Any] = set()
        merges = 0
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                merges += 1
                if merges > 1:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        "duplicate key '<<' (merge several mappings with <<: [*a, *b])",
                        key_node.start_mark,
                    )
                continue
            key = self.construct_object(key_node)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: PyYAML refuses it itself
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}


def display(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass
class Problems:
    """Collects refusals for one file; :meth:`raise_if_any` ends start-up with all of them."""

    file: str
    lines: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        where = where.lstrip(".")  # a record checked alone has no prefix: ".project" -> "project"
        self.lines.append(
            f"{self.file}: {where}: {message}" if where else f"{self.file}: {message}"
        )

    def raise_if_any(self) -> None:
        if self.lines:
            raise FixtureError(self.lines)

    def schema_errors(self, errors: Iterable[ValidationError], where: str) -> None:
        """One line per JSON Schema error, each with its fix."""
        for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
            place = where + "".join(
                f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
            )
            message = explain(error)
            if error.validator == "required":
                place += f".{missing_property(error)}"
            self.add(place.lstrip("."), message)

    def unknown_fields(
        self,
        contract: Contract,
        schema: Any,
        instance: Any,
        where: str,
        extra: Iterable[str] = (),
    ) -> None:
        """Flag keys the spec's schema does not declare (a typo would pass JSON Schema)."""
        schema = contract.deref(schema)
        schema = schema if isinstance(schema, dict) else {}
        if isinstance(instance, dict) and isinstance(schema.get("properties"), dict):
            if "additionalProperties" in schema:
                return
            known = [*schema["properties"], *extra]
            for key in instance:
                if key not in known:
                    self.add(f"{where}.{key}", f"unknown field{did_you_mean(str(key), known)}")
            for key, sub in schema["properties"].items():
                if key in instance:
                    self.unknown_fields(contract, sub, instance[key], f"{where}.{key}")
        elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(instance):
                self.unknown_fields(contract, schema["items"], item, f"{where}[{index}]")


def unsendable_key(key: str) -> str | None:
    """Why no request can present ``key`` (a character beyond visible ASCII: HTTP header
    values are bytes, and the mock compares a key's as it reads them), or ``None``.

    >>> print(unsendable_key("k\u00e9y").partition(";")[0])
    character 2 ('é') is not ASCII, so no request can send this key
    >>> unsendable_key("ck_test_acme_0001") is None
    True
    """
    for index, char in enumerate(key, 1):
        if "!" <= char <= "~":
            continue
        what = (
            "a space"
            if char == " "
            else "not ASCII"
            if not char.isascii()
            else "a control character"
        )
        return (
            f"character {index} ({char!r}) is {what}, so no request can send this key; "
            "use letters, digits and punctuation only"
        )
    return None


def did_you_mean(value: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when one option is close to ``value``, else the options."""
    options = [str(option) for option in options]
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (expected one of: {', '.join(options)})"


def explain(error: ValidationError) -> str:
    """A JSON Schema error as a user-facing problem with its fix."""
    value: Any = error.validator_value
    if error.validator == "enum":
        options = [str(option) for option in value]
        close = did_you_mean(str(error.instance), options)
        hint = close if "did you mean" in close else ""
        return f"{error.instance!r} is not one of {', '.join(options)}{hint}"
    if error.validator == "const":
        return f"{error.instance!r} must be {value!r}"
    if error.validator == "required":
        return "missing: add this field (the spec requires it; use null where it allows null)"
    if error.validator == "format":
        example = _FORMAT_EXAMPLES.get(str(value))
        fix = f" (write it like {example})" if example else ""
        return f"{error.instance!r} is not a valid {value}{fix}"
    if error.validator == "type":
        expected = " or ".join(value) if isinstance(value, list) else str(value)
        return f"{error.instance!r} is not of type {expected}"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        known = list(schema.get("properties", {}))
        unknown = [str(key) for key in error.instance if key not in known]
        hints = "".join(did_you_mean(key, known) for key in unknown)
        return f"{error.message}{hints}"
    return str(error.message)


@dataclass(frozen=True)
class FixtureFile:
    """A fixture file read and expanded, not yet checked against its API."""

    path: Path
    shown: str
    data: dict[str, Any]

    @property
    def api(self) -> str:
        return str(self.data.get("api", ""))


def read_fixture(path: Path, environ: Mapping[str, str]) -> FixtureFile:
    """Read ``path`` and replace each ``${VAR}`` (or ``${VAR:-default}``) from ``environ``
    (the CLI passes the process environment through ``Settings.environ``).

    Raises :class:`FixtureError` naming the file (and line) for unreadable
    files, YAML errors and unset variables.
    """
    shown = display(path)
    problems = Problems(shown)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise FixtureError([f"{shown}: no such file (check --fixtures)"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError([f"{shown}: cannot read the fixture file ({exc})"]) from exc
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        problems.add(where, f"not valid YAML: {problem} (fix the syntax there)")
        problems.raise_if_any()
    if not isinstance(data, dict):
        problems.add(
            "", "a fixture is a YAML mapping starting with 'api: craftkit' or 'api: firma'"
        )
        problems.raise_if_any()
    expanded = _expand(data, "", environ, problems)
    problems.raise_if_any()
    return FixtureFile(path=path, shown=shown, data=expanded)


def _expand(node: Any, where: str, environ: Mapping[str, str], problems: Problems) -> Any:
    if isinstance(node, dict):
        return {
            key: _expand(value, f"{where}.{key}", environ, problems) for key, value in node.items()
        }
    if isinstance(node, list):
        return [_expand(value, f"{where}[{i}]", environ, problems) for i, value in enumerate(node)]
    if isinstance(node, str) and "${" in node:

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = environ.get(name)
            if value:
                problem = not_text(value)  # bytes not UTF-8: os.environ holds them so
                if problem is not None:
                    problems.add(
                        where.lstrip("."),
                        f"environment variable {name}: {problem} (its bytes are not UTF-8)",
                    )
                return value
            if default is not None:
                return default
            problems.add(
                where.lstrip("."),
                f"environment variable {name} is not set "
                f"(export {name}=..., or write ${{{name}:-default}})",
            )
            return ""

        return _PLACEHOLDER.sub(substitute, node)
    return node
