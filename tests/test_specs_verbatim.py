"""specs/ holds the vendors' OpenAPI documents exactly as published in the seed pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
PAIRS = [
    ("craftkit-cancel-signature-request.md", "craftkit.openapi.yaml"),
    ("firma-revoke-signing-request-jwt.md", "firma.openapi.yaml"),
]


@pytest.mark.parametrize(("seed", "spec"), PAIRS, ids=["craftkit", "firma"])
def test_spec_is_the_seed_pages_document(seed: str, spec: str) -> None:
    if not SEEDS.is_dir():
        pytest.skip(f"seed pages not reachable at {SEEDS}")
    page = (SEEDS / seed).read_text(encoding="utf-8")
    block = re.search(r"````yaml[^\n]*\n(.*?)````", page, re.S)
    assert block is not None, f"no YAML block in {seed}"
    ours = (ROOT / "specs" / spec).read_text(encoding="utf-8")
    assert yaml.safe_load(ours) == yaml.safe_load(block.group(1))
    assert ours == block.group(1), "parsed equal, but the text was edited"
