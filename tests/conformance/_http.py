"""Wire-level pieces both target APIs share: fixtures, JSON bodies in, JSON answers out.

Deliberately written apart from ``mock_server``: the targets must not share its
bugs, or the harness's tests would prove nothing (ARCHITECTURE.md).
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

__all__ = [
    "ABSENT",
    "BadBody",
    "JsonWriter",
    "canonical_uuid",
    "check_choices",
    "expand",
    "isoformat",
    "load_fixture",
    "read_json",
]

MAX_BODY_BYTES = 1 << 20
"""Bodies above this are refused with a 400, never read into memory whole."""

ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()
"""What :func:`read_json` returns for an empty body (JSON ``null`` is a value)."""

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def load_fixture(path: Path | str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read a fixture file (docs/fixtures.md) with ``${VAR:-default}`` expanded.

    >>> load_fixture("fixtures/firma.yaml", {})["workspaces"][1]["api_keys"]
    ['firma_globex_0001']
    """
    expanded: dict[str, Any] = expand(
        yaml.safe_load(Path(path).read_text(encoding="utf-8")), environ
    )
    return expanded


def expand(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """A deep copy of ``value`` with every ``${VAR}`` / ``${VAR:-default}`` string filled in."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):

        def fill(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is None:
                raise KeyError(f"fixture needs ${{{name}}}: set it or write ${{{name}:-default}}")
            return default

        return _VAR.sub(fill, value)
    if isinstance(value, Mapping):
        return {k: expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, env) for v in value]
    return copy.deepcopy(value)


def check_choices(
    api: str,
    faults: frozenset[str],
    variant: str | None,
    known_faults: Mapping[str, str],
    known_variants: Mapping[str, str],
) -> None:
    """Refuse unknown fault or variant names: a typo must not silently give a correct target."""
    unknown = sorted(set(faults) - set(known_faults))
    if unknown:
        raise ValueError(f"{api}: unknown faults {unknown}; known: {sorted(known_faults)}")
    if variant is not None and variant not in known_variants:
        raise ValueError(f"{api}: unknown variant {variant!r}; known: {sorted(known_variants)}")


def canonical_uuid(text: object) -> str | None:
    """``text`` as a lower-case hyphenated uuid, or None when it is not one."""
    if isinstance(text, str) and _UUID.fullmatch(text):
        return text.lower()
    return None


def isoformat(timestamp: float, *, milliseconds: bool = False) -> str:
    """Unix seconds as RFC 3339 UTC with a ``Z``, as both vendors write timestamps."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    text = moment.isoformat(timespec="milliseconds" if milliseconds else "seconds")
    return text.replace("+00:00", "Z")


class BadBody(Exception):
    """The request body is not a JSON document the target will read; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _refuse_constant(name: str) -> Any:
    # json.loads accepts NaN/Infinity by default; JSON (RFC 8259) does not.
    raise ValueError(f"{name} is not JSON")


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_json(request: Request, *, limit: int = MAX_BODY_BYTES) -> Any:
    """The request's JSON body, :data:`ABSENT` when empty; :class:`BadBody` otherwise.

    Strict on purpose: a BOM, NaN, bad UTF-8, a non-JSON media type or an
    oversized body are refusals, never 5xx (docs/behaviour.md: no undocumented 5xx).
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadBody(f"Request body exceeds {limit} bytes.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        return ABSENT
    if not _is_json_media_type(request.headers.get("content-type", "")):
        raise BadBody("Content-Type must be application/json.")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadBody("Request body is not valid JSON.") from exc


@dataclass(frozen=True)
class JsonWriter:
    """How a target puts JSON on the wire; variants differ here, not in their rules.

    >>> write = JsonWriter(media_type="application/json; charset=utf-8")
    >>> write(200, {"ok": True}).headers["content-type"]
    'application/json; charset=utf-8'
    """

    media_type: str = "application/json"
    streamed: bool = False
    """Send bodies chunked, without ``Content-Length``."""
    indent: int | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    def __call__(
        self,
        status: int,
        body: Any,
        headers: Mapping[str, str] | None = None,
        *,
        media_type: str | None = None,
    ) -> Response:
        payload = json.dumps(body, indent=self.indent, ensure_ascii=False).encode("utf-8")
        all_headers = {**self.extra_headers, **(headers or {})}
        kind = media_type or self.media_type
        if self.streamed:
            return StreamingResponse(
                iter([payload]), status_code=status, headers=all_headers, media_type=kind
            )
        return Response(payload, status_code=status, headers=all_headers, media_type=kind)
