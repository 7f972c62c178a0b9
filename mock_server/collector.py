"""The garbage collector's policy for a long-running mock: no full collection walks the world.

CPython's full (generation 2) collection walks every tracked object: with a world of
100,000 records it pauses every request for tens of milliseconds. The records, the
sessions and the journal hold no reference cycles: they are freed by reference counting
the moment they are dropped, and need no collector. So:

* after start-up, :func:`settle` collects once and freezes what is left (the specs,
  validators, the fixture world): the collector never walks it again;
* after every full collection, :func:`install`'s callback freezes its survivors too.
  A full collection has just freed every unreachable cycle, so what it leaves is live;
  frozen, it is not walked again, and the next full collection walks only what was
  allocated since the last one (the collector starts one when that has grown past a
  quarter of what it walked last, so the pauses stay short however large the world).

The price: an object frozen while live that later becomes part of an unreachable cycle
is never collected. The request path makes few cycles that outlive a request; a
frozen one costs its bytes, not time.
"""

from __future__ import annotations

import gc
from typing import Any

__all__ = ["install", "settle"]


def settle() -> None:
    """Collect once and freeze the survivors: call after start-up, before serving."""
    gc.collect()
    gc.freeze()


def _freeze_after_full(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def install() -> None:
    """Freeze the survivors of every full collection from now on (idempotent)."""
    if _freeze_after_full not in gc.callbacks:
        gc.callbacks.append(_freeze_after_full)
