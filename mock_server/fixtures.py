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
        self.aliased = "*" in stream  # an alias is written *name

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

    def construct_document(self, node: yaml.Node) -> Any:
        if self.aliased:
            _refuse_alias_bombs(node)
        return super().construct_document(node)


EXPANDED_CAP = 1_000_000
"""Values a fixture's aliases may expand to when that is over :data:`EXPANDED_RATIO` times
the values written: a file of a few hundred bytes could otherwise expand to billions
("billion laughs"), and the mock reads every value of a fixture (``${VAR}`` substitution,
the checks). Records merging a shared mapping (``<<: *base``) expand ~10-20 times."""
EXPANDED_RATIO = 100


class _TooExpanded(yaml.YAMLError):
    def __init__(self, written: int, expanded: int) -> None:
        super().__init__(f"{written} values expand to {expanded}")
        self.written = written
        self.expanded = expanded


def _refuse_alias_bombs(root: yaml.Node) -> None:
    """Raise :class:`_TooExpanded` if ``root``'s aliases expand it beyond
    :data:`EXPANDED_CAP` values and :data:`EXPANDED_RATIO` times the values written.

    Counted on the node graph, each node once (an alias is the node it names), in time
    and memory of the file's size: never expanded."""
    sizes: dict[int, int] = {}
    # (node, None): to visit; (node, its children): visited, its size due once theirs are.
    stack: list[tuple[yaml.Node, list[yaml.Node] | None]] = [(root, None)]
    while stack:
        node, children = stack.pop()
        key = id(node)
        if children is not None:
            sizes[key] = 1 + sum(sizes.get(id(child), 1) for child in children)
            continue
        if key in sizes:
            continue
        sizes[key] = 1  # meanwhile: a node that contains itself counts once
        children = _children(node)
        stack.append((node, children))
        stack.extend((child, None) for child in children if id(child) not in sizes)
    expanded = sizes[id(root)]
    if expanded > EXPANDED_CAP and expanded > EXPANDED_RATIO * len(sizes):
        raise _TooExpanded(len(sizes), expanded)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}


def display(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it; as given when
    it cannot be resolved (a symlink loop: reading it then says so) or the working
    directory is gone."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, RuntimeError, OSError):
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

    def schema_errors(
        self, errors: Iterable[ValidationError], where: str, *, data: Any = None
    ) -> None:
        """One line per JSON Schema error, each with its fix. ``data``: the whole file, for
        errors of the fixture format itself (not the spec's): each record is then named by
        its id, and a field the format requires is said to be the format's."""
        errors = sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])
        # A field missing because it was misspelt: the unknown field's line names it.
        suggested: set[tuple[tuple[Any, ...], str]] = set()
        for error in errors:
            for _key, close in _unknown_keys(error):
                if close is not None:
                    suggested.add((tuple(error.absolute_path), close))
        # A value of the wrong type that must be one of a list: its type error names them.
        listed = {
            tuple(e.absolute_path)
            for e in errors
            if e.validator == "type" and isinstance(e.schema, Mapping) and e.schema.get("enum")
        }
        for error in errors:
            path = list(error.absolute_path)
            if error.validator == "enum" and tuple(path) in listed:
                continue
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                known = _fields(error)
                for key, close in _unknown_keys(error):
                    fix = (
                        f" (did you mean '{close}'?)"
                        if close is not None
                        else f"; remove it (the fields here: {', '.join(known)})"
                    )
                    self.add(_place(where, [*path, key], data), f"unknown field{fix}")
                continue
            if error.validator == "required":
                name = missing_property(error)
                if (tuple(path), name) in suggested:
                    continue
                path.append(name)
            self.add(_place(where, path, data), explain(error, format_field=data is not None))

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
            "use letters, digits and punctuation only" + (" (no spaces)" if char == " " else "")
        )
    return None


def did_you_mean(value: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when one option is close to ``value``, else the options."""
    options = [str(option) for option in options]
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (expected one of: {', '.join(options)})"


def _fields(error: ValidationError) -> list[str]:
    """The fields the schema an error is about declares."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    return [str(key) for key in schema.get("properties", {})]


def _unknown_keys(error: ValidationError) -> list[tuple[str, str | None]]:
    """An ``additionalProperties`` error's unknown keys, each with the known one it is
    close to (a typo), if any."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    known = _fields(error)
    found: list[tuple[str, str | None]] = []
    for key in error.instance:
        if str(key) not in known:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            found.append((str(key), close[0] if close else None))
    return found


def _place(where: str, path: Iterable[Any], data: Any) -> str:
    """Where an error is: ``where`` then ``path``; with the file's ``data``, each record of
    a top-level list named by its id, as the checks after the format's name it."""
    text, node = where, data
    for depth, part in enumerate(path):
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
        try:
            node = node[part] if node is not None else None
        except (LookupError, TypeError):
            node = None
        if depth == 1 and isinstance(part, int) and isinstance(node, dict):
            for name in ("id", "jwt_id"):
                value = node.get(name)
                if isinstance(value, str) and value:
                    text += f" ({name} {value})"
                    break
    return text.lstrip(".")


_KINDS = {
    "array": "a list",
    "object": "a mapping",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _yaml(value: Any) -> str:
    """A value as the YAML file shows it: ``null``, ``false``, ``'text'``, ``7``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return _KINDS["object" if isinstance(value, dict) else "array"]
    return repr(value)


def _allows(schema: Any, kind: str) -> bool:
    kinds = schema.get("type") if isinstance(schema, Mapping) else None
    return kind == kinds or (isinstance(kinds, list) and kind in kinds)


def _type_fix(error: ValidationError, kinds: list[str]) -> str:
    """How to write a value of the type ``kinds`` where ``error.instance`` stands."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    value = error.instance
    fixes: list[str] = []
    if "object" in kinds:
        fields = list(schema.get("properties", {}))
        required = list(schema.get("required", []))
        if len(fields) == 1 and isinstance(value, str):
            fixes.append(f"write {{{fields[0]}: {value}}}")
        elif required:
            fixes.append(f"write a mapping with {', '.join(required)}")
    elif "array" in kinds:
        fixes.append("write a list" + ("" if schema.get("minItems") else " ([] for none)"))
    elif "string" in kinds:
        example = _FORMAT_EXAMPLES.get(str(schema.get("format")))
        options = [str(option) for option in schema.get("enum") or () if option is not None]
        if options:  # quoted, it would still not be one of them
            fixes.append(f"write one of {', '.join(options)}")
        elif example is not None:
            fixes.append(f"write it like {example}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            fixes.append(f"quote it: '{value}'")
    elif kinds[0] in ("integer", "number"):
        numeric = isinstance(value, str) and value.strip().lstrip("-").isdigit()
        fixes.append("write the number without quotes" if numeric else f"write {_KINDS[kinds[0]]}")
    if "null" in kinds and fixes:
        fixes[-1] += ", or null"
    return f"; {fixes[0]}" if fixes else ""


def explain(error: ValidationError, *, format_field: bool = False) -> str:
    """A JSON Schema error as a user-facing problem with its fix (``format_field``: an
    error of the fixture format's own fields, not of the spec's)."""
    value: Any = error.validator_value
    if error.validator == "enum":
        options = [str(option) for option in value]
        close = did_you_mean(str(error.instance), options)
        hint = close if "did you mean" in close else ""
        return f"{_yaml(error.instance)} is not one of {', '.join(options)}{hint}"
    if error.validator == "const":
        return f"{_yaml(error.instance)} must be {_yaml(value)}"
    if error.validator == "required":
        fields = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        field_schema = fields.get(missing_property(error), {})
        hint = " (null is allowed)" if _allows(field_schema, "null") else ""
        if _allows(field_schema, "array") and not field_schema.get("minItems"):
            hint = " ([] for none)"
        if format_field:
            return f"missing: add this field{hint}"
        return f"missing: add this field (the spec requires it){hint}"
    if error.validator == "format":
        example = _FORMAT_EXAMPLES.get(str(value))
        fix = f" (write it like {example})" if example else ""
        return f"{error.instance!r} is not a valid {value}{fix}"
    if error.validator == "type":
        kinds = [str(kind) for kind in (value if isinstance(value, list) else [value])]
        expected = " or ".join(_KINDS.get(kind, kind) for kind in kinds)
        return f"{_yaml(error.instance)} is not {expected}{_type_fix(error, kinds)}"
    if error.validator == "minItems":
        return f"an empty list; give at least {value}" if not error.instance else str(error.message)
    if error.validator == "minLength" and error.instance == "":
        return "empty; give a value"
    if error.validator == "minimum":
        return f"{_yaml(error.instance)} is less than the minimum of {value}; give {value} or more"
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
    except UnicodeDecodeError as exc:  # binary, or saved as Latin-1 or UTF-16
        raise FixtureError(
            [
                f"{shown}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                f"{exc.start}); a fixture is YAML: save the file as UTF-8"
            ]
        ) from exc
    except OSError as exc:
        raise FixtureError([f"{shown}: cannot read the fixture file ({exc})"]) from exc
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except _TooExpanded as exc:
        problems.add(
            "",
            f"its aliases (*name) expand its {exc.written:,} values to {exc.expanded:,}, "
            f"beyond the {EXPANDED_CAP:,} the mock reads (aliases of aliases multiply); "
            "write the repeated values out, or alias fewer levels deep",
        )
        problems.raise_if_any()
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
        nested = any("${" in (m.group(2) or "") for m in _PLACEHOLDER.finditer(node))
        if nested or "${" in _PLACEHOLDER.sub("", node):
            problems.add(
                where.lstrip("."),
                f"{node!r}: a '${{' that starts no placeholder; write ${{NAME}} or "
                "${NAME:-default} (NAME of letters, digits and _, not first a digit; a default "
                "holds no '}' and no placeholder)",
            )
            return node

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
