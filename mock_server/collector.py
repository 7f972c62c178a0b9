"""The garbage collector's policy for a long-running mock: the world is never walked,
neither the fixtures nor the records created while serving.

CPython's full (generation 2) collection walks every tracked object, and every request
waits meanwhile. Start-up makes ~120,000 of them (the dependencies' modules, the specs,
validators, the fixture world) and almost all live as long as the process.
``mock-server`` calls :func:`hold` before it imports anything heavy: no collection runs
while they are made (the collector would walk the growing heap again and again: ~35 ms
of start-up). :func:`settle`, once the app is built, freezes what exists: the collector
never walks it again, and forked workers keep sharing its pages. It does not collect
first: the ~3,000 objects start-up leaves unreachable (classes the ``attrs`` library
replaced, import-time closures; ~0.7 MB, no open files or sockets: a Redis
store's start-up probe leaves its client and loop, closed) stay, frozen, and a
collection of everything to free them would cost ~45 ms of start-up.

Records created while serving (the control plane's batch routes create thousands a
call) are not frozen: the memory store keeps each as marshalled bytes, which the
collector does not track (:mod:`mock_server.state.memory`; SQLite and Redis keep them
outside the process). A world of 100,000 created Craftkit requests, 200,000 tracked
dicts and lists before, made full collections of 70-90 ms of CPU; it adds nothing now,
and they take ~1 ms (docs/performance.md). What a full collection still walks is what
is in flight and the journal: capped per session (``--journal-bytes``), a full 1 MiB one
is ~8,000-14,000 objects, ~1 ms of a full collection each.

Freezing the survivors of every full collection, tried in issue #12 before, bounded the
pauses but leaked: what is alive at a freeze (requests in flight, with the reference
cycles an exception and its traceback make) is never freed once it dies, and after a
freeze full collections come often, so a keep-alive load leaked ~6 KB a request.
Nothing made while serving is frozen.
"""

from __future__ import annotations

import gc

__all__ = ["hold", "settle"]

_held = False


def hold() -> None:
    """No collections until :func:`settle`: call first thing at start-up (a no-op when the
    collector is off already)."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def settle() -> None:
    """Freeze what exists, then let the collector run again if :func:`hold` stopped it:
    call after start-up, before serving."""
    global _held
    gc.freeze()
    if _held:
        _held = False
        gc.enable()
