"""The harness's error hierarchy: every error that stops a run shares one root.

Each of these ends a run before or instead of checking, with exit code 2 (docs/checks.md:
"bad usage, bad fixture, unreachable target, or a precondition of the run not met"), but
``ReportNotWritten``, which ends it after: a report it could not write, exit code 2 too.
Violations found in a target are not errors: they are ``Violation`` records in the report.
"""

from __future__ import annotations

__all__ = [
    "FixtureError",
    "HarnessError",
    "PreconditionFailed",
    "ReportNotWritten",
    "TargetUnreachable",
    "UsageError",
]


class HarnessError(Exception):
    """Root of every error the harness raises on purpose; the CLI exits with code 2."""


class UsageError(HarnessError):
    """A flag or setting is wrong (e.g. a base URL without scheme, a missing spec file)."""


class FixtureError(HarnessError):
    """The fixture file cannot describe a target.

    ``problems`` holds one line per problem, naming the file, the record, the
    field and the fix::

        staging.yaml: signature_requests[2].project: 'proj_x' is not a listed project
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class TargetUnreachable(HarnessError):
    """The base URL refuses connections or does not resolve, or its first requests got no
    answer the harness could read (something else listens there), before any check ran."""


class PreconditionFailed(HarnessError):
    """The run cannot judge the target: what it found contradicts the run's premises, not
    the contract (a stale fixture, a base URL where nothing but 404 answers).

    ``advice`` says what to do (reset the target, refresh the fixture, check the base path).
    """

    def __init__(self, problem: str, advice: str) -> None:
        self.problem, self.advice = problem, advice
        super().__init__(f"{problem}\nWhat to do: {advice}")


class ReportNotWritten(HarnessError):
    """A report file could not be written after the run (a full disk, its directory gone,
    no permission): its place was fine when the run began (``Settings`` checks it).

    ``problems`` holds one line per report, naming the flag, the file, the system's reason
    and the fix; the other reports are written. ``annotations`` are the GitHub Actions
    workflow commands still to print (empty outside GitHub mode)::

        --junit-xml: out/r.xml: cannot write the report after the run (No space left on
        device); ...
    """

    def __init__(self, problems: list[str], annotations: str = "") -> None:
        self.problems, self.annotations = problems, annotations
        super().__init__("\n".join(problems))
