"""What the harness reports: one frozen ``Violation`` per contract breach, folded by cause.

``code`` is the check's code (``conformance.checks`` holds the registry;
Schemathesis's own checks keep their names, ``status_code_conformance``, ...).
Tests and reports match on ``code``, never on prose.

A violation is structured: ``situation``, ``expected`` and ``received`` are read
from its ``detail`` lines (``Situation:``, ``Expected:``, ``Received:``) unless
given, and ``ids`` names the resources involved. :func:`merge` folds the
occurrences of one root cause, ``(code, operation, expected, received)`` with
ids, times and origins masked, into one violation with a count and every id.

>>> a = Violation("tenant_isolation", "t", "Situation: naming 83cb4bbe-b73d-548a-b4ae-"
...     "d7de75b07165\\nExpected: 404\\nReceived: 200", "POST /x", "curl a",
...     ids=("83cb4bbe-b73d-548a-b4ae-d7de75b07165",))
>>> a.expected, a.received, a.situation
('404', '200', 'naming 83cb4bbe-b73d-548a-b4ae-d7de75b07165')
>>> b = Violation("tenant_isolation", "t", "Situation: naming 19729e93-692c-5afe-9f7a-"
...     "8b915c925b4c\\nExpected: 404\\nReceived: 200", "POST /x", "curl b",
...     ids=("19729e93-692c-5afe-9f7a-8b915c925b4c",))
>>> [(v.occurrences, len(v.ids)) for v in merge([a, b])]
[(2, 2)]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Violation", "excerpt", "ids_in", "merge", "normalize", "parse_detail"]

BODY_LIMIT = 300  # characters of a received body shown in a report

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\b1[5-9]\d{8}(?:\.\d+)?\b"  # Unix seconds (2017-2033), as X-RateLimit-Reset has them
)
_ORIGIN = re.compile(r"https?://[^/\s'\"]+")
_LABELS = ("Situation:", "Expected:", "Received:")
_NOTES = ("Hint:", "Why:")  # explanations: never part of what a problem is


@dataclass(frozen=True)
class Violation:
    """One way the target departs from the contract, with a way to see it again.

    ``detail`` is this occurrence as printed ("Situation: ...\\nExpected: 409\\n
    Received: 200"); ``curl`` replays the request that showed it (keys read from the
    environment appear as ``$VAR``). The structured fields are read from ``detail``
    when none is given: ``situation`` (a ``Situation:`` line, or the text before
    ``Expected:``), ``expected``, ``received``. ``body`` is the start of the answer's
    body, ``status`` its status; ``cause``, when set, replaces expected/received as
    what the occurrences of one problem share (e.g. "name changed on cancel", whose
    expected value differs per resource). ``situations`` holds the other situations
    folded into this one.
    """

    code: str
    title: str
    detail: str
    operation: str
    curl: str
    phase: str = "state"
    occurrences: int = 1
    situation: str = ""
    expected: str = ""
    received: str = ""
    body: str = ""
    status: int | None = None
    ids: tuple[str, ...] = ()
    cause: str = ""
    situations: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not (self.situation or self.expected or self.received):
            situation, expected, received = parse_detail(self.detail)
            object.__setattr__(self, "situation", situation)
            object.__setattr__(self, "expected", expected)
            object.__setattr__(self, "received", received)

    @property
    def key(self) -> tuple[str, ...]:
        """What every occurrence of this problem shares (ids, times and origins masked)."""
        if self.cause:
            return (self.code, self.operation, normalize(self.cause, self.ids))
        rest = "" if self.expected else _unlabelled(self.detail)
        return (
            self.code,
            self.operation,
            normalize(self.expected, self.ids),
            normalize(self.received, self.ids),
            normalize(rest, self.ids),
        )

    @property
    def fingerprint(self) -> str:
        """A stable hash of :attr:`key`: the same problem has it in every run."""
        return hashlib.sha256("\x1f".join(self.key).encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "operation": self.operation,
            "curl": self.curl,
            "phase": self.phase,
            "occurrences": self.occurrences,
            "situation": self.situation,
            "expected": self.expected,
            "received": self.received,
            "body": self.body,
            "status": self.status,
            "ids": list(self.ids),
            "other_situations": list(self.situations),
            "fingerprint": self.fingerprint,
        }


def merge(violations: Iterable[Violation]) -> list[Violation]:
    """One violation per root cause, in first-seen order: counts add up, ids and
    distinct situations are gathered; the first occurrence's detail, body and curl stay."""
    merged: dict[tuple[str, ...], Violation] = {}
    for v in violations:
        key = v.key
        old = merged.get(key)
        if old is None:
            merged[key] = v
            continue
        situations = list(old.situations)
        seen = {normalize(old.situation, old.ids), *situations}
        for situation in (normalize(v.situation, v.ids), *v.situations):
            if situation and situation not in seen:
                seen.add(situation)
                situations.append(situation)
        merged[key] = replace(
            old,
            occurrences=old.occurrences + v.occurrences,
            ids=old.ids + tuple(i for i in v.ids if i not in old.ids),
            situations=tuple(situations),
        )
    return list(merged.values())


def normalize(text: str, ids: Iterable[str] = ()) -> str:
    """``text`` with what differs between occurrences of one problem masked: the ids
    involved and uuids (``<id>``), timestamps (``<time>``), origins (``<origin>``).

    >>> normalize("naming 83CB4BBE-B73D-548A-B4AE-D7DE75B07165 at 2026-11-10T09:07:00Z")
    'naming <id> at <time>'
    """
    for rid in sorted(ids, key=len, reverse=True):
        if rid:
            text = text.replace(rid, "<id>")
    text = _UUID.sub("<id>", text)
    text = _ORIGIN.sub("<origin>", text)
    return _TIME.sub("<time>", text)


def ids_in(text: str) -> tuple[str, ...]:
    """The uuids ``text`` names, in order, once each (lower-cased)."""
    return tuple(dict.fromkeys(m.lower() for m in _UUID.findall(text)))


def excerpt(content: bytes, limit: int = BODY_LIMIT) -> str:
    """A body as one printable line: whitespace runs folded, control characters escaped,
    cut to ``limit`` characters with the full size.

    >>> excerpt(b'{"error":\\n  "x\\x19"}')
    '{"error": "x\\\\x19"}'
    >>> excerpt(b"a" * 10, limit=4)
    'aaaa... (10 bytes)'
    >>> excerpt(b"")
    '(empty)'
    """
    if not content:
        return "(empty)"
    text = " ".join(content.decode("utf-8", "replace").split())
    text = "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(content)} bytes)"


def _escaped(ch: str) -> str:
    return f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"


def parse_detail(detail: str) -> tuple[str, str, str]:
    """(situation, expected, received) from a detail's labelled lines.

    The situation is a ``Situation:`` line, else the unlabelled lines before ``Expected:``.
    """
    situation = expected = received = ""
    before: list[str] = []
    for line in detail.splitlines():
        if line.startswith("Situation:"):
            situation = line.removeprefix("Situation:").strip()
        elif line.startswith("Expected:"):
            expected = expected or line.removeprefix("Expected:").strip()
        elif line.startswith("Received:"):
            received = received or line.removeprefix("Received:").strip()
        elif not expected and not received and not line.startswith(_LABELS + _NOTES):
            before.append(line.strip())
    if not situation and expected:
        situation = " ".join(s for s in before if s)
    return situation, expected, received


def _unlabelled(detail: str) -> str:
    """The lines of ``detail`` that carry no label: a message such as a schema error."""
    return "\n".join(line for line in detail.splitlines() if not line.startswith(_LABELS + _NOTES))
