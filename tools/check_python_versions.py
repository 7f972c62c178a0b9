"""Prove that every pin in constraints.txt installs from wheels on each supported Python.

``make check-python-versions`` (part of ``make test``). For each Python version the
pyproject classifiers name, pip resolves the whole dependency set (the dependencies
and every extra) against constraints.txt as if installing on CPython X.Y for
manylinux x86_64, wheels only, installing nothing (``--dry-run``). A pin with no
wheel for that version fails the resolution, and the failure names the pin.

pip evaluates environment markers for the interpreter that runs it, not the target
version, so the script then evaluates every resolved package's requirements for the
target itself (at X.Y.0, the earliest patch release: redis needs async-timeout before
3.11.3) and resolves again with the ones pip left out added as plain requirements, so
that they too must have a pinned wheel; a few rounds at most. It fails on a resolved
package that constraints.txt does not pin (``make lock`` was not run: it pins only
what the Python running it needs, so such a pin is added by hand).

Fast: pip resolves from a wheelhouse (``.venv/wheelhouse``) of the wheels an earlier
run fetched, without asking an index; only when that fails (a pin changed, a first
run) does it fetch the pins from the indexes, which is the authoritative check. The
versions run in parallel.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]

# The glibc baselines a wheel may target: manylinux_2_28 (RHEL 8, Debian 10, Ubuntu
# 18.10) and older. pip does not widen an explicit --platform to older tags itself,
# except that manylinux2014 brings manylinux2010 and manylinux1.
PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)]
PLATFORMS.append("manylinux2014_x86_64")


def supported_versions(project: dict[str, Any]) -> list[str]:
    prefix = "Programming Language :: Python :: "
    found = [c.removeprefix(prefix) for c in project.get("classifiers", [])]
    return [v for v in found if re.fullmatch(r"3\.\d+", v)]


def requirements(project: dict[str, Any]) -> list[str]:
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return reqs


def read_pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def marker_environment(version: str) -> dict[str, str]:
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{version}.0",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "python_full_version": f"{version}.0",
        "python_version": version,
        "sys_platform": "linux",
    }


def required(req: Requirement, env: dict[str, str], extras: list[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**env, "extra": extra}) for extra in extras or [""])


def left_out(
    version: str, top_level: list[str], installed: list[dict[str, Any]]
) -> list[tuple[str, Requirement]]:
    """Requirements that hold on ``version`` but that pip (judging by its own Python) skipped,
    each with the name of the package that asks for it."""
    env = marker_environment(version)
    names = {canonicalize_name(item["metadata"]["name"]) for item in installed}
    wanted = [(Requirement(r), [""], "pyproject.toml") for r in top_level]
    for item in installed:
        meta = item["metadata"]
        extras = item.get("requested_extras") or [""]
        wanted += [(Requirement(r), extras, meta["name"]) for r in meta.get("requires_dist", [])]
    return sorted(
        (
            (source, req)
            for req, extras, source in wanted
            if required(req, env, extras) and canonicalize_name(req.name) not in names
        ),
        key=str,
    )


def unconditional(req: Requirement) -> str:
    """``req`` without its marker: for the target it holds (``left_out`` said so)."""
    plain = Requirement(str(req))
    plain.marker = None
    return str(plain)


def _pip(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _for_target(version: str, reqs_file: Path, constraints: Path) -> list[str]:
    """pip flags: wheels only, for CPython ``version`` on manylinux x86_64, within the pins."""
    abi = "cp" + version.replace(".", "")
    platforms = [f"--platform={p}" for p in PLATFORMS]
    return [
        "--only-binary=:all:", "--python-version", version, "--implementation", "cp",
        "--abi", abi, *platforms, "-c", str(constraints), "-r", str(reqs_file),
    ]  # fmt: skip


def resolve(flags: list[str], wheelhouse: Path, report: Path) -> subprocess.Popen[str]:
    """Resolve from the wheelhouse alone (no index): seconds, and nothing downloaded."""
    target = report.with_suffix(".target")
    return _pip(
        "install", "--dry-run", "--quiet", "--ignore-installed", "--target", str(target),
        "--no-index", "--find-links", str(wheelhouse), "--report", str(report), *flags,
    )  # fmt: skip


def fetch(flags: list[str], dest: Path) -> subprocess.Popen[str]:
    """Download the pinned wheels from the indexes: the authoritative check.

    Not quiet: pip names the pin it could not take only at its default verbosity.
    """
    return _pip("download", "--dest", str(dest), *flags)


def explain(version: str, output: str) -> list[str]:
    """pip's error lines, and the pins it could not take, as one line each."""
    lines = [
        line
        for line in output.splitlines()
        if re.match(r"\s*(ERROR|The conflict|The user requested|\S+ \S+ depends on)", line)
    ]
    pins = sorted(set(re.findall(r"\(constraint\) (\S+==\S+)", output)))
    pins += sorted(set(re.findall(r"requirement (\S+==\S+)", output)) - set(pins))
    hints = [
        f"{version}: {pin} has no wheel for CPython {version} on manylinux x86_64 (or "
        "conflicts): bump it in constraints.txt, then make test"
        for pin in pins
    ]
    return [*(f"  {line}" for line in lines), *hints]


MAX_ROUNDS = 4


def resolve_all(
    versions: list[str], wanted: dict[str, list[str]], args: argparse.Namespace, work: Path
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Resolve ``wanted[v]`` for each version, in parallel: what pip would install, by
    version, and the problems of the versions it could not resolve."""
    problems: list[str] = []
    flags: dict[str, list[str]] = {}
    for v in versions:
        reqs_file = work / f"requirements-{v}.txt"
        reqs_file.write_text("\n".join(wanted[v]) + "\n", encoding="utf-8")
        flags[v] = _for_target(v, reqs_file, args.constraints.resolve())
    reports = {v: work / f"report-{v}.json" for v in versions}
    # 1. From the wheels an earlier run fetched: enough whenever the pins did not change.
    runs = {v: resolve(flags[v], args.wheelhouse, reports[v]) for v in versions}
    outputs = {v: run.communicate()[0] for v, run in runs.items()}
    missing = [v for v, run in runs.items() if run.returncode != 0]
    # 2. Otherwise fetch the pinned wheels from the indexes (pip's cache spares
    # repeated downloads), into the wheelhouse, and resolve again.
    incoming = {v: work / f"incoming-{v}" for v in missing}
    fetches = {v: fetch(flags[v], incoming[v]) for v in missing}
    for version, process in fetches.items():
        output, _ = process.communicate()
        if process.returncode != 0:
            problems.append(f"{version}: pip could not fetch every pin as a wheel:")
            problems += explain(version, output)
            continue
        for wheel in incoming[version].glob("*.whl"):
            wheel.replace(args.wheelhouse / wheel.name)
        runs[version] = resolve(flags[version], args.wheelhouse, reports[version])
        outputs[version] = runs[version].communicate()[0]
    resolved: dict[str, list[dict[str, Any]]] = {}
    for version, process in runs.items():
        if version in fetches and fetches[version].returncode != 0:
            continue  # reported above
        if process.returncode != 0:
            problems.append(f"{version}: pip could not resolve the pins from wheels:")
            problems += explain(version, outputs[version])
            continue
        report = json.loads(reports[version].read_text(encoding="utf-8"))
        resolved[version] = report["install"]
    return resolved, problems


def unpinned(
    version: str, installed: list[dict[str, Any]], pins: dict[str, str], constraints: str
) -> list[str]:
    """Resolved packages whose version is not the one constraints.txt pins."""
    return [
        f"{version}: {name} {got} is not pinned in {constraints} (run make lock; "
        "a package needed only on another Python is pinned by hand)"
        for item in installed
        for name, got in [(item["metadata"]["name"], item["metadata"]["version"])]
        if pins.get(canonicalize_name(name)) != got
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("versions", nargs="*", help="default: the pyproject classifiers' 3.X")
    parser.add_argument("--constraints", type=Path, default=ROOT / "constraints.txt")
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        default=ROOT / ".venv" / "wheelhouse",
        help="where fetched wheels are kept for the next run (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    versions = args.versions or supported_versions(project)
    if not versions:
        parser.error("no versions given and no 'Programming Language :: Python :: 3.X' classifier")
    top_level = requirements(project)
    pins = read_pins(args.constraints)
    started = time.monotonic()
    problems: list[str] = []
    args.wheelhouse.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="check-python-versions-") as name:
        # Each round resolves the versions whose requirements grew in the round before
        # (by those pip left out): a chain of conditional requirements is short.
        wanted = {v: list(top_level) for v in versions}
        pending = list(versions)
        for round_ in range(MAX_ROUNDS):
            work = Path(name) / f"round-{round_}"
            work.mkdir()
            resolved, failed = resolve_all(pending, wanted, args, work)
            problems += failed
            pending = []
            for version, installed in resolved.items():
                missed = left_out(version, wanted[version], installed)
                if not missed:
                    problems += unpinned(version, installed, pins, args.constraints.name)
                elif round_ + 1 < MAX_ROUNDS:
                    wanted[version] += [unconditional(req) for _, req in missed]
                    pending.append(version)
                else:
                    problems += [
                        f"{version}: {source} requires {req} on {version}, and pip running on "
                        f"{sys.version_info.major}.{sys.version_info.minor} left it out"
                        for source, req in missed
                    ]
            if not pending:
                break
    seconds = time.monotonic() - started
    if problems:
        sys.stderr.write("check-python-versions: FAILED\n" + "\n".join(problems) + "\n")
        return 1
    sys.stdout.write(
        f"check-python-versions: all {len(pins)} pins install from wheels on CPython "
        f"{', '.join(versions)} (manylinux x86_64) in {seconds:.1f} s\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
