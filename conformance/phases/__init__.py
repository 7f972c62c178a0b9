"""The phases of a run, each apart: ``schemathesis`` (the contract, by Schemathesis's
engine), ``state`` (the harness's scenario and state machine), ``ratelimit`` (the opt-in
probe). ``runner.py`` runs them in that order."""

from __future__ import annotations

__all__: list[str] = []
