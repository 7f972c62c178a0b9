"""``conformance run``: check an implementation against its contract; exit 0, 1, 2 or 3."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from conformance._extra import INSTALL_HINT, is_missing_extra
from conformance._github import stopped, why_stopped
from conformance._resources import bundled_doc
from conformance._version import version
from conformance.errors import FixtureError, HarnessError, PreconditionFailed, ReportNotWritten
from conformance.settings import (
    DEFAULT_MAX_TIME,
    DEFAULT_RATE_LIMIT_WAIT,
    PROFILES,
    Settings,
)
from conformance.world import API_NAMES

__all__ = ["build_parser", "main"]

log = logging.getLogger("conformance")

EPILOG = """\
examples:
  conformance run craftkit --base-url http://127.0.0.1:8000 --fixtures bundled:craftkit
  conformance run firma --base-url https://staging.example.com/api/v1 \\
      --fixtures staging-firma.yaml --junit-xml firma.xml --seed 7

what it checks:
  contract  Schemathesis, all built-in checks (status codes, content types, headers,
            response schemas, negative/positive data, ignored auth, undeclared methods)
  state     every listed key authenticates; cancel/revoke open resources once (200),
            again (409 / 400), terminal ones (409 / 400), unknown ids (404), another
            tenant's key (404), refused requests change nothing, no cascade; error
            envelopes; every answer validated against the spec
  Open resources in the fixture are consumed: each is cancelled or revoked at most once.

reports: the verdict first (FAIL: 3 problems in 2 checks / PASS: ...), then one block per
  problem (the occurrences of one cause folded, with their ids), and a rerun line that
  reproduces the run. --junit-xml, --report-json, --sarif, --html write files; --github
  prints annotations and a job summary.

bounds: --timeout covers each whole answer, body included; an answer over 10 MiB
  (after decompression) is a violation (response_too_large); no wait is longer
  than 60 s (a longer Retry-After is a violation, retry_after_excessive); a run
  that reaches --max-time stops and reports max_time_exceeded (exit 1).

exit codes: 0 no violation, 1 violations found, 2 bad usage, bad fixture, unreachable target,
  or a precondition not met (a stale fixture, a --base-url where everything answers 404:
  the message says what to do), 3 internal error (a bug in the harness: please report it).
"""

REPORT_BUGS = "the esign-contract-mock issue tracker"  # where an internal error (exit 3) goes


class _Parser(argparse.ArgumentParser):
    """argparse's parser; in GitHub mode a bad flag is also an ``::error`` annotation."""

    github = False  # set by build_parser on the parser and its subparsers

    def error(self, message: str) -> NoReturn:
        if self.github:
            command = "conformance run" if self.prog == "conformance" else self.prog
            text = f"{self.prog}: {message} ({command} --help lists the flags)"
            sys.stdout.write(stopped(None, "usage error", text))
        super().error(message)


def build_parser(*, github: bool = False) -> argparse.ArgumentParser:
    """The command line; with ``github`` (GitHub mode), a bad flag is also an annotation."""
    parser = _Parser(
        prog="conformance",
        description="Check an implementation of the Craftkit or Firma API against its contract.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"conformance {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{run,explain}")
    run_parser = commands.add_parser(
        "run",
        help="run the suites against one target",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_parser.add_argument("api", choices=API_NAMES, help="which contract the target implements")
    run_parser.add_argument(
        "--base-url", required=True, help="the API root as its spec's servers entry has it"
    )
    run_parser.add_argument(
        "--fixtures",
        required=True,
        type=Path,
        metavar="FILE",
        help="what the target holds (format: docs/fixtures.md), or bundled:NAME for the "
        "mock's own fixtures: bundled:craftkit, bundled:firma",
    )
    run_parser.add_argument(
        "--spec",
        type=Path,
        metavar="FILE",
        help="the API's OpenAPI 3 document, YAML or JSON; it must declare the cancel (Craftkit) "
        "or revoke (Firma) operation (default: the bundled vendor spec)",
    )
    run_parser.add_argument(
        "--seed", type=int, default=0, help="makes a run repeatable (default: 0)"
    )
    run_parser.add_argument(
        "--max-examples",
        type=int,
        metavar="N",
        help="Schemathesis examples per operation (default: the profile's)",
    )
    run_parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="default",
        help="budget: fast, default or thorough (default: default)",
    )
    run_parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="per-request timeout, the whole answer included (default: 10)",
    )
    run_parser.add_argument(
        "--max-time",
        type=float,
        default=DEFAULT_MAX_TIME,
        metavar="SECONDS",
        help=f"the whole run's budget; reaching it stops the run and fails it "
        f"(max_time_exceeded); inf: no limit (default: {DEFAULT_MAX_TIME:g})",
    )
    run_parser.add_argument(
        "--rate-limit-probe",
        action="store_true",
        help="spend one key's quota to expect a 429 (off: it uses the target's quota)",
    )
    run_parser.add_argument(
        "--rate-limit-wait",
        type=float,
        default=DEFAULT_RATE_LIMIT_WAIT,
        metavar="SECONDS",
        help="how long the probe may wait for the limited key's window to reset, to see "
        f"its quota come back; 0 skips that (default: {DEFAULT_RATE_LIMIT_WAIT:g})",
    )
    run_parser.add_argument("--only", choices=["contract", "state"], help="run one phase only")
    run_parser.add_argument(
        "--junit-xml", type=Path, metavar="FILE", help="write a JUnit report for CI"
    )
    run_parser.add_argument(
        "--report-json", type=Path, metavar="FILE", help="write the full report as JSON"
    )
    # -- reports (issue #10): formats CI tools read
    run_parser.add_argument(
        "--sarif",
        type=Path,
        metavar="FILE",
        help="write a SARIF 2.1.0 report (code scanning: one result per problem, stable "
        "fingerprints)",
    )
    run_parser.add_argument(
        "--html", type=Path, metavar="FILE", help="write a single-file HTML report"
    )
    run_parser.add_argument(
        "--github",
        action="store_true",
        help="print GitHub Actions annotations and append a job summary to "
        "$GITHUB_STEP_SUMMARY (on by itself when GITHUB_ACTIONS=true)",
    )
    run_parser.add_argument(
        "--log-level",
        default="info",
        type=str.lower,  # any case: INFO as Python's logging names it, info as mock-server's
        choices=["debug", "info", "warning", "error"],
        help="how much the harness logs on stderr: debug, info, warning or error (any case; "
        "default: info)",
    )
    explain_parser = commands.add_parser(
        "explain",
        help="what a check code proves and how to fix a target that fails it",
        description="Print a check's section of docs/checks.md; without CODE, list the codes.",
    )
    explain_parser.add_argument(
        "code", nargs="?", help="a check code from a report, e.g. terminal_conflict"
    )
    for each in (parser, run_parser, explain_parser):
        each.github = github
    return parser


def _explain(code: str | None) -> int:
    """``conformance explain``: needs no extra, only the bundled docs/checks.md."""
    from conformance.explain import codes, explain

    if code is None:
        sys.stdout.write("".join(f"{c}\n" for c in codes()))
        sys.stdout.write(
            "\n'conformance explain CODE' says what a check proves and how to fix it.\n"
        )
        return 0
    try:
        sys.stdout.write(explain(code))
    except HarnessError as exc:
        sys.stderr.write(f"conformance: {exc}\n")
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(github=_github_mode(argv)).parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # a target's lone surrogates must not crash a report
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if args.command == "explain":
        return _explain(args.code)
    github = _github(args)
    try:  # Hypothesis reads it as it is imported (its example database lives below it)
        os.getcwd()
    except FileNotFoundError:
        gone = "the working directory no longer exists; cd to one that does and run it again"
        sys.stderr.write(f"conformance: {gone}\n")
        return _stopped(github, args.api, "no working directory", gone)
    try:  # the [conformance] extra: imported only now, so --help works without it
        from conformance.report import render_console, write_reports
        from conformance.runner import run
    except ModuleNotFoundError as exc:
        if not is_missing_extra(exc):
            raise
        missing = f"{INSTALL_HINT} (no module {exc.name!r})"
        sys.stderr.write(f"conformance: {missing}\n")
        return _stopped(github, args.api, "not installed", missing)
    level = args.log_level.upper()
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    try:
        settings = Settings(
            api=args.api,
            base_url=args.base_url,
            fixtures=args.fixtures,
            spec=args.spec,
            seed=args.seed,
            max_examples=args.max_examples,
            timeout=args.timeout,
            rate_limit_probe=args.rate_limit_probe,
            max_time=args.max_time,
            rate_limit_wait=args.rate_limit_wait,
            profile=args.profile,
            phases=(args.only,) if args.only else ("contract", "state"),
            environ=dict(os.environ),
            **_report_settings(args),
        )
        report = run(settings)
    except FixtureError as exc:
        for problem in exc.problems:
            log.error("%s", problem)
        log.error(
            "the fixture format: docs/fixtures.md (installed: %s)", bundled_doc("fixtures.md")
        )
        return _stopped(github, args.api, why_stopped(exc), "\n".join(exc.problems))
    except PreconditionFailed as exc:
        log.error("precondition not met, nothing reported: %s", exc)
        return _stopped(github, args.api, why_stopped(exc), str(exc))
    except HarnessError as exc:  # a bad setting, an unreachable target, Schemathesis stopping
        log.error("%s", exc)
        return _stopped(github, args.api, why_stopped(exc), str(exc))
    except Exception as exc:  # a bug in the harness, not a finding: exit 3, never 1
        return _internal_error(exc)
    try:
        sys.stdout.write(render_console(report) + "\n")
        sys.stdout.write(write_reports(report))
    except ReportNotWritten as exc:  # the others are written; exit 2 as before the run
        sys.stdout.write(exc.annotations)
        for problem in exc.problems:
            log.error("%s", problem)
        return _stopped(github, args.api, why_stopped(exc), "\n".join(exc.problems))
    except OSError as exc:  # standard output itself (a closed pipe, a full disk)
        log.error(
            "standard output: cannot write the report (%s); the report files are written",
            exc.strerror or exc,
        )
        return 2
    except Exception as exc:
        return _internal_error(exc)
    return report.exit_code


def _github_mode(argv: Sequence[str]) -> bool:
    """GitHub mode as the command line will say, before it is parsed (a bad flag is
    annotated too): ``--github`` or a prefix argparse takes for it, or a GitHub job."""
    flag = any(len(word) >= 3 and "--github".startswith(word) for word in argv)
    return flag or os.environ.get("GITHUB_ACTIONS") == "true"


def _github(args: argparse.Namespace) -> bool:
    """GitHub Actions output: ``--github``, and on by itself in a GitHub job."""
    return bool(args.github) or os.environ.get("GITHUB_ACTIONS") == "true"


def _stopped(github: bool, api: str, why: str, message: str) -> int:
    """Exit 2; in GitHub mode, first the one ``::error`` saying why (what the log says)."""
    if github:
        sys.stdout.write(stopped(api, why, message))
    return 2


def _report_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Where the reports go; GitHub Actions output is on by itself in a GitHub job."""
    github = _github(args)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    return {
        "junit_xml": args.junit_xml,
        "report_json": args.report_json,
        "sarif": args.sarif,
        "html": args.html,
        "github": github,
        "github_step_summary": Path(summary) if github and summary else None,
    }


def _internal_error(exc: BaseException) -> int:
    """Exit 3 with a short message; the traceback only at --log-level DEBUG."""
    log.debug("internal error", exc_info=exc)
    log.error(
        "internal error (a bug in the harness, not in the target): %s: %s; please report it "
        "on %s with the command line, conformance --version and the output of "
        "--log-level DEBUG",
        type(exc).__name__,
        str(exc)[:300],
        REPORT_BUGS,
    )
    return 3


if __name__ == "__main__":
    raise SystemExit(main())
