"""The harness's checks: one registry, a table of every code it can report.

A check is a plain function registered with ``@check(kind)``: its name is its code
(stable across releases: reports, JUnit, SARIF and tests match on it), its
docstring's first line its title. Each *kind* of check has one signature, so the
phase that runs a kind knows how to call every check of it:

=========  ============================================  ==========================
kind       signature                                     run
=========  ============================================  ==========================
answer     ``(run, exchange) -> list[str]``              on every answer
outcome    ``(resource, body) -> list[str]``             on the body of a success
run        ``(run) -> None``                             once per run, reports itself
resource   ``(run, resource) -> None``                   per resource, reports itself
refusal    ``(run, resource, bad) -> None``              per request the contract refuses
verdict    ``(model, resource) -> bool``                 why an open resource was closed
probe      ``(run, options) -> None``                    the opt-in rate-limit probe
=========  ============================================  ==========================

Codes another check reports (``auth_forms``, found by ``keys_authenticate``) are
declared with :func:`declare`. Schemathesis's own checks keep their names and are
listed by ``conformance.phases.schemathesis.schemathesis_checks``.

>>> import conformance.phases.state  # importing a phase registers its checks
>>> CHECKS["terminal_conflict"].kind, CHECKS["terminal_conflict"].apis
('resource', ('craftkit', 'firma'))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

__all__ = [
    "API_NAMES",
    "CHECKS",
    "KINDS",
    "Check",
    "check",
    "checks_for",
    "declare",
    "of_kind",
    "title_of",
]

F = TypeVar("F", bound=Callable[..., Any])

Kind = Literal["answer", "outcome", "run", "resource", "refusal", "verdict", "probe"]
KINDS: tuple[Kind, ...] = ("answer", "outcome", "run", "resource", "refusal", "verdict", "probe")
API_NAMES = ("craftkit", "firma")


@dataclass(frozen=True)
class Check:
    """One row of the registry."""

    code: str
    title: str
    kind: Kind
    apis: tuple[str, ...] = API_NAMES
    phase: str = "state"
    function: Callable[..., Any] | None = None  # None: reported by another check

    def applies_to(self, api: str) -> bool:
        return api in self.apis

    def __call__(self, *args: Any) -> Any:
        """Run the check with its kind's arguments."""
        if self.function is None:
            raise TypeError(f"{self.code} has no function: another check reports it")
        return self.function(*args)


CHECKS: dict[str, Check] = {}
"""code -> its row, for every check the harness itself runs (import order)."""


def declare(
    code: str,
    title: str,
    kind: Kind,
    *,
    apis: tuple[str, ...] = API_NAMES,
    phase: str = "state",
    function: Callable[..., Any] | None = None,
) -> Check:
    """Register ``code``; refuses a second registration, which would make a code ambiguous."""
    if code in CHECKS:
        raise ValueError(f"check code {code!r} is registered twice")
    if kind not in KINDS:
        raise ValueError(f"{code}: kind {kind!r} is not one of {', '.join(KINDS)}")
    CHECKS[code] = Check(code, title, kind, apis, phase, function)
    return CHECKS[code]


def check(
    kind: Kind, *, apis: tuple[str, ...] = API_NAMES, phase: str = "state"
) -> Callable[[F], F]:
    """Register the decorated function as a check of ``kind``; its name is the code."""

    def register(function: F) -> F:
        title = (function.__doc__ or function.__name__).strip().splitlines()[0]
        declare(function.__name__, title, kind, apis=apis, phase=phase, function=function)
        return function

    return register


def checks_for(api: str, *, probe: bool = False) -> list[str]:
    """The codes of the harness's own checks that apply to ``api`` (probe checks on request)."""
    return [c.code for c in CHECKS.values() if api in c.apis and (probe or c.kind != "probe")]


def of_kind(kind: Kind, api: str) -> list[Check]:
    """The registered checks of ``kind`` that apply to ``api``, in registration order."""
    return [c for c in CHECKS.values() if c.kind == kind and c.applies_to(api)]


def title_of(code: str) -> str:
    row = CHECKS.get(code)
    return row.title if row is not None else code.replace("_", " ").capitalize()
