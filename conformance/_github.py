"""GitHub Actions workflow commands, light enough for the front doors to print before the
harness (the ``[conformance]`` extra) is imported.

``report_github`` annotates a finished run with these. A run that stops with exit 2
instead (a bad flag, a refused fixture, an unreachable target, a precondition not met,
a report it cannot write; 4 under pytest) is one ``::error`` too, from :func:`stopped`:
in GitHub mode (``--github``, or ``GITHUB_ACTIONS=true``) a job never fails without one.
"""

from __future__ import annotations

from conformance.errors import (
    FixtureError,
    HarnessError,
    PreconditionFailed,
    ReportNotWritten,
    TargetUnreachable,
)

__all__ = ["annotation", "escape_data", "escape_property", "stopped", "why_stopped"]

_WHY: tuple[tuple[type[HarnessError], str], ...] = (
    (FixtureError, "fixture refused"),
    (TargetUnreachable, "target unreachable"),
    (PreconditionFailed, "precondition"),
    (ReportNotWritten, "report not written"),
)


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped.

    >>> escape_data("50%\\nnext")
    '50%25%0Anext'
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: also ``:`` and ``,``.

    >>> escape_property("a: b, c")
    'a%3A b%2C c'
    """
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(command: str, message: str, **properties: str) -> str:
    props = ",".join(f"{name}={escape_property(value)}" for name, value in properties.items())
    return f"::{command}{' ' + props if props else ''}::{escape_data(message)}"


def why_stopped(exc: HarnessError) -> str:
    """What stopped a run, for its annotation's title: ``fixture refused``, ``usage error``...

    >>> why_stopped(TargetUnreachable("http://h: cannot connect"))
    'target unreachable'
    """
    return next((why for kind, why in _WHY if isinstance(exc, kind)), "usage error")


def stopped(api: str | None, why: str, message: str) -> str:
    """The one ``::error`` line of a run stopped with exit 2, its title naming the API (when
    known) and ``why``, its message what the log says.

    >>> stopped("firma", "target unreachable", "http://h: cannot connect")
    '::error title=conformance firma%3A target unreachable::http://h: cannot connect\\n'
    """
    title = f"conformance {api}: {why}" if api else f"conformance: {why}"
    return annotation("error", message, title=title) + "\n"
