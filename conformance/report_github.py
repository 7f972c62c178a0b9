"""``--github`` (on by itself when ``GITHUB_ACTIONS=true``): GitHub Actions annotations and
job summary.

One ``::error`` workflow command per folded violation (GitHub shows it on the run's
page, and on the spec's line when ``--spec`` names a file of the repository), a
``::notice`` per note, and a Markdown job summary appended to the file
``$GITHUB_STEP_SUMMARY`` names (the front doors read the variable and pass it in
``Settings.github_step_summary``). The workflow commands themselves (escaping, and the
one ``::error`` of a run that stopped with exit 2) are in ``_github``, which the front doors
use before the harness is imported.
"""

from __future__ import annotations

from pathlib import Path

from conformance._github import annotation, escape_data, escape_property
from conformance.failures import Violation
from conformance.report import render_violation, shown_ids
from conformance.report_sarif import operation_line
from conformance.runner import Report
from conformance.settings import Settings

__all__ = [
    "annotation",
    "escape_data",
    "escape_property",
    "step_summary",
    "workflow_commands",
    "write_step_summary",
]


def workflow_commands(report: Report) -> str:
    """The verdict, then one ``::error`` per problem and a ``::notice`` per note."""
    s = report.settings
    lines = [
        annotation(
            "error" if report.violations else "notice",
            report.verdict,
            title=f"conformance {s.api}: {report.verdict}",
        )
    ]
    for v in report.violations:
        lines.append(
            annotation(
                "error",
                render_violation(v),
                title=f"[{v.code}] {v.title}",
                **_where(s, v),
            )
        )
    lines += [annotation("notice", note, title=f"conformance {s.api}") for note in report.notes]
    return "\n".join(lines) + "\n"


def _where(settings: Settings, v: Violation) -> dict[str, str]:
    """file and line of the operation, when ``--spec`` names a file of the checkout."""
    if settings.spec is None or settings.spec.is_absolute():
        return {}
    line = operation_line(settings.spec, v.operation)
    where = {"file": settings.spec.as_posix()}
    return where | ({"line": str(line)} if line is not None else {})


def step_summary(report: Report) -> str:
    """The job summary: verdict, a table of problems, each block folded, the rerun line."""
    s = report.settings
    lines = [
        f"## conformance {s.api}: {report.verdict}",
        "",
        f"`{s.api}` at `{s.base_url}`, seed {s.seed}, profile {s.profile}, "
        f"{s.examples} examples, fixtures `{s.fixtures}`",
        "",
    ]
    if report.violations:
        lines += [
            "| # | check | expected | received | occurrences | ids |",
            "|---|---|---|---|---|---|",
        ]
        for number, v in enumerate(report.violations, 1):
            lines.append(
                f"| {number} | `{v.code}` | {_cell(v.expected)} | {_cell(v.received)} "
                f"| {v.occurrences} | {_cell(shown_ids(v, 3))} |"
            )
        lines.append("")
        for number, v in enumerate(report.violations, 1):
            block = render_violation(v)
            fence = "`" * max(3, _longest_backticks(block) + 1)
            lines += [
                f"<details><summary>{number}. <code>{_html(v.code)}</code> "
                f"{_html(v.title)}</summary>",
                "",
                f"{fence}text",
                block,
                fence,
                "",
                "</details>",
                "",
            ]
    for note in report.notes:
        lines.append(f"> note: {_cell(note)}")
    if report.notes:
        lines.append("")
    lines += ["| phase | requests | violations |", "|---|---|---|"]
    lines += [f"| {p.name} | {p.requests} | {p.violations} |" for p in report.phases]
    lines += ["", "Rerun:", "", "```sh", s.rerun(), "```", ""]
    return "\n".join(lines)


def write_step_summary(report: Report, path: Path) -> None:
    """Append the summary (each step of a job adds its own to the file)."""
    with path.open("a", encoding="utf-8") as summary:
        summary.write(step_summary(report) + "\n")


def _cell(text: str) -> str:
    """Markdown table cell text: one line, pipes and HTML escaped."""
    return _html(" ".join(text.split())).replace("|", "\\|") or " "


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _longest_backticks(text: str) -> int:
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return longest
