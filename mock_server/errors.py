"""The mock's error hierarchy: every error a user can see at start-up shares one root."""

from __future__ import annotations

__all__ = ["ContractError", "FixtureError", "MockError", "StartupError"]


class MockError(Exception):
    """Root of every error the mock raises on purpose."""


class StartupError(MockError):
    """The mock cannot start as asked (bad flag, busy port); the CLI exits with code 2."""


class ContractError(StartupError):
    """A spec file is missing, unreadable, or lacks what the mock serves."""


class FixtureError(StartupError):
    """A fixture file is refused at start-up.

    ``problems`` holds one line per problem, each naming the file, the record,
    the field and the fix, e.g.::

        fixtures/craftkit.yaml: signature_requests[3].status: 'canceled' is not
        one of sent, viewed, ... (did you mean 'cancelled'?)
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))
