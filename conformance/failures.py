"""What the harness reports: one frozen ``Violation`` per contract breach.

``code`` is the check's code (``conformance.checks`` holds the registry;
Schemathesis's own checks keep their names, ``status_code_conformance``, ...).
Tests and reports match on ``code``, never on prose.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Violation", "merge"]


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
