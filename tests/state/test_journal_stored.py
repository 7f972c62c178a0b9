"""An entry kept outside the process (the Redis store keeps :meth:`Entry.stored` as JSON)
renders as the entry itself did, credentials redacted before it is stored."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server.state.journal import (
    BODY_LIMIT,
    HEADER_LIMIT,
    Because,
    Body,
    Entry,
    Exchange,
    exchange,
    exchanges,
)

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
def sides(draw: st.DrawFn) -> Exchange:
    body = draw(BODIES)
    size = len(body) + draw(st.sampled_from([0, 0, 1, BODY_LIMIT]))  # > len: cut
    headers = draw(HEADERS)
    if draw(st.booleans()):
        headers.append((b"x-long", b"v" * HEADER_LIMIT))  # cut: headersTruncated
    return exchange(headers, body, size)


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
        request=draw(sides()),
        response=draw(sides()),
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
        request=exchange(headers, b"", 0),
        response=exchange([], b"", 0),
        duration_ms=1.0,
    )
    assert "ck_secret" not in json.dumps(entry.stored())


@settings(max_examples=300, deadline=None)
@given(
    request_headers=HEADERS,
    response_headers=HEADERS,
    long=st.sampled_from([None, "request", "response", "both"]),
    sent_chunks=st.lists(BODIES, max_size=3),
    answered_chunks=st.lists(BODIES, max_size=3),
    as_tuples=st.booleans(),
)
def test_both_sides_made_at_once_are_each_side_made_alone(
    request_headers: list[tuple[bytes, bytes]],
    response_headers: list[tuple[bytes, bytes]],
    long: str | None,
    sent_chunks: list[bytes],
    answered_chunks: list[bytes],
    as_tuples: bool,
) -> None:
    """The journal layer's :func:`exchanges` keeps each side as :func:`exchange` does,
    its body joined from the chunks read: fields cut past the limit, bytes held."""
    if long in ("request", "both"):
        request_headers.append((b"x-long", b"v" * HEADER_LIMIT))
    if long in ("response", "both"):
        response_headers.append((b"x-long", b"v" * HEADER_LIMIT))
    sent, answered = Body(), Body()
    for chunk in sent_chunks:
        sent.add(chunk)
    for chunk in answered_chunks:
        answered.add(chunk)
    given_request = tuple(request_headers) if as_tuples else request_headers
    made = exchanges(given_request, sent, response_headers, answered)
    assert made == (
        exchange(request_headers, b"".join(sent_chunks), sent.size),
        exchange(response_headers, b"".join(answered_chunks), answered.size),
    )
    assert made[0][3] == (long in ("request", "both"))
