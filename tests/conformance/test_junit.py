"""The JUnit file is valid XML whatever a target sent (issue #10): CI parsers refuse a
document with a character XML 1.0 forbids (a raw U+0019 in a quoted body, today)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.failures import Violation
from conformance.report import write_junit
from conformance.runner import Report
from conformance.settings import Settings
from tests.conftest import ROOT

NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def test_the_junit_file_is_valid_xml_whatever_the_target_sent(tmp_path: Path) -> None:
    nasty = "body: \x19\x00\x1b[31m \ud800 \ufffe \U0001f600 tab\tok & <tag>"
    settings = Settings(
        api="craftkit", base_url="http://127.0.0.1:8000", fixtures=ROOT / "fixtures/craftkit.yaml"
    )
    report = Report(settings, checks={"state": ["error_envelope"]})
    report.violations.append(Violation("error_envelope", "t", f"Received: {nasty}", "op", nasty))
    path = tmp_path / "junit.xml"
    write_junit(report, path)
    text = path.read_bytes().decode("utf-8")  # strict: a lone surrogate would not encode
    assert not NOT_XML.search(text), NOT_XML.findall(text)
    failure = ET.parse(path).getroot().find(".//failure")
    assert failure is not None and failure.text is not None
    assert "\\u0019" in failure.text and "\\ud800" in failure.text, "escaped, not dropped"
    assert "\U0001f600" in failure.text and "& <tag>" in failure.text, "legal text kept as is"
