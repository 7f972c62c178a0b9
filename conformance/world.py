"""What a target holds, read from a fixture file (format: docs/fixtures.md).

The harness reads the same files as the mock, but needs less of them: for a
real target only ids, tenants, states and keys are required; every other field,
when present, is what a cancel must leave unchanged. This reader is the
harness's own (the harness never imports ``mock_server``) and deliberately lax
about everything it does not use; it refuses, as the mock does, what would make
the checks expect what no target can do (a key no request can send, one uuid
listed twice, a field a record's status contradicts).

>>> world = read_world(Path("fixtures/craftkit.yaml"), environ={})
>>> world.tenants[0].keys
('ck_test_acme_0001', 'ck_live_acme_0001')
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from conformance.errors import FixtureError

__all__ = [
    "API_NAMES",
    "KEY_PREFIXES",
    "YAML_LOADER",
    "Resource",
    "State",
    "Tenant",
    "World",
    "read_world",
    "yaml_error",
]

API_NAMES = ("craftkit", "firma")
KEY_PREFIXES: Mapping[str, tuple[str, ...]] = {"craftkit": ("ck_live_", "ck_test_"), "firma": ()}
"""What each API's keys start with: Craftkit refuses any other key (its spec), so a fixture
listing one would make the harness expect a key to work and to be refused at once. The
mock refuses such a fixture too (tests/conformance/test_world.py holds the two together)."""


class State(Enum):
    """What the target must answer when a resource is cancelled or revoked."""

    OPEN = "open"  # in flight / active: the first cancel or revoke succeeds
    CLOSED = "closed"  # terminal / revoked: refused, state unchanged
    LOCKED = "locked"  # mock.on_cancel: upstream_locked: 409, state unchanged
    FAILING = "failing"  # mock.on_cancel: provider_error: 502, state unchanged


@dataclass(frozen=True)
class Tenant:
    """A Craftkit project or a Firma workspace, with the keys that act for it."""

    id: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Resource:
    """A signature request (Craftkit) or a JWT (Firma) the target holds."""

    id: str
    tenant: str
    state: State
    record: Mapping[str, Any] = field(default_factory=dict)  # the fixture's fields


@dataclass(frozen=True)
class World:
    """A fixture file as the harness sees it."""

    api: str
    path: Path
    tenants: tuple[Tenant, ...]
    resources: tuple[Resource, ...]
    write_per_minute: int | None = None
    # How a key is written in a reproduction: "$VAR" for keys read from the
    # environment, so that curl lines in CI logs never carry a secret.
    key_names: Mapping[str, str] = field(default_factory=dict)

    def tenant(self, tenant_id: str) -> Tenant:
        return next(t for t in self.tenants if t.id == tenant_id)

    def owner_key(self, resource: Resource) -> str:
        return self.tenant(resource.tenant).keys[0]

    def foreign_key(self, resource: Resource) -> str | None:
        """A key of another tenant, or None when the fixture lists one tenant."""
        return next((t.keys[0] for t in self.tenants if t.id != resource.tenant), None)

    def keys(self) -> list[str]:
        return [key for tenant in self.tenants for key in tenant.keys]

    def in_state(self, state: State) -> list[Resource]:
        return [r for r in self.resources if r.state is state]


_SHAPES = {
    # api: (tenant list, resource list, resource id field, tenant field)
    "craftkit": ("projects", "signature_requests", "id", "project"),
    "firma": ("workspaces", "jwts", "jwt_id", "workspace"),
}
_API_TITLES = {"projects": "Craftkit", "workspaces": "Firma"}  # by the tenants' list
_FIELDS = {
    "craftkit": ("api", "projects", "signature_requests"),
    "firma": ("api", "workspaces", "jwts", "rate_limits"),
}
"""Each API's top-level fields, as the mock's format lists them. The harness ignores other
keys, but not the other API's: a Craftkit file's ``rate_limits`` would set the rate-limit
probe's quota, a ``jwts`` list in it holds records no Craftkit run reads."""
_CRAFTKIT_OPEN = {"sent", "viewed"}
_CRAFTKIT_CLOSED = {"completed", "declined", "expired", "cancelled", "failed"}
_ON_CANCEL = {"upstream_locked": State.LOCKED, "provider_error": State.FAILING}
_NULL, _SET = "null", "set"
_SIGNING = frozenset({"Signer", "Approver"})
_UNFINISHED = {"completedAt": _NULL, "signedDownloadUrl": _NULL, "certificateUrl": _NULL}
_ENDED = {"signedDownloadUrl": _NULL, "certificateUrl": _NULL}
"""As the mock's: a request that ended otherwise than completed has no signed PDF nor
certificate; its ``completedAt`` is left open."""
_STATUS_RULES: dict[str, dict[str, str]] = {
    "sent": {
        **_UNFINISHED,
        "errorMessage": _NULL,
        "recipients[].signedAt": "none",
        "recipients[].declinedAt": "none",
    },
    "viewed": {
        **_UNFINISHED,
        "errorMessage": _NULL,
        "recipients[].signedAt": "not all",
        "recipients[].declinedAt": "none",
    },
    "completed": {
        "completedAt": _SET,
        "signedDownloadUrl": _SET,
        "certificateUrl": _SET,
        "errorMessage": _NULL,
        "recipients[].signedAt": "all",
        "recipients[].declinedAt": "none",
    },
    "declined": {
        **_ENDED,
        "errorMessage": _NULL,
        "recipients[].signedAt": "not all",
        "recipients[].declinedAt": "one",
    },
    "expired": {
        **_ENDED,
        "errorMessage": _NULL,
        "recipients[].signedAt": "not all",
        "recipients[].declinedAt": "none",
    },
    "cancelled": {
        "signedDownloadUrl": _NULL,
        "certificateUrl": _NULL,
        "recipients[].signedAt": "not all",
        "recipients[].declinedAt": "none",
    },
    "failed": {
        **_ENDED,
        "errorMessage": _SET,
        "recipients[].signedAt": "not all",
        "recipients[].declinedAt": "none",
    },
}
"""What a signature request in each status has (docs/fixtures.md, "What a status implies"):
a field ``null`` or ``set`` (one a status does not name may be either), and how many
Signers and Approvers have ``signedAt`` and ``declinedAt``. The mock's rules, which its
events and cancel follow: a fixture that contradicts them describes a state no target
reaches, and the checks would expect it. The mock refuses such a file too
(tests/conformance/test_world.py holds the two together)."""
_NULL_UNTIL = {
    "completedAt": ("null until it is completed", "completed"),
    "signedDownloadUrl": ("null until it is completed: the signed PDF", "completed"),
    "certificateUrl": ("null until it is completed: its completion certificate", "completed"),
    "errorMessage": ("null unless it failed", "failed"),
}
_SET_FOR = {
    "completedAt": "when its last Signer or Approver signed",
    "signedDownloadUrl": "the signed PDF",
    "certificateUrl": "its completion certificate",
    "errorMessage": "what failed",
}
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
"""A uuid string (docs/behaviour.md): ASCII hex digits in any case, hyphens at 8-4-4-4-12."""
_DATE_TIME = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$",
    re.ASCII,
)
"""An RFC 3339 date-time as the mock's ``format: date-time`` check reads one (jsonschema's,
through rfc3339-validator: any letter case, a real day of a year after 0, no leap second)."""
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:  # libyaml's parser when PyYAML was built with it: pure-Python YAML is slow
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

YAML_LOADER = _SafeLoader
"""Plain safe YAML (libyaml's when built with it), for documents that are not fixtures."""

_MERGE = "tag:yaml.org,2002:merge"


class _Loader(_SafeLoader):
    """Safe YAML as the mock reads fixtures: timestamps stay strings (a record's
    ``createdAt`` must compare equal to the target's JSON), a key written twice in
    one mapping is refused, anchors and merge keys (``<<: *base``) work and an
    explicit key overrides a merged one."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._checked: set[int] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Flattening rewrites node.value in place: check the keys as written, once.
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


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}


def read_world(path: Path, *, environ: Mapping[str, str], api: str | None = None) -> World:
    """Read ``path``, taking ``${VAR}`` s from ``environ`` (the front doors pass the process
    environment through ``Settings.environ``); raise ``FixtureError`` listing every
    problem with its place and fix."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(
            [f"{name}: cannot read the fixture file ({exc.strerror}); pass --fixtures FILE"]
        ) from exc
    except UnicodeDecodeError as exc:  # binary, or saved as Latin-1 or UTF-16
        raise FixtureError(
            [
                f"{name}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                f"{exc.start}); a fixture is YAML: save the file as UTF-8, or pass --fixtures "
                "the fixture file"
            ]
        ) from exc
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        place, problem = yaml_error(exc, text)
        raise FixtureError(
            [f"{name}: {place}not valid YAML: {problem} (fix the syntax there)"]
        ) from exc
    if not isinstance(data, dict):
        holds = "is empty" if data is None else f"holds {_kind(data)}"
        raise FixtureError(
            [
                f"{name}: a fixture is a YAML mapping starting with 'api: craftkit' or "
                f"'api: firma'; this file {holds}"
            ]
        )
    problems: list[str] = []
    declared = data.get("api")
    if declared is None:
        raise FixtureError(
            [f"{name}: api: missing; add 'api: craftkit' or 'api: firma' at the top of the file"]
        )
    if declared not in API_NAMES:
        problems.append(
            f"{name}: api: {declared!r} is not one of {', '.join(API_NAMES)}; add 'api: "
            "craftkit' or 'api: firma'"
        )
        raise FixtureError(problems)
    if api is not None and declared != api:
        raise FixtureError(
            [
                f"{name}: api: this file describes {declared!r}, but the run checks {api!r}; "
                f"pass the {api} fixture file"
            ]
        )
    key_names: dict[str, str] = {}
    tenants_field, resources_field, id_field, tenant_field = _SHAPES[declared]
    fields = _FIELDS[declared]
    for other in API_NAMES:
        problems.extend(
            f"{name}: {key}: unknown field (a {_API_TITLES[_SHAPES[other][0]]} one); remove it "
            f"(the fields here: {', '.join(fields)})"
            for key in _FIELDS[other]
            if key in data and key not in fields
        )
    tenants = _tenants(
        data.get(tenants_field),
        name,
        tenants_field,
        KEY_PREFIXES[declared],
        environ,
        key_names,
        problems,
    )
    known = {t.id for t in tenants}
    # Tenants written but refused above (or no list of them at all): their records'
    # tenant is not said to be unknown as well, once per record.
    listed_raw = data.get(tenants_field)
    named_tenants = (
        {e["id"] for e in listed_raw if isinstance(e, dict) and isinstance(e.get("id"), str)}
        if isinstance(listed_raw, list) and listed_raw
        else None  # None: every tenant unknown, said once above
    )
    resources = []
    raw = data.get(resources_field) or []
    if not isinstance(raw, list):
        problems.append(
            f"{name}: {resources_field}: expected a list of records (one '- ' item each), "
            f"got {_kind(raw)}"
        )
        raw = []
    seen: dict[str, tuple[int, str]] = {}  # _same_id(id) -> (index, id as written)
    for index, record in enumerate(raw):
        where = f"{name}: {resources_field}[{index}]"
        if not isinstance(record, dict):
            problems.append(
                f"{where}: expected a record (a mapping: {{{id_field}: ..., {tenant_field}: "
                f"...}}), got {_kind(record)}"
            )
            continue
        rid, owner = record.get(id_field), record.get(tenant_field)
        if rid is not None and rid != "" and not isinstance(rid, str):
            problems.append(f"{where}.{id_field}: {_kind(rid)}, expected a string: quote it")
            continue
        if not isinstance(rid, str) or not rid:
            problems.append(f"{where}.{id_field}: missing; every record needs its {id_field}")
            continue
        if not _UUID.fullmatch(rid):  # no request names it: a target's ids are uuids
            problems.append(
                f"{where}.{id_field}: {rid!r} is not a valid uuid (write it like "
                "0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c)"
            )
        first, written = seen.setdefault(_same_id(rid), (index, rid))
        if first != index and written == rid:
            problems.append(f"{where}.{id_field}: {rid!r} is listed twice; ids must be unique")
        elif first != index:
            problems.append(
                f"{where}.{id_field}: {rid!r} is {written!r} ({resources_field}[{first}]) in "
                "another letter case: a uuid names one resource in any case; list it once"
            )
        if owner not in known and (named_tenants is None or owner in named_tenants):
            continue  # its tenant is refused above: said there
        if owner not in known:
            listed = ", ".join(sorted(known)) or "none"
            problem = (
                f"missing; name one of the listed {tenants_field}"
                if owner is None
                else f"{owner!r} is not a listed {tenants_field[:-1]}"
            )
            problems.append(f"{where}.{tenant_field}: {problem} (listed: {listed})")
            continue
        state = _state(declared, record, where, problems)
        if state is not None and declared == "craftkit":
            problems.extend(
                f"{where}{place}: {contradiction}"
                for place, contradiction in _status_contradictions(record)
            )
        if state is not None:
            resources.append(Resource(rid, str(owner), state, record))
    limits = (data.get("rate_limits") if "rate_limits" in fields else None) or {}
    per_minute = limits.get("write_per_minute") if isinstance(limits, dict) else None
    if per_minute is not None and (
        not isinstance(per_minute, int) or isinstance(per_minute, bool) or per_minute < 1
    ):
        problems.append(
            f"{name}: rate_limits.write_per_minute: {_kind(per_minute)} must be a positive integer"
        )
        per_minute = None
    if problems:
        raise FixtureError(problems)
    return World(declared, path, tuple(tenants), tuple(resources), per_minute, key_names)


def _tenants(
    raw: Any,
    name: str,
    plural: str,
    prefixes: tuple[str, ...],
    environ: Mapping[str, str],
    key_names: dict[str, str],
    problems: list[str],
) -> list[Tenant]:
    """The tenants of ``raw`` (the file ``name``'s list of ``plural``: projects, workspaces),
    each key checked as the mock checks it: its API's prefix, a key a request can send, one
    tenant per key."""
    where = f"{name}: {plural}"
    if raw is not None and not isinstance(raw, list):
        problems.append(
            f"{where}: expected a list of {plural} (one '- ' item each, with its id and "
            f"api_keys), got {_kind(raw)}"
        )
        return []
    if not raw:
        problems.append(f"{where}: missing; list at least one tenant with its api_keys")
        return []
    tenants = []
    owners: dict[str, str] = {}  # key -> the tenant that listed it first
    listed: dict[str, int] = {}  # tenant id -> the index that listed it first
    for index, entry in enumerate(raw):
        here = f"{where}[{index}]"
        if not isinstance(entry, dict):
            problems.append(
                f"{here}: expected a {plural[:-1]} (a mapping: {{id: ..., api_keys: [...]}}), "
                f"got {_kind(entry)}"
            )
            continue
        if entry.get("id") is not None and not isinstance(entry["id"], str):
            problems.append(f"{here}.id: {_kind(entry['id'])}, expected a string: quote it")
            continue
        if not isinstance(entry.get("id"), str) or not entry["id"]:
            problems.append(f"{here}.id: missing; every tenant needs an id")
            continue
        if (first := listed.setdefault(entry["id"], index)) != index:
            # Records name their tenant by id: two would be one tenant with two sets of keys.
            problems.append(
                f"{here}.id: duplicate {plural[:-1]} id {entry['id']!r} (also {plural}[{first}]); "
                f"list each {plural[:-1]} once, with all its api_keys"
            )
            continue
        keys = entry.get("api_keys")
        if not isinstance(keys, list) or not keys:
            what = (
                "missing"
                if keys is None
                else "an empty list"
                if keys == []
                else f"{_kind(keys)}, not a list (one '- ' item per key)"
            )
            problems.append(
                f'{here}.api_keys: {what}; list at least one key (use "${{VAR}}" to read it '
                "from the environment)"
            )
            continue
        expanded = []
        for k, key in enumerate(keys):
            place = f"{here}.api_keys[{k}]"
            value = _expand(key, place, environ, key_names, problems)
            if not value:
                continue
            # A key read from the environment is a secret: named by its variable, never shown.
            shown = f"the key in {key_names[value]}" if value in key_names else repr(value)
            if prefixes and not value.startswith(prefixes):
                problems.append(
                    f"{place}: {shown} must start with {' or '.join(prefixes)} "
                    f"({_API_TITLES[plural]} refuses other keys); list the {plural[:-1]}'s "
                    f"{_API_TITLES[plural]} API key"
                )
            elif (unsendable := _unsendable_key(value)) is not None:
                problems.append(f"{place}: {shown}: {unsendable}")
            elif value in owners:
                problems.append(
                    f"{place}: {shown} already belongs to {plural[:-1]} {owners[value]} (a key "
                    f"has one {plural[:-1]}); list each key once, under the {plural[:-1]} it "
                    "acts for"
                )
            owners.setdefault(value, entry["id"])
            expanded.append(value)
        tenants.append(Tenant(entry["id"], tuple(expanded)))
    return tenants


def _unsendable_key(key: str) -> str | None:
    """Why no request can present ``key`` (a character beyond visible ASCII: a header value
    is bytes, and a target compares a key as it reads them), or ``None``; worded as the mock
    words it.

    >>> print(_unsendable_key("k\u00e9y").partition(";")[0])
    character 2 ('é') is not ASCII, so no request can send this key
    >>> _unsendable_key("ck_test_acme_0001") is None
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


def _expand(
    value: Any,
    where: str,
    environ: Mapping[str, str],
    key_names: dict[str, str],
    problems: list[str],
) -> str | None:
    if not isinstance(value, str) or not value:
        problems.append(f"{where}: {value!r} is not a key; keys are non-empty strings")
        return None
    match = _VARIABLE.fullmatch(value)
    if match is None:
        return value
    variable, default = match.group(1), match.group(2)
    if variable in environ and environ[variable]:
        key_names[environ[variable]] = f"${variable}"
        return environ[variable]
    if default is not None:
        return default
    problems.append(
        f"{where}: environment variable {variable} is not set; export {variable}=<the key> "
        "before the run"
    )
    return None


def _same_id(rid: str) -> str:
    """What makes two ids one resource: a uuid string in any letter case names one (targets
    compare them so, as the mock does), any other id only as written.

    >>> _same_id("0C3F5A8E-2B7D-4C1E-9A6F-1D2E3F4A5B6C"), _same_id("Not-A-Uuid")
    ('0c3f5a8e-2b7d-4c1e-9a6f-1d2e3f4a5b6c', 'Not-A-Uuid')
    """
    return rid.lower() if _UUID.fullmatch(rid) else rid


def _state(api: str, record: Mapping[str, Any], where: str, problems: list[str]) -> State | None:
    if api == "firma":
        if "revoked_at" not in record:
            problems.append(
                f"{where}.revoked_at: missing; null for an active JWT, a timestamp for a "
                "revoked one"
            )
            return None
        revoked_at = record["revoked_at"]
        if revoked_at is None:
            return State.OPEN
        if not isinstance(revoked_at, str):
            problems.append(
                f"{where}.revoked_at: {_kind(revoked_at)} is not a string or null; write it "
                'like "2026-11-01T09:00:00Z" for a revoked JWT, or null for an active one'
            )
            return None
        if not _is_date_time(revoked_at):
            problems.append(
                f"{where}.revoked_at: {revoked_at!r} is not a valid date-time (write it like "
                '"2026-11-01T09:00:00Z", or null for an active JWT)'
            )
            return None
        return State.CLOSED
    status = record.get("status")
    if status not in _CRAFTKIT_OPEN and status not in _CRAFTKIT_CLOSED:
        choices = ", ".join(sorted(_CRAFTKIT_OPEN | _CRAFTKIT_CLOSED))
        if status is None:
            problems.append(f"{where}.status: missing; write one of {choices}")
        else:
            problems.append(f"{where}.status: {status!r} is not one of {choices}")
        return None
    mock = record.get("mock")
    on_cancel = mock.get("on_cancel") if isinstance(mock, dict) else None
    if on_cancel is None:
        return State.OPEN if status in _CRAFTKIT_OPEN else State.CLOSED
    if on_cancel not in _ON_CANCEL:
        problems.append(
            f"{where}.mock.on_cancel: {on_cancel!r} is not one of {', '.join(_ON_CANCEL)}"
        )
        return None
    if status in _CRAFTKIT_CLOSED:
        # A terminal request answers 409 before the signature service is asked: the block
        # could never act, and the mock refuses it so (docs/fixtures.md).
        problems.append(
            f"{where}.mock.on_cancel: {on_cancel!r} applies to sent or viewed requests only; "
            f"this one is {status} and answers 409 (remove the mock block, or set status to "
            "sent or viewed)"
        )
        return None
    return _ON_CANCEL[on_cancel]


def _is_date_time(value: str) -> bool:
    """Whether the mock takes ``value`` for a ``date-time`` (``_DATE_TIME``).

    >>> _is_date_time("2026-11-03t14:20:00.5+01:00"), _is_date_time("2026-02-30T00:00:00Z")
    (True, False)
    """
    match = _DATE_TIME.match(value.upper())
    if match is None:
        return False
    year, month, day = (int(part) for part in match.groups())
    return year > 0 and 1 <= day <= calendar.monthrange(year, month)[1]


def _status_contradictions(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The fields a Craftkit ``record`` gives that its ``status`` contradicts
    (``_STATUS_RULES``), each as (``.field`` or ``.recipients[n].field``, what is wrong and the
    fix), in the mock's words. A field it leaves out contradicts nothing.

    >>> [(place, why)] = _status_contradictions({"status": "sent", "completedAt": "2026-11-02"})
    >>> place, why.partition(";")[0]
    ('.completedAt', 'a sent request has none (null until it is completed)')
    >>> _status_contradictions({"status": "cancelled", "completedAt": "2026-11-02T10:15:00Z"})
    []
    """
    status = record.get("status")
    if not isinstance(status, str) or status not in _STATUS_RULES:
        return []
    rules = _STATUS_RULES[status]
    request = f"{'an' if status[0] in 'aeiou' else 'a'} {status} request"  # "an expired ..."
    found: list[tuple[str, str]] = []
    for name, rule in rules.items():
        if name not in record:  # left out, or a recipients[] rule
            continue
        if rule == _NULL and record[name] is not None:
            why, then = _NULL_UNTIL[name]
            found.append(
                (
                    f".{name}",
                    f"{request} has none ({why}); remove it, or set status: {then}",
                )
            )
        elif rule == _SET and record[name] is None:
            found.append(
                (
                    f".{name}",
                    f"null, but {request} has one ({_SET_FOR[name]}); write it, or "
                    "leave the field out",
                )
            )
    recipients = record.get("recipients")
    if isinstance(recipients, list):
        found += _recipient_contradictions(recipients, status, request, rules)
    return found


def _recipient_contradictions(
    recipients: list[Any], status: str, request: str, rules: Mapping[str, str]
) -> list[tuple[str, str]]:
    """What :func:`_status_contradictions` finds in ``recipients``."""
    found: list[tuple[str, str]] = []
    signing: list[tuple[int, Mapping[str, Any]]] = []  # Signers and Approvers, by index
    for n, recipient in enumerate(recipients):
        if not isinstance(recipient, dict):
            continue
        designation = recipient.get("designation", "Signer")  # the mock's default
        if designation == "CC":
            for name, act in (("signedAt", "signs"), ("declinedAt", "declines")):
                if recipient.get(name) is not None:
                    found.append(
                        (
                            f".recipients[{n}].{name}",
                            f"a CC only receives copies and never {act}; remove it, or make "
                            "the recipient a Signer or Approver",
                        )
                    )
        elif isinstance(designation, str) and designation in _SIGNING:
            signing.append((n, recipient))
            if recipient.get("signedAt") is not None and recipient.get("declinedAt") is not None:
                found.append(
                    (
                        f".recipients[{n}].declinedAt",
                        "the recipient signed too (signedAt), and a recipient signs or declines, "
                        "not both; remove one",
                    )
                )
    signed = [n for n, r in signing if r.get("signedAt") is not None]
    declined = [n for n, r in signing if r.get("declinedAt") is not None]
    signatures, declines = rules["recipients[].signedAt"], rules["recipients[].declinedAt"]
    if signatures == "none":
        found += [
            (
                f".recipients[{n}].signedAt",
                f"{request} has no signature yet (the first makes it viewed); remove "
                "it, or set status: viewed",
            )
            for n in signed
        ]
    elif signatures == "not all" and signing and len(signed) == len(signing):
        found.append(
            (
                ".recipients",
                "every Signer and Approver has signed (signedAt), and the last signature "
                f"completes a request, so it is not {status}; set status: completed, or null "
                "one signedAt",
            )
        )
    elif signatures == "all":
        if not signing:
            found.append(
                (
                    ".recipients",
                    f"{request} has a Signer or Approver, and every one signed; list one",
                )
            )
        found += [
            (
                f".recipients[{n}].signedAt",
                f"null, but every Signer and Approver of {request} signed; write when "
                "they signed, or leave the field out",
            )
            for n, r in signing
            if "signedAt" in r and r["signedAt"] is None
        ]
    if declines == "none":
        found += [
            (
                f".recipients[{n}].declinedAt",
                f"{request} has no decline (a decline makes it declined); remove it, "
                "or set status: declined",
            )
            for n in declined
        ]
    elif declines == "one" and len(declined) > 1:
        found += [
            (
                f".recipients[{n}].declinedAt",
                f"recipients[{declined[0]}] declined already, and a request is declined once; "
                "remove this one",
            )
            for n in declined[1:]
        ]
    elif declines == "one" and not declined and all("declinedAt" in r for _, r in signing):
        found.append(
            (
                ".recipients",
                f"no Signer or Approver declined (declinedAt), but {request} has the "
                "one who did; write when they declined"
                if signing
                else f"{request} has the Signer or Approver who declined; list them",
            )
        )
    return found


def _kind(value: Any) -> str:
    """A YAML value as its writer sees it: ``a mapping``, ``a string ('x')``, ``a number (3)``.

    >>> _kind(None), _kind(True), _kind([1]), _kind("x")
    ('nothing (null)', 'a boolean (true)', 'a list', "a string ('x')")
    """
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"  # bytes (!!binary), a set (!!set)


def yaml_error(exc: yaml.YAMLError, text: str) -> tuple[str, str]:
    """Where in ``text`` PyYAML failed (``"line 3, column 1: "``, or ``""`` when it does not
    say) and why (``"did not find expected node content"``), never its
    ``in "<unicode string>"``.

    >>> yaml_error(yaml.YAMLError("no mark"), "")
    ('', 'no mark')
    """
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    elif isinstance(exc, yaml.reader.ReaderError):  # a character YAML refuses (NUL, ...)
        before = text[: exc.position]
        if not issubclass(_SafeLoader, yaml.SafeLoader):  # libyaml counts UTF-8 bytes
            before = text.encode("utf-8")[: exc.position].decode("utf-8", "replace")
        line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        problem = str(exc).splitlines()[0]
    else:
        return "", (str(exc).splitlines() or [type(exc).__name__])[0]
    return f"line {line}, column {column}: ", problem
