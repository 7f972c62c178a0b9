"""Short renderings of values for violation details."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["short", "xml_safe"]

# XML 1.0's Char production; everything else (C0 controls but tab, CR and LF, lone
# surrogates, U+FFFE and U+FFFF) makes a document that parsers refuse.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def short(value: Any, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters.

    >>> short("x" * 300, limit=10)
    "'xxxxxx..."
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def xml_safe(text: str) -> str:
    """``text`` with each character XML 1.0 forbids written as ``\\uXXXX``, so that a
    report quoting a target's bytes (a raw U+0019, U+0000, a lone surrogate) stays a
    document every CI parser reads.

    >>> xml_safe("a\\x19b\\x00c\\ud800 ok\\n")
    'a\\\\u0019b\\\\u0000c\\\\ud800 ok\\n'
    """
    return _NOT_XML.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
