"""One frozen settings object per run, built at the edge (CLI flags, pytest options)."""

from __future__ import annotations

import math
import os
import re
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from conformance._resources import BUNDLED, BUNDLED_FIXTURES, bundled_spec, fixture_file
from conformance.errors import UsageError
from conformance.world import API_NAMES, YAML_LOADER, yaml_error

__all__ = ["DEFAULT_MAX_TIME", "DEFAULT_RATE_LIMIT_WAIT", "OPERATIONS", "PROFILES", "Settings"]

# Named budgets (STYLE.md): "default" for CI gates, "fast" for the harness's own
# tests, "thorough" for nightly runs. Each is (max_examples, state runs, steps per run).
PROFILES = {"fast": (10, 2, 6), "default": (50, 5, 10), "thorough": (300, 30, 20)}
DEFAULT_MAX_TIME = 600.0  # --max-time: a whole run's wall-clock budget, in seconds
DEFAULT_RATE_LIMIT_WAIT = 65.0  # --rate-limit-wait: one Firma window and a margin

# The operation the harness acts through, which a --spec must declare to be the API's
# document: (method, path, what it does); conformance.apis has the same as `operation`.
OPERATIONS = {
    "craftkit": ("post", "/v1/signatures/{id}/cancel", "cancel"),
    "firma": ("post", "/jwt/revoke-signing-request", "revoke"),
}
_TITLES = {"craftkit": "Craftkit", "firma": "Firma"}
# Where each report goes: (field, the flag or variable that names it, an example file name).
_REPORTS = (
    ("junit_xml", "--junit-xml", "report.xml"),
    ("report_json", "--report-json", "report.json"),
    ("sarif", "--sarif", "report.sarif"),
    ("html", "--html", "report.html"),
    ("github_step_summary", "$GITHUB_STEP_SUMMARY", "summary.md"),
)
_PARAMETER = re.compile(r"\{[^}/]*\}")

# Settings fields that say where the report goes, not how the run goes: never in a rerun.
_NOT_FLAGS = frozenset(
    {"environ", "junit_xml", "report_json", "sarif", "html", "github", "github_step_summary"}
)


@dataclass(frozen=True)
class Settings:
    """What to check and how hard.

    >>> settings = Settings(api="craftkit", base_url="http://127.0.0.1:8000",
    ...                     fixtures=Path("fixtures/craftkit.yaml"), profile="fast")
    >>> settings.examples, settings.spec_path.name
    (10, 'craftkit.openapi.yaml')
    """

    api: str
    base_url: str
    fixtures: Path
    """As the user gave it: a file, or ``bundled:NAME`` (see :attr:`fixtures_path`)."""
    spec: Path | None = None
    seed: int = 0
    max_examples: int | None = None  # None: the profile's
    timeout: float = 10.0
    rate_limit_probe: bool = False
    profile: str = "default"
    phases: tuple[str, ...] = ("contract", "state")
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Where the fixture's ``${VAR}`` s are read; the CLI and the pytest plugin pass
    ``os.environ`` (never shown: it holds the keys)."""
    # -- reports (issue #10): where the writers put the report; none of it changes the run,
    # so none of it is in the rerun line (conformance.report.rerun_command)
    junit_xml: Path | None = None
    report_json: Path | None = None
    sarif: Path | None = None
    html: Path | None = None
    github: bool = False  # GitHub Actions annotations (on by itself when GITHUB_ACTIONS=true)
    github_step_summary: Path | None = None  # $GITHUB_STEP_SUMMARY, read by the front doors
    # -- bounds (issue #10)
    max_time: float = DEFAULT_MAX_TIME
    """The whole run's wall-clock budget; reaching it stops the run (``max_time_exceeded``)."""
    rate_limit_wait: float = DEFAULT_RATE_LIMIT_WAIT
    """How long the rate-limit probe may wait for a window to reset (0: never)."""

    def __post_init__(self) -> None:
        if self.api not in API_NAMES:
            raise UsageError(f"api: {self.api!r} is not one of {', '.join(API_NAMES)}")
        _check_base_url(self.base_url)
        if self.profile not in PROFILES:
            raise UsageError(f"profile: {self.profile!r} is not one of {', '.join(PROFILES)}")
        _seconds("--timeout", self.timeout, example="10")
        _seconds("--max-time", self.max_time, example="600, or inf for no limit", inf=True)
        _seconds("--rate-limit-wait", self.rate_limit_wait, example="65, or 0")
        if self.timeout <= 0:
            raise UsageError(f"--timeout: {self.timeout} must be a positive number of seconds")
        if not self.max_time > 0:
            raise UsageError(f"--max-time: {self.max_time} must be a positive number of seconds")
        if not self.rate_limit_wait >= 0:
            raise UsageError(
                f"--rate-limit-wait: {self.rate_limit_wait} must be 0 or a positive number of "
                "seconds"
            )
        if self.max_examples is not None and self.max_examples < 1:
            raise UsageError(f"--max-examples: {self.max_examples} must be at least 1")
        unknown = set(self.phases) - {"contract", "state"}
        if unknown:
            raise UsageError(f"phases: {sorted(unknown)} unknown; use contract and/or state")
        if fixture_file(self.fixtures) is None:
            names = ", ".join(BUNDLED + name for name in BUNDLED_FIXTURES)
            raise UsageError(
                f"--fixtures: {self.fixtures} names no bundled fixture; the bundled ones are "
                f"{names} (or give a file)"
            )
        if not self.spec_path.is_file():
            raise UsageError(
                f"--spec: {self.spec_path} is not a file; pass the {self.api} OpenAPI document"
            )
        if self.spec is not None:  # the bundled one is known good; read it once, later
            _check_spec(self.spec, self.api)
        named: dict[Path, str] = {}
        for name, flag, example in _REPORTS:  # before the run spends the target's records
            path = getattr(self, name)
            if path is None:
                continue
            _check_destination(Path(path), flag, example)
            same = Path(os.path.realpath(path))
            if same in named:  # the one written last would leave nothing of the other
                raise UsageError(
                    f"{flag}: {path} is also {named[same]}'s report; give each report a "
                    f"file of its own, e.g. {Path(path).with_name(example)}"
                )
            named[same] = flag

    # -- reports (issue #10): the command line that reproduces this run

    def rerun(self) -> str:
        """``conformance run ...`` with every flag that shaped this run, values as typed.

        Every field that is not a report output is a flag of the same name (``max_examples``
        is ``--max-examples``), written when it differs from its default; ``phases`` is
        ``--only``. The seed is always written.

        >>> Settings(api="firma", base_url="http://h/api/v1", fixtures=Path("bundled:firma"),
        ...          profile="fast", phases=("state",), timeout=2.5).rerun()
        'conformance run firma --base-url http://h/api/v1 --fixtures bundled:firma --seed 0 \
--timeout 2.5 --profile fast --only state'
        """
        words = ["conformance", "run", self.api, "--base-url", self.base_url]
        words += ["--fixtures", str(self.fixtures), "--seed", str(self.seed)]
        for spec in fields(self):
            if spec.name in _NOT_FLAGS or spec.name in ("api", "base_url", "fixtures", "seed"):
                continue
            value = getattr(self, spec.name)
            if value == spec.default or value is None or value is False:
                continue
            if spec.name == "phases":
                words += ["--only", value[0]] if len(value) == 1 else []
                continue
            flag = "--" + spec.name.replace("_", "-")
            if value is True:
                words.append(flag)
            else:
                words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
        return " ".join(shlex.quote(word) for word in words)

    @property
    def fixtures_path(self) -> Path:
        """The fixture file to read: :attr:`fixtures`, or the bundled file it names."""
        return fixture_file(self.fixtures) or self.fixtures

    @property
    def spec_path(self) -> Path:
        return self.spec if self.spec is not None else bundled_spec(self.api)

    @property
    def examples(self) -> int:
        return self.max_examples if self.max_examples is not None else PROFILES[self.profile][0]

    @property
    def state_runs(self) -> tuple[int, int]:
        """(Hypothesis examples, steps per example) for the state machine."""
        default_examples, runs, steps = PROFILES[self.profile]
        if self.max_examples is None:
            return runs, steps
        return max(1, runs * self.max_examples // default_examples), steps


_EXAMPLE_URL = "e.g. http://127.0.0.1:8000"


def _check_base_url(url: str) -> None:
    """Refuse a ``--base-url`` no request can be sent to, naming what is wrong in it: not
    http(s), a query, an unclosed IPv6 bracket, no host, a host name DNS cannot carry (an
    empty label, one over 63 characters, over 253 in all), a port that is not 1-65535.

    >>> _check_base_url("http://[::1]:8000/api/v1")
    >>> _check_base_url("http://127.0.0.1:99999")
    Traceback (most recent call last):
    ...
    conformance.errors.UsageError: --base-url: 'http://127.0.0.1:99999' has the port '99999'; \
a port is a number from 1 to 65535, e.g. http://127.0.0.1:8000
    """

    def refuse(problem: str) -> UsageError:
        return UsageError(f"--base-url: {url!r} {problem}")

    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unclosed or invalid [IPv6] host
        raise refuse(
            f"is not a valid URL ({exc}); an IPv6 address goes in brackets, e.g. http://[::1]:8000"
        ) from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise refuse(f"is not an http(s) URL; {_EXAMPLE_URL}")
    if parts.query or parts.fragment:
        raise refuse("has a query or fragment; give the API's root only")
    host_port = parts.netloc.rpartition("@")[2]
    if host_port.startswith("["):
        host, _, after = host_port[1:].partition("]")
        if after and not after.startswith(":"):
            raise refuse(f"has {after!r} after its IPv6 address; e.g. http://[::1]:8000")
        port = after[1:] if after else None
    else:
        host, colon, port_text = host_port.rpartition(":")
        host, port = (host, port_text) if colon else (host_port, None)
    if not host:
        raise refuse(f"has no host; {_EXAMPLE_URL}")
    if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise refuse(f"has the port {port!r}; a port is a number from 1 to 65535, {_EXAMPLE_URL}")
    if not host_port.startswith("["):
        _check_host_name(url, host)


def _check_host_name(url: str, host: str) -> None:
    """A host name's labels (between dots; one dot may end it) are 1 to 63 characters, 253
    in all: what DNS carries, and what the resolver refuses otherwise."""
    labels = host.removesuffix(".").split(".")
    problem = ""
    if len(host) > 253:
        problem = f"is {len(host)} characters, over the 253 a host name may have"
    elif "" in labels:
        problem = "has an empty label (two dots in a row, or a dot first)"
    else:
        long = next((label for label in labels if len(label) > 63), None)
        if long is not None:
            problem = f"has a label of {len(long)} characters ({long[:20]}...), over DNS's 63"
    if problem:
        raise UsageError(
            f"--base-url: {url!r}: the host name {host!r} {problem}; give the target's host "
            f"name or address, {_EXAMPLE_URL}"
        )


def _seconds(flag: str, value: float, *, example: str, inf: bool = False) -> None:
    """Refuse NaN, and infinity unless it means something for ``flag`` (``--max-time inf``:
    no limit); a number's sign is checked by the caller."""
    if math.isnan(value) or (math.isinf(value) and not inf):
        kind = "a number" if inf else "a finite number"
        raise UsageError(
            f"{flag}: {value:g} is not {kind} of seconds; give one, e.g. {flag} {example}"
        )


def _check_spec(spec: Path, api: str) -> None:
    """Refuse a ``--spec`` that cannot be the API's OpenAPI document, before any request:
    unreadable, not YAML or JSON, not OpenAPI 3, or without the operation the harness
    acts through (another API's document would spend every open record on false findings).
    """
    fix = f"; pass the {api} OpenAPI document, or leave --spec out for the bundled one"

    def refuse(problem: str) -> UsageError:
        return UsageError(f"--spec: {spec}: {problem}{fix}")

    try:
        text = spec.read_text(encoding="utf-8")
    except OSError as exc:
        raise refuse(f"cannot read it ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise refuse("not UTF-8 text (an OpenAPI document is YAML or JSON)") from exc
    try:
        document: Any = yaml.load(text, Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        place, problem = yaml_error(exc, text)
        raise refuse(f"not parseable as YAML or JSON: {place}{problem}") from exc
    if document is None:
        raise refuse("not an OpenAPI 3 document: the file is empty")
    version = document.get("openapi") if isinstance(document, dict) else None
    if not (isinstance(version, str) and version.startswith("3.")):
        found = ""
        if isinstance(document, dict) and "swagger" in document:
            found = (
                f" (it is Swagger {document['swagger']}, OpenAPI 2; the harness reads "
                "OpenAPI 3.0 and 3.1)"
            )
        elif isinstance(version, int | float):
            found = f" (openapi: {version} is a number; write the version as text: 3.1.0)"
        raise refuse(f"not an OpenAPI 3 document: it has no 'openapi: 3.x' at the top{found}")
    method, path, verb = OPERATIONS[api]
    if not _declares(document, method, path):
        other = next(
            (o for o, (m, p, _) in OPERATIONS.items() if o != api and _declares(document, m, p)),
            None,
        )
        which = f" (it is the {other} document)" if other else ""
        raise refuse(
            f"not the {api} document: it lacks {_TITLES[api]}'s {verb}, "
            f"{method.upper()} {path}{which}"
        )


def _declares(document: dict[str, Any], method: str, path: str) -> bool:
    """Whether ``document`` has ``method path``, whatever its path parameters are named."""
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return False
    shape = _PARAMETER.sub("{}", path)
    return any(
        isinstance(key, str)
        and _PARAMETER.sub("{}", key) == shape
        and isinstance(item, dict)
        and method in item
        for key, item in paths.items()
    )


def _check_destination(path: Path, flag: str, example: str) -> None:
    """Refuse a report file the writers could not write after the run, when the target's
    open records are spent: the place must be a file (or a device) in an existing
    directory, and writable. Nothing is left behind and nothing is truncated: an existing
    file is opened for appending and closed unwritten, a new one is tried as a temporary
    file beside it, which is removed."""

    def refuse(problem: str) -> UsageError:
        return UsageError(f"{flag}: {path}: {problem}")

    elsewhere = f"point {flag} at another file" if flag.startswith("$") else "write it elsewhere"
    parent = path.parent
    if path.is_dir():
        raise refuse(f"is a directory; give a file name, e.g. {path / example}")
    if not parent.is_dir():
        if parent.exists():
            raise refuse(f"{parent} is not a directory; give a file name in a directory")
        raise refuse(
            f"the directory {parent} does not exist; create it (mkdir -p {parent}) or "
            + elsewhere.replace("write it", "write the report")
        )
    try:
        if path.is_file():
            with path.open("ab"):
                pass
        elif path.exists():  # a device or a pipe: opening a pipe would wait for its reader
            if not os.access(path, os.W_OK):
                raise PermissionError(13, "Permission denied")
        else:
            with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{path.name}.", suffix=".tmp"):
                pass
    except OSError as exc:
        raise refuse(f"cannot write there ({exc.strerror}); {elsewhere}") from exc
