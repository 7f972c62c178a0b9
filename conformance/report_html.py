"""``--html FILE``: the report as one self-contained HTML page.

No external asset (no stylesheet, script, font or image link: the page opens from a
CI artifact, offline), and every piece of text from the target or the fixture is
escaped. Sections: the verdict, the run's settings and rerun line, one block per
problem (expected vs received, the body, the ids, the curl line), the notes, and
every check that ran with its outcome.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from conformance._version import version
from conformance.checks import CHECKS
from conformance.explain import titles
from conformance.failures import Violation
from conformance.runner import Report

__all__ = ["render_html", "write_html"]

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
.verdict { padding: .6em 1em; border-radius: 4px; font-weight: bold; }
.fail { background: #fde8e8; color: #8a1111; } .pass { background: #e6f6ea; color: #145c25; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; white-space: pre-wrap;
      word-break: break-all; }
.problem { border-left: 4px solid #c33; padding-left: 1em; margin: 1.5em 0; }
code { background: #f0f0f0; padding: 0 .2em; }
"""


def write_html(report: Report, path: Path) -> None:
    path.write_text(render_html(report), encoding="utf-8")


def render_html(report: Report) -> str:
    s = report.settings
    verdict_class = "fail" if report.violations else "pass"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>conformance {_e(s.api)}: {_e(report.verdict)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>conformance {_e(s.api)} at <code>{_e(s.base_url)}</code></h1>",
        f'<p class="verdict {verdict_class}">{_e(report.verdict)}</p>',
        "<table>",
        _row("seed", str(s.seed)),
        _row("profile", f"{s.profile} ({s.examples} examples per operation)"),
        _row("fixtures", str(s.fixtures)),
        _row("spec", str(s.spec_path if s.spec is None else s.spec)),
        _row("harness", f"conformance {version()}"),
        _row("seconds", f"{report.seconds:.1f}"),
        "</table>",
        f"<p>Rerun:</p><pre>{_e(s.rerun())}</pre>",
    ]
    if report.violations:
        parts.append("<h2>Problems</h2>")
        parts += [_problem(number, v) for number, v in enumerate(report.violations, 1)]
    if report.notes:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{_e(note)}</li>" for note in report.notes]
        parts.append("</ul>")
    parts += [
        "<h2>Phases</h2><table><tr><th>phase</th><th>requests</th><th>seconds</th>"
        "<th>violations</th></tr>"
    ]
    parts += [
        f"<tr><td>{_e(p.name)}</td><td>{p.requests}</td><td>{p.seconds:.1f}</td>"
        f"<td>{p.violations}</td></tr>"
        for p in report.phases
    ]
    parts.append("</table>")
    parts += _checks(report)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _problem(number: int, v: Violation) -> str:
    rows = [
        _row("operation", f"{v.operation} (phase {v.phase})"),
        *([_row("situation", v.situation)] if v.situation else []),
        *(_row("also", situation) for situation in v.situations),
        *([_row("expected", v.expected)] if v.expected else []),
        *([_row("received", v.received)] if v.received else []),
        *([_row("status", str(v.status)), _row("body", v.body)] if v.status is not None else []),
        _row("occurrences", str(v.occurrences)),
        *([_row("ids", ", ".join(v.ids))] if v.ids else []),
    ]
    return "\n".join(
        [
            f'<section class="problem" id="problem-{number}">',
            f"<h3>{number}. <code>{_e(v.code)}</code> {_e(v.title)}</h3>",
            "<table>",
            *rows,
            "</table>",
            f"<pre>{_e(v.detail)}</pre>",
            f"<p>Reproduce:</p><pre>{_e(v.curl or '(no request: see the detail)')}</pre>",
            f"<p>Explain: <code>conformance explain {_e(v.code)}</code></p>",
            "</section>",
        ]
    )


def _checks(report: Report) -> list[str]:
    failed = {v.code: 0 for v in report.violations}
    for v in report.violations:
        failed[v.code] += v.occurrences
    documented = titles()
    rows = ["<h2>Checks</h2><table><tr><th>phase</th><th>check</th><th>outcome</th></tr>"]
    for phase, codes in report.checks.items():
        for code in sorted(codes):
            row = CHECKS.get(code)
            title = row.title if row is not None else documented.get(code, "")
            outcome = f"failed ({failed[code]})" if code in failed else "passed"
            rows.append(
                f"<tr><td>{_e(phase)}</td><td><code>{_e(code)}</code> {_e(title)}</td>"
                f"<td>{outcome}</td></tr>"
            )
    rows.append("</table>")
    return rows


def _row(name: str, value: str) -> str:
    return f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>"


def _e(text: str) -> str:
    return escape(text, quote=True)
