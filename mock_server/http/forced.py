"""Forced answers: a fault's status or a ``Prefer`` header answers a documented response.

Always one the vendor spec documents for the operation (``documented.py``), never
invented, so a forced answer validates against the spec; it changes no state and
counts against no quota.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from mock_server._http import header, header_list, json_response
from mock_server.documented import DocumentedOperation, PreferRefused, parse_prefer
from mock_server.http.context import Context
from mock_server.served import ServedApi
from mock_server.state.journal import Because

__all__ = ["ForcedAnswers", "query_asks"]


def query_asks(query: bytes) -> bool:
    """Whether a query may ask for a forced answer: ``__`` in it (Prism's ``?__code=``), or
    an encoded ``_`` (``?%5F%5Fcode=``; any other ``%`` asks nothing)."""
    return b"__" in query or b"%5F" in query or b"%5f" in query


class ForcedAnswers:
    def __init__(self, documented: Mapping[str, Mapping[str, DocumentedOperation]]) -> None:
        self.documented = documented

    async def documented_answer(
        self,
        ctx: Context,
        api: ServedApi,
        operation: str,
        request: Request,
        code: int | None,
        example: str | None,
        dynamic: bool = False,
    ) -> Response:
        """The documented response ``code`` (and ``example``), with the API's own headers;
        without an example, its body as the API makes it coherent with the request."""
        assert ctx.session is not None
        documented = self.documented[api.name].get(operation)
        if documented is None:  # one of the mock's own routes: the spec documents nothing
            raise PreferRefused(f"{operation} is the mock's own route; it documents no answers")
        response, body = documented.choose(code, example, dynamic)
        store = ctx.session.store(api.name)
        headers = {name: str(value) for name, value in response.headers.items()}
        headers.update(await api.answer_headers(request, store, response.status))
        if example is None and not dynamic:  # headers first: the body may repeat one
            body = await api.forced_body(operation, request, store, response.status, body, headers)
        return json_response(response.status, body, headers)

    @staticmethod
    def asked(request: Request) -> bool:
        """Whether the request may ask for a forced answer (:meth:`preferred` says which,
        and is called only then): a ``Prefer`` header (any field line, even an empty one: a
        later line may ask), or ``__`` in the query (Prism's ``?__code=``) or an encoded
        ``_`` (``?%5F%5Fcode=``; any other ``%`` asks nothing). Checked before
        :meth:`preferred`, not in it: most requests ask for none, and a check costs less
        than the coroutine."""
        return header(request, b"prefer") is not None or query_asks(request.scope["query_string"])

    async def preferred(
        self, ctx: Context, api: ServedApi, operation: str, request: Request
    ) -> Response | None:
        """The answer a ``Prefer`` header (``code``, ``example``, ``dynamic``) or Prism's
        ``?__code=``, ``?__example=``, ``?__dynamic=`` asks for, if any; anything else they
        ask for is a 400 naming what the mock honours. Every ``Prefer`` field line counts,
        as one comma-joined list (RFC 9110 section 5.3): a preference on a second line is
        refused or honoured as on the first, never ignored. Only for a request that
        :meth:`asked`."""
        prefer = header_list(request, b"prefer")
        query: bytes = request.scope["query_string"]
        assert ctx.session is not None
        try:
            preference = parse_prefer(prefer, query.decode("latin-1"))
            if not preference:
                return None
            code, example, dynamic = preference.code, preference.example, preference.dynamic
            response = await self.documented_answer(
                ctx, api, operation, request, code, example, dynamic
            )
        except PreferRefused as refused:
            ctx.reason = Because("prefer", f"Prefer: {refused}")
            store = ctx.session.store(api.name)
            return await api.refusal(request, store, 400, {}, f"Prefer: {refused}")
        ctx.simulated = "prefer"
        asked = prefer or query.decode("latin-1")
        ctx.reason = Because(
            "prefer",
            f"{asked!r} forced a documented answer; state unchanged",
            {"prefer": asked},
        )
        return response
