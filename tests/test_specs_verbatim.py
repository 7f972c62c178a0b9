"""specs/ holds the vendors' OpenAPI documents exactly as published on their pages.

The vendor pages are not part of the repository, so each document's SHA-256 was
taken from the OpenAPI block of its page (the text between the page's
````` ````yaml ````` fence and the closing fence) when the spec was added. A
fresh clone checks the files against those digests: an edit, a re-indent or a
tool's rewrite of a spec fails here.
"""

from __future__ import annotations

import hashlib

import pytest
import yaml

from tests.conftest import ROOT

VENDOR_DIGESTS = {
    # Craftkit docs, "Cancel a signature request", its OpenAPI block (3.1.0, 8,561 bytes)
    "craftkit.openapi.yaml": "f12be80b6ded233a70d7031ff16b258ffadc17e90b6e6f3c416b81295844df01",
    # Firma docs, "Revoke a signing request JWT token", its OpenAPI block (3.0.3, 9,116 bytes)
    "firma.openapi.yaml": "63b8dff75d958af7dd18122fc9074fcf35efb008271cae60812b70604311c121",
}


@pytest.mark.parametrize("spec", sorted(VENDOR_DIGESTS))
def test_spec_is_the_vendor_document_byte_for_byte(spec: str) -> None:
    data = (ROOT / "specs" / spec).read_bytes()
    assert hashlib.sha256(data).hexdigest() == VENDOR_DIGESTS[spec], (
        f"specs/{spec} is not the vendor's document: the contract is kept verbatim "
        "(adapt it in code at load time, never in the file)"
    )


@pytest.mark.parametrize(("spec", "version"), [("craftkit", "3.1.0"), ("firma", "3.0.3")])
def test_each_spec_is_the_openapi_version_it_is_served_as(spec: str, version: str) -> None:
    document = yaml.safe_load((ROOT / "specs" / f"{spec}.openapi.yaml").read_text())
    assert document["openapi"] == version
