"""The benchmark (``bench/``, ``make bench``) in a tiny mode: it runs, it prints one table,
it counts every answer by status, and a path answered otherwise fails the run.

No speed is asserted here: the numbers are the benchmark's business (docs/performance.md).
wrk is Debian's (``tools/ensure_wrk``, run by ``make test``); without it the wrk cases
fail with the one line that says how to install it, as the Redis fixtures do.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load import LoadGenerator, PythonLoad, Wrk, find_wrk
from bench.paths import PATHS, BenchPath
from bench.run import run
from bench.stores import Stores, mock_targets
from bench.targets import MockTarget
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

LOADS = ["wrk", "python"]
CRAFTKIT_409, FIRMA_400 = PATHS


def generator(name: str) -> LoadGenerator:
    if name == "python":
        return PythonLoad()
    path, line = find_wrk()
    if path is None:
        pytest.fail(line, pytrace=False)
    return Wrk(path)


def bench(*args: str, json_out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", "--repeat", "1", "--warmup", "0"]
        + [*args, "--json", str(json_out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize("load", LOADS)
def test_a_tiny_run_prints_one_table_of_sane_numbers(load: str, tmp_path: Path) -> None:
    generator(load)  # wrk installed, or the test fails saying how
    out = tmp_path / "bench.json"
    done = bench("--duration", "0.5", "--only", "memory", "--load", load, json_out=out)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text(encoding="utf-8"))

    assert data["load"]["tool"] == load
    rows = {row["path"]: row for row in data["rows"]}
    assert set(rows) == {"craftkit-409", "firma-400"}
    for path, status in (("craftkit-409", "409"), ("firma-400", "400")):
        row = rows[path]
        [sample] = row["samples"]
        assert sample["statuses"] == {status: sample["answers"]}, sample
        assert sample["answers"] > 0 and row["rps"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["ratio"] == 1.0 and row["unexpected"] == {}
        assert row["cpu_us"] > 0
    started = data["configs"]["memory-1"]
    assert 0 < started["ready_s"] < 60 and started["rss_mib"] > 10
    assert started["processes"] == 1
    assert set(data["configs"]) == {"memory-1"} and data["unavailable"] == {}
    assert data["goal"]["met"] is None and data["problems"] == []

    lines = done.stdout.splitlines()
    assert sum(line.startswith("| memory-1 | ") for line in lines) == 2
    assert any(line.startswith(f"load: {load}") for line in lines)
    assert any(line.startswith("machine: ") for line in lines)
    assert "goal (issue #11): redis-1 ≥ 0.5× memory-1 req/s on every path: not measured" in lines


def test_redis_is_started_by_the_run_and_compared_when_the_baseline_runs(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = bench(
        "--duration", "0.5", "--only", "memory-1,redis-1", "--path", "craftkit-409",
        "--load", "python", json_out=out,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    rows = {row["config"]: row for row in data["rows"]}
    assert set(rows) == {"memory-1", "redis-1"}
    assert rows["redis-1"]["samples"][0]["statuses"].keys() == {"409"}
    assert rows["redis-1"]["ratio"] == pytest.approx(
        rows["redis-1"]["rps"] / rows["memory-1"]["rps"]
    )
    assert data["machine"]["versions"]["redis-server"]
    assert data["goal"]["met"] in (True, False)
    assert set(data["goal"]["ratios"]) == {"craftkit-409"}


@pytest.mark.parametrize("load", LOADS)
def test_answers_other_than_the_paths_status_are_counted_and_fail_the_run(
    load: str, tmp_path: Path
) -> None:
    """The bundled Firma fixture allows 120 writes a minute per key: past them, 429s."""
    [target] = mock_targets(["memory-1"], Stores(tmp_path), fixtures=())
    results = run(
        [target], [FIRMA_400], generator(load), repeat=1, seconds=1, warmup=0, workdir=tmp_path
    )
    [sample] = results.samples[("memory-1", "firma-400")]
    assert 0 < sample.statuses["400"] <= 120
    assert sample.statuses["429"] > 0
    assert sample.unexpected == {"429": sample.statuses["429"]}
    assert sample.rps * 0.5 < sample.statuses["400"]  # req/s counts the 400s only
    [problem] = results.problems
    assert problem.startswith("memory-1 firma-400: answers other than 400: {'429': ")


def test_a_path_whose_first_answer_is_wrong_is_not_loaded(tmp_path: Path) -> None:
    wrong = BenchPath(
        "craftkit-200", "a terminal request, expecting 200", CRAFTKIT_409.request, 200
    )
    [target] = mock_targets(["memory-1"], Stores(tmp_path), fixtures=())
    results = run([target], [wrong], PythonLoad(), repeat=1, seconds=1, warmup=0, workdir=tmp_path)
    assert results.samples == {}
    [problem] = results.problems
    assert problem.startswith("memory-1 craftkit-200: expected 200, the first request got 409: ")
    assert '"conflict"' in problem


def test_a_server_that_cannot_start_is_reported_unavailable_with_its_reason(
    tmp_path: Path,
) -> None:
    target = MockTarget("mongo-1", "mongo", 1, lambda workdir: "mongodb://127.0.0.1:1/db")
    results = run(
        [target], [CRAFTKIT_409], PythonLoad(), repeat=2, seconds=1, warmup=0, workdir=tmp_path
    )
    assert results.samples == {} and results.problems == []
    assert results.unavailable["mongo-1"].startswith(
        "--store 'mongodb://127.0.0.1:1/db': unknown scheme 'mongodb'"
    )
