"""The fixture watcher behind ``--watch``: every way a file gets replaced is seen once,
and a touch or a neighbour's change reloads nothing."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mock_server.watch import FixtureWatcher


class Calls:
    def __init__(self) -> None:
        self.count = 0
        self.seen = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self.seen.set()

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.count == count, f"expected {count} reloads, saw {self.count}"


@pytest.fixture
def watch() -> Iterator[Callable[[Path], Calls]]:
    watchers: list[FixtureWatcher] = []

    def start(path: Path) -> Calls:
        calls = Calls()
        watcher = FixtureWatcher([path], on_change=calls, interval=0.05)
        watcher.start()
        watchers.append(watcher)
        return calls

    yield start
    for watcher in watchers:
        watcher.stop()


def settle() -> None:
    time.sleep(0.3)  # several polling rounds


def test_an_edit_in_place_reloads_once(tmp_path: Path, watch: Callable[[Path], Calls]) -> None:
    path = tmp_path / "firma.yaml"
    path.write_text("a: 1\n")
    calls = watch(path)
    path.write_text("a: 2\n")
    calls.wait_for(1)
    settle()
    assert calls.count == 1


def test_a_touch_or_a_neighbour_reloads_nothing(
    tmp_path: Path, watch: Callable[[Path], Calls]
) -> None:
    path = tmp_path / "firma.yaml"
    path.write_text("a: 1\n")
    calls = watch(path)
    os.utime(path, None)
    (tmp_path / "notes.txt").write_text("unrelated")
    settle()
    assert calls.count == 0


def test_an_editors_write_and_rename_reloads(
    tmp_path: Path, watch: Callable[[Path], Calls]
) -> None:
    path = tmp_path / "firma.yaml"
    path.write_text("a: 1\n")
    calls = watch(path)
    swap = tmp_path / ".firma.yaml.swp"
    swap.write_text("a: 2\n")
    swap.replace(path)
    calls.wait_for(1)


def test_configmap_symlink_swaps_are_seen_every_time(
    tmp_path: Path, watch: Callable[[Path], Calls]
) -> None:
    # Kubernetes mounts: firma.yaml -> ..data/firma.yaml, ..data -> ..v1, swapped atomically.
    for version in ("..v1", "..v2", "..v3"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "firma.yaml").write_text(f"version: {version}\n")
    (tmp_path / "..data").symlink_to("..v1")
    path = tmp_path / "firma.yaml"
    path.symlink_to("..data/firma.yaml")
    calls = watch(path)
    for count, version in enumerate(("..v2", "..v3"), start=1):
        link = tmp_path / "..data_tmp"
        link.symlink_to(version)
        link.replace(tmp_path / "..data")
        calls.wait_for(count)


def test_a_directory_deleted_and_made_again_is_still_watched(
    tmp_path: Path, watch: Callable[[Path], Calls]
) -> None:
    folder = tmp_path / "fixtures"
    folder.mkdir()
    path = folder / "firma.yaml"
    path.write_text("a: 1\n")
    calls = watch(path)
    shutil.rmtree(folder)
    settle()
    assert calls.count == 0, "a missing file is waited for, not loaded"
    folder.mkdir()
    path.write_text("a: 2\n")
    calls.wait_for(1)
    path.write_text("a: 3\n")
    calls.wait_for(2)


def test_a_reload_that_fails_is_tried_again_until_it_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reload can fail for a while (the shared store unreachable): the edit is not
    forgotten, and the failure is logged once, not at every poll."""
    path = tmp_path / "firma.yaml"
    path.write_text("a: 1\n")
    attempts: list[int] = []

    def flaky() -> None:
        attempts.append(1)
        if len(attempts) < 4:
            raise RuntimeError("store unreachable")

    watcher = FixtureWatcher([path], on_change=flaky, interval=0.05)
    watcher.start()
    try:
        path.write_text("a: 2\n")
        deadline = time.monotonic() + 5
        while len(attempts) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        settle()
    finally:
        watcher.stop()
    assert len(attempts) == 4, "tried until it worked, then no more"
    failures = [r for r in caplog.records if "reloading the fixtures failed" in r.getMessage()]
    assert len(failures) == 1
