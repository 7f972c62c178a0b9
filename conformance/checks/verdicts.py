"""Why an open resource was found closed (kind ``verdict``: ``(model, resource) -> bool``).

The APIs have no read operation: state is observed through later answers. A
resource that should still be open but answers "already done" was changed by
something earlier: a refused request against it, or an act on another resource.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.checks import check
from conformance.world import Resource

if TYPE_CHECKING:
    from conformance.phases.state import Model

__all__: list[str] = []  # reached through the registry, by code


@check("verdict")
def rejected_changes_nothing(model: Model, resource: Resource) -> bool:
    """A refused request changed state: the resource it named is no longer open."""
    return resource.id in model.touched


@check("verdict")
def no_cascade(model: Model, resource: Resource) -> bool:
    """Acting on one resource changed another: it is no longer open."""
    return model.successes > 0
