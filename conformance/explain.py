"""``conformance explain CODE``: what a check proves and how to fix a target that fails it.

The text is the check's section of ``docs/checks.md`` (bundled in the package), so
the console, the docs and this command never disagree.

>>> "**Fix**" in explain("terminal_conflict")
True
>>> explain("terminal_conflit")
Traceback (most recent call last):
...
conformance.errors.UsageError: no check 'terminal_conflit' (did you mean 'terminal_conflict'?); \
'conformance explain' lists them
"""

from __future__ import annotations

import difflib
import re

from conformance._resources import bundled_doc
from conformance.errors import UsageError

__all__ = ["codes", "explain", "section", "titles"]

_SECTION = re.compile(r"^### `([a-z_]+)`\n(.*?)(?=^##)", re.M | re.S)


def _sections() -> dict[str, str]:
    text = bundled_doc("checks.md").read_text(encoding="utf-8") + "\n## end\n"
    return {code: body.strip() for code, body in _SECTION.findall(text)}


def codes() -> list[str]:
    """Every check code docs/checks.md explains, in its order (contract phase first)."""
    return list(_sections())


def explain(code: str) -> str:
    """The section of docs/checks.md for ``code``; a ``UsageError`` for an unknown code."""
    sections = _sections()
    if code not in sections:
        close = difflib.get_close_matches(code, sections, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UsageError(f"no check {code!r}{hint}; 'conformance explain' lists them")
    return f"{code}\n\n{sections[code]}\n"


# -- reports (issue #10): the docs' words for SARIF rules and the HTML report

_ROW = re.compile(r"^\| `([a-z_]+)` \|[^|]*\|[^|]*\| (.*?) \|$", re.M)


def section(code: str) -> str:
    """docs/checks.md's section for ``code`` (Markdown), or "" for a code it lacks."""
    return _sections().get(code, "")


def titles() -> dict[str, str]:
    """code -> title, from the Summary table of docs/checks.md (Schemathesis's codes too).

    >>> titles()["not_a_server_error"]
    'The target answered a 5xx.'
    """
    text = bundled_doc("checks.md").read_text(encoding="utf-8")
    return {code: title.replace("`", "") for code, title in _ROW.findall(text)}
