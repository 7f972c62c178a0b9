"""Each API's facts in one place: ``craftkit.py``, ``firma.py``; the seam in ``base.py``."""

from __future__ import annotations

from collections.abc import Mapping

from conformance.apis.base import DEFAULT_BODY, Api, BadRequest, Variant, act
from conformance.apis.craftkit import Craftkit
from conformance.apis.firma import Firma

__all__ = ["APIS", "DEFAULT_BODY", "Api", "BadRequest", "Craftkit", "Firma", "Variant", "act"]

APIS: Mapping[str, Api] = {"craftkit": Craftkit(), "firma": Firma()}
