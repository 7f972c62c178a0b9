"""The harness's pytest suite run as a user runs it (``pytest --pyargs conformance.suite``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_suite(
    tmp_path: Path, *options: str, github: bool = False
) -> subprocess.CompletedProcess[str]:
    """``pytest --pyargs conformance.suite`` with these options (``--conformance-*``, or
    pytest's), as a user runs it: in a project of their own (``tmp_path``), outside a
    GitHub job unless ``github``."""
    args = ["-p", "no:cacheprovider", "--pyargs", "conformance.suite", *options]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env |= {"GITHUB_ACTIONS": "true"} if github else {}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # a user's project, not this repository's pytest configuration
        env=env,
    )
