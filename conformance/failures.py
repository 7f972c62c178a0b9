"""What the harness reports: one frozen ``Violation`` per contract breach, and the checks' registry.

A check is a plain function registered with ``@check``; its name is its code,
stable across releases, and its docstring's first line is its title. Tests and
reports match on ``code``, never on prose. Schemathesis's own checks keep
their names (``status_code_conformance``, ``ignored_auth``, ...).

>>> @check
... def terminal_conflict(step): ...
... #   "A terminal request is cancelled instead of refused with 409."
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

__all__ = ["CHECKS", "Violation", "check", "checks_for", "merge", "only_for", "title_of"]

F = TypeVar("F", bound=Callable[..., Any])

#: code -> title, for every check the harness itself runs.
CHECKS: dict[str, str] = {}


def check(function: F) -> F:
    """Register ``function`` as a check: its name is the code, its first doc line the title."""
    CHECKS[function.__name__] = (function.__doc__ or function.__name__).strip().splitlines()[0]
    return function


#: code -> the one API it applies to (absent: both).
_ONLY: dict[str, str] = {}


def only_for(api: str, *functions: Callable[..., Any]) -> None:
    """Mark checks that exist for one API only (e.g. Firma's two Authorization forms)."""
    for function in functions:
        _ONLY[function.__name__] = api


def checks_for(api: str) -> list[str]:
    """The codes of the harness's own checks that apply to ``api``."""
    return [code for code in CHECKS if _ONLY.get(code, api) == api]


def title_of(code: str) -> str:
    return CHECKS.get(code, code.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Violation:
    """One way the target departs from the contract, with a way to see it again.

    ``detail`` is this occurrence ("Received: 200\\nExpected: 409 conflict");
    ``curl`` replays the request that showed it (keys read from the environment
    appear as ``$VAR``).
    """

    code: str
    title: str
    detail: str
    operation: str
    curl: str
    phase: str = "state"
    occurrences: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "operation": self.operation,
            "curl": self.curl,
            "phase": self.phase,
            "occurrences": self.occurrences,
        }


def merge(violations: list[Violation]) -> list[Violation]:
    """One violation per check and problem, in first-seen order; repeats raise its count."""
    merged: dict[tuple[str, str], Violation] = {}
    for v in violations:
        key = (v.code, v.detail)
        old = merged.get(key)
        merged[key] = (
            v if old is None else replace(old, occurrences=old.occurrences + v.occurrences)
        )
    return list(merged.values())
