"""An entry kept outside the process (the Redis store keeps :meth:`Entry.stored` as JSON)
renders as the entry itself did, credentials redacted before it is stored."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server.state.journal import BODY_LIMIT, HEADER_LIMIT, Because, Entry, Exchange

NAMES = st.sampled_from(
    [b"authorization", b"Authorization", b"cookie", b"x-api-key", b"content-type", b"x-\xff"]
)
HEADERS = st.lists(st.tuples(NAMES, st.binary(max_size=40)), max_size=6)
BODIES = st.one_of(
    st.binary(max_size=60),
    st.sampled_from([b'{"a": 1}', b'{"a": "\\ud800"}', b'{"a": NaN}', b"[1, 2]", b" "]),
    st.text(max_size=30).map(lambda text: text.encode("utf-8", "surrogatepass")),
)


@st.composite
def exchanges(draw: st.DrawFn) -> Exchange:
    body = draw(BODIES)
    size = len(body) + draw(st.sampled_from([0, 0, 1, BODY_LIMIT]))  # > len: cut
    headers = draw(HEADERS)
    if draw(st.booleans()):
        headers.append((b"x-long", b"v" * HEADER_LIMIT))  # cut: headersTruncated
    return Exchange.of(headers, body, size)


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    return Entry(
        at=draw(st.floats(0, 4e9)),
        session=draw(st.sampled_from(["default", "suite-a"])),
        api=draw(st.sampled_from([None, "craftkit", "firma"])),
        operation=draw(st.sampled_from([None, "cancelSignature"])),
        simulated=draw(st.sampled_from([None, "prefer", "fault"])),
        method="POST",
        path=draw(st.text(max_size=20)),
        query=draw(st.text(max_size=10)),
        status=draw(st.sampled_from([None, 200, 409])),
        request=draw(exchanges()),
        response=draw(exchanges()),
        duration_ms=draw(st.floats(0, 1e4)),
        session_created=draw(st.booleans()),
        reason=draw(
            st.sampled_from(
                [None, Because("state", "completed", {"status": "x"}), Because("k", "r")]
            )
        ),
    )


@settings(max_examples=300, deadline=None)
@given(entries())
def test_an_entry_stored_as_json_renders_as_the_entry_did(entry: Entry) -> None:
    text = json.dumps(entry.stored())
    assert text.isascii(), "JSON a store takes as it is"
    assert Entry.restored(json.loads(text)).to_json(7) == entry.to_json(7)


def test_credentials_are_redacted_before_the_entry_is_stored() -> None:
    headers = [(b"authorization", b"Bearer ck_secret_1"), (b"cookie", b"s=ck_secret_2")]
    entry = Entry(
        at=1.0,
        session="s",
        api=None,
        operation=None,
        simulated=None,
        method="GET",
        path="/",
        query="",
        status=200,
        request=Exchange.of(headers, b"", 0),
        response=Exchange.of([], b"", 0),
        duration_ms=1.0,
    )
    assert "ck_secret" not in json.dumps(entry.stored())
