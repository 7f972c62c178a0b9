"""The garbage collector's policy for a long-running mock: the world built at start-up is
never walked.

CPython's full (generation 2) collection walks every tracked object. :func:`settle`, after
start-up, collects once and freezes what is left (the specs, validators, the fixture
world): the collector never walks it again, and forked workers keep sharing its pages.

Records created while serving are not frozen: a world grown to ~47,000 created requests
makes full collections of 50-90 ms (docs/performance.md). Freezing the survivors of every
full collection, tried in issue #12, bounded those pauses but leaked: what is alive at a
freeze (requests in flight, with the reference cycles an exception and its traceback
make) is never freed once it dies, and after a freeze full collections come often, so a
keep-alive load leaked ~6 KB a request. A fix needs the request path free of cycles first.
"""

from __future__ import annotations

import gc

__all__ = ["settle"]


def settle() -> None:
    """Collect once and freeze the survivors: call after start-up, before serving."""
    gc.collect()
    gc.freeze()
