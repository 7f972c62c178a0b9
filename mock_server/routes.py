"""The vendor routes as a precompiled table, built from Connexion's own.

Connexion decides what the spec declares (paths, methods, base paths); this table
only replays its decisions for the requests it would route to an operation, without
the router's per-request objects. Anything the table does not match (an unknown path,
an undeclared method) still goes through Connexion, which answers 404 or 405.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from starlette.convertors import StringConvertor
from starlette.routing import Mount, Route

__all__ = ["Match", "RouteTable", "nearest"]


@dataclass(slots=True)
class Match:
    """What Connexion's router would hand the dispatcher for one request."""

    base_path: str
    operation_id: str
    path_params: dict[str, Any]


@dataclass(frozen=True)
class _Entry:
    base_path: str
    pattern: re.Pattern[str]
    methods: frozenset[str]
    operation_id: str
    convertors: Mapping[str, Any]
    template: str
    """The declared path under ``base_path`` (``/v1/signatures/{id}/cancel``)."""

    @cached_property
    def segments(self) -> tuple[str | None, ...] | None:
        """The template's segments, ``None`` for each string parameter's, when it is made of
        whole segments and string parameters only (which the router's pattern matches as a
        non-empty segment, kept as it is): then a path is matched by comparing its
        segments, as the pattern would; else ``None``, and the pattern matches.

        >>> from starlette.convertors import CONVERTOR_TYPES
        >>> entry = _Entry("", re.compile(""), frozenset(), "op", {"id": CONVERTOR_TYPES["str"]},
        ...     "/v1/signatures/{id}/cancel")
        >>> entry.segments
        ('', 'v1', 'signatures', None, 'cancel')
        >>> _Entry("", re.compile(""), frozenset(), "op", {}, "/v1/{id}.pdf").segments is None
        True
        """
        segments: list[str | None] = []
        for segment in self.template.split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                convertor = self.convertors.get(segment[1:-1].partition(":")[0])
                if type(convertor) is not StringConvertor:
                    return None
                segments.append(None)
            elif "{" in segment or "}" in segment:
                return None
            else:
                segments.append(segment)
        return tuple(segments)

    @cached_property
    def plan(self) -> _Plan | None:
        """:attr:`segments` as :func:`_by_segments` compares them, if any.

        >>> from starlette.convertors import CONVERTOR_TYPES
        >>> plan = _Entry("", re.compile(""), frozenset(), "op", {"id": CONVERTOR_TYPES["str"]},
        ...     "/v1/signatures/{id}/cancel").plan
        >>> plan.count, plan.fixed, plan.params
        (5, ((1, 'v1'), (2, 'signatures'), (4, 'cancel'), (0, '')), ((3, 'id'),))
        """
        segments = self.segments
        if segments is None:
            return None
        fixed = [(i, segment) for i, segment in enumerate(segments) if segment is not None]
        fixed.sort(key=lambda place: not place[1])  # an empty one (the leading "") last
        names = iter(self.convertors)  # in the template's order, as the router keeps them
        params = tuple((i, next(names)) for i, segment in enumerate(segments) if segment is None)
        return _Plan(len(segments), tuple(fixed), params)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A template of whole segments: how many, the fixed ones (place, text), the string
    parameters' places and names."""

    count: int
    fixed: tuple[tuple[int, str], ...]
    params: tuple[tuple[int, str], ...]


class RouteTable:
    """``match(method, path)``: the operation Connexion routes a request to, or ``None``."""

    def __init__(self, entries: list[_Entry]) -> None:
        self._entries = entries

    @classmethod
    def from_router(cls, routes: list[Any]) -> RouteTable:
        """From a Connexion ``RoutingMiddleware``'s router: a ``Mount`` per base path, in
        the order it tries them, each holding a ``Route`` per operation."""
        entries = []
        for mount in routes:
            if not isinstance(mount, Mount):
                raise TypeError(f"unexpected route {mount!r} in Connexion's router")
            for route in mount.routes:
                if not isinstance(route, Route) or route.methods is None:
                    raise TypeError(f"unexpected route {route!r} under {mount.path!r}")
                operation_id = getattr(route.endpoint, "operation_id", None)
                if operation_id is None:
                    raise TypeError(f"route {route.path!r} has no operation id")
                entries.append(
                    _Entry(
                        mount.path,
                        route.path_regex,
                        frozenset(route.methods),
                        operation_id,
                        route.param_convertors,
                        route.path,
                    )
                )
        return cls(entries)

    def match(self, method: str, path: str) -> Match | None:
        for entry in self._entries:
            base = entry.base_path
            if base:
                if not path.startswith(base) or (len(path) > len(base) and path[len(base)] != "/"):
                    continue
                rest = path[len(base) :]
            else:
                rest = path
            plan = entry.plan
            if plan is not None and not rest.endswith("\n"):  # (a pattern's $ matches
                # before a final newline: the pattern decides then)
                params = _by_segments(plan, rest)
                if params is None:
                    continue
            else:
                found = entry.pattern.match(rest)
                if found is None:
                    continue
                params = {
                    name: entry.convertors[name].convert(value)
                    for name, value in found.groupdict().items()
                }
            if method not in entry.methods:
                return None  # Connexion answers: 405 with Allow
            return Match(base, entry.operation_id, params)
        return None

    def closest(self, path: str) -> str:
        """The declared operation nearest ``path``, for an unknown path's 404 (WireMock's
        near-miss): by text similarity, each template's ``{param}`` read as the segment
        of ``path`` in its place. Only ever called for a 404: no cost to a routed request.

        >>> from starlette.routing import Mount, Route
        >>> def cancel(): ...
        >>> cancel.operation_id = "cancelSignature"
        >>> table = RouteTable.from_router([Mount("", routes=[
        ...     Route("/v1/signatures/{id}/cancel", cancel, methods=["POST"])])])
        >>> table.closest("/v1/signature/83cb/cancel")
        'POST /v1/signatures/{id}/cancel'
        """
        return nearest(
            path,
            (
                (", ".join(sorted(m for m in entry.methods if m != "HEAD")), declared)
                for entry in self._entries
                for declared in (entry.base_path + entry.template,)
            ),
        )


def nearest(path: str, operations: Iterable[tuple[str, str]]) -> str:
    """``"METHODS /template"`` of the (methods, template) in ``operations`` nearest ``path``
    (the first of equals): by text similarity, each template's ``{param}`` read as the
    segment of ``path`` in its place. The near-miss of an unknown path's 404, the vendor
    routes' (:meth:`RouteTable.closest`) and the control plane's.

    >>> nearest("/__mock/stat", [("GET", "/__mock/state"), ("GET", "/__mock/sessions")])
    'GET /__mock/state'
    """
    # Compared on a bounded sketch of the path: difflib is quadratic, and a client's
    # 30 KB segment held the event loop for seconds (found by review).
    path = "/".join(segment[:SKETCH] for segment in path[: SKETCH * 4].split("/"))
    best, best_score = "", -1.0
    for methods, declared in operations:
        score = difflib.SequenceMatcher(None, path, _filled(declared, path), autojunk=False).ratio()
        if score > best_score:
            best, best_score = f"{methods} {declared}", score
    return best


def _by_segments(plan: _Plan, path: str) -> dict[str, Any] | None:
    """The path params of ``path`` if its segments are the template's (:attr:`_Entry.plan`),
    each parameter's a non-empty one; else ``None``.

    >>> from starlette.convertors import CONVERTOR_TYPES
    >>> plan = _Entry("", re.compile(""), frozenset(), "op", {"id": CONVERTOR_TYPES["str"]},
    ...     "/v1/{id}/cancel").plan
    >>> _by_segments(plan, "/v1/abc/cancel")
    {'id': 'abc'}
    >>> [_by_segments(plan, p) for p in ("/v1//cancel", "/v1/a/b", "/v1/a/cancel/")]
    [None, None, None]
    """
    given = path.split("/")
    if len(given) != plan.count:
        return None
    for place, segment in plan.fixed:
        if given[place] != segment:
            return None
    params: dict[str, Any] = {}
    for place, name in plan.params:
        segment = given[place]
        if not segment:
            return None
        params[name] = segment
    return params


SKETCH = 64
"""Characters of each path segment :func:`nearest` compares (4x that in all)."""


def _filled(template: str, path: str) -> str:
    """``template`` with each ``{param}`` segment replaced by ``path``'s segment there.

    >>> _filled("/v1/signatures/{id}/cancel", "/v1/signature/abc/cancel")
    '/v1/signatures/abc/cancel'
    """
    declared, given = template.split("/"), path.split("/")
    if len(declared) != len(given):
        return template
    return "/".join(
        g if d.startswith("{") and d.endswith("}") else d
        for d, g in zip(declared, given, strict=True)
    )
