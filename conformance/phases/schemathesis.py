"""The contract phase: Schemathesis, every built-in check, keyed by the fixture.

Runs Schemathesis's engine in-process (the same phases as ``st run``:
examples, coverage, fuzzing) and turns its failures into ``Violation``s whose
code is the Schemathesis check's name. Two adjustments keep a correct target
passing and the fixture intact (issue #3):

* The only fixture ids Schemathesis is given are those it cannot change:
  terminal requests / revoked JWTs (and ``upstream_locked`` ones). Open
  resources are for the state checks, which spend each at most once.
* Answers the contract documents for valid input (Firma's 400 "already
  revoked", Craftkit's 409, a 429) are expected by ``positive_data_acceptance``;
  429s are waited out (``rate-limit = "auto"``: Schemathesis honours Retry-After).

Bounded like the state phase (issue #10): every ``requests`` session Schemathesis
makes during the run (its probes' too) carries a :class:`_Guard` response hook,
which reads the body against ``--timeout`` and ``MAX_BODY_BYTES`` (decoding gzip as
it streams) and refuses to let Schemathesis sleep on a ``Retry-After`` above
``MAX_WAIT`` or past ``--max-time``; a ``before_call`` hook stops sending once the
budget is spent or the target stopped answering. What the guard stops becomes a
violation. Schemathesis's cache of earlier runs is off: it would replay requests
outside the guard, and make a run depend on the ones before it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests as requests_lib
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from conformance.apis import Api
from conformance.checks import title_of
from conformance.client import (
    MAX_BODY_BYTES,
    MAX_WAIT,
    UNRESPONSIVE_AFTER,
    AnswerTooLarge,
    AnswerTooSlow,
    Budget,
    mask,
    read_bounded,
)
from conformance.errors import UsageError
from conformance.failures import Violation, ids_in, merge
from conformance.world import State, World

__all__ = ["ContractRun", "run_contract", "schemathesis_checks"]

log = logging.getLogger("conformance")

# Valid requests may meet these documented answers (docs/behaviour.md).
_POSITIVE_STATUSES = {
    "craftkit": ["2xx", "401", "403", "404", "409", "429"],
    "firma": ["2xx", "400", "401", "403", "404", "429"],
}
_ID_PARAMETER = {"craftkit": "path.id", "firma": "body.jwt_id"}
_HEADERS = re.compile(r"-H '[^']*'|-H \"[^\"]*\"")  # a reproduction's headers name no ids


@dataclass
class ContractRun:
    violations: list[Violation]
    requests: int
    checks: list[str]  # the Schemathesis checks that ran
    notes: list[str] = field(default_factory=list)  # what was not checked, and why


def schemathesis_checks() -> list[str]:
    """Every built-in Schemathesis check (they register when a spec module loads)."""
    import schemathesis.specs.openapi.checks  # noqa: F401  (registers the OpenAPI checks)
    from schemathesis.checks import CHECKS

    return sorted(check.__name__ for check in CHECKS.get_all())


def _schemathesis_config(
    world: World, api: Api, *, base_url: str, seed: int, max_examples: int, timeout: float
) -> dict[str, Any]:
    """The Schemathesis configuration (its TOML keys) for one run against ``base_url``."""
    tenant = world.tenants[0]
    # The state checks start with the first key; give Schemathesis the last one,
    # so that on a rate-limited target the two phases draw on different quotas.
    key = tenant.keys[-1]
    # Only ids whose status is terminal: an upstream_locked record is in flight on any
    # target but the mock (only the mock honours the mock block), so Schemathesis
    # could cancel it there and the state phase would find it spent.
    ids = [r.id for r in world.resources if r.tenant == tenant.id and r.state is State.CLOSED]
    config: dict[str, Any] = {
        "seed": seed,
        "headers": {"Authorization": api.key_forms(key)[-1][1]},
        "request-timeout": timeout,
        "rate-limit": "auto",
        "generation": {"max-examples": max_examples, "database": "none"},
        # Reproductions need the key; keys read from the environment are masked
        # by the harness itself (client.mask), as in the state phase.
        "output": {"sanitization": {"enabled": False}},
        "cache": {"enabled": False},  # no replay of earlier runs (issue #10)
        "checks": {"positive_data_acceptance": {"expected-statuses": _POSITIVE_STATUSES[api.name]}},
    }
    if ids:
        config["dictionaries"] = {"fixture_ids": {"values": ids}}
        config["parameters"] = {
            _ID_PARAMETER[api.name]: {"dictionary": "fixture_ids", "probability": 0.5}
        }
    return config


# ---------------------------------------------------------------- bounded answers (issue #10)

_CHUNK = 65536


class _Stopped(requests_lib.exceptions.RequestException):
    """The guard stopped an answer; ``code`` is the check it is reported under."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class _Guard:
    """Bounds each of Schemathesis's requests as the state phase's client bounds its own."""

    def __init__(self, *, timeout: float, budget: Budget, max_body: int = MAX_BODY_BYTES) -> None:
        self.timeout, self.budget, self.max_body = timeout, budget, max_body
        self.failures_in_row = 0  # answers stopped in a row: the target is unresponsive

    @property
    def unresponsive(self) -> bool:
        return self.failures_in_row >= UNRESPONSIVE_AFTER

    def before_call(self, context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        """A Schemathesis hook: refuse to send past the budget, guard the answer."""
        if self.budget.left() <= 0:
            self.budget.spent = True
            raise _Stopped("max_time_exceeded", f"--max-time {self.budget.seconds:g} s reached")
        if self.unresponsive:
            raise _Stopped("unresponsive", "the target stopped answering")

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Guard every session Schemathesis makes while the block runs.

        Schemathesis has no option for a response hook, and its probes send outside
        ``before_call``; its one session factory is wrapped instead, for this run only.
        """
        import schemathesis.engine.context as engine_context

        make_session = engine_context.make_session

        def guarded(*args: Any, **kwargs: Any) -> requests_lib.Session:
            session = make_session(*args, **kwargs)
            session.hooks["response"].append(self.on_response)
            return session

        def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
            self.before_call(context, case, kwargs)

        def after_network_error(context: Any, case: Any, request: Any) -> None:
            self.failures_in_row += 1  # no answer at all: a timeout, a reset

        engine_context.make_session = guarded
        GLOBAL_HOOK_DISPATCHER.register_hook_with_name(before_call, "before_call")
        GLOBAL_HOOK_DISPATCHER.register_hook_with_name(after_network_error, "after_network_error")
        try:
            yield
        finally:
            GLOBAL_HOOK_DISPATCHER.unregister(before_call)
            GLOBAL_HOOK_DISPATCHER.unregister(after_network_error)
            engine_context.make_session = make_session

    def on_response(self, response: requests_lib.Response, *args: Any, **kwargs: Any) -> Any:
        """A ``requests`` response hook: runs before Schemathesis reads the (streamed) body."""
        deadline = time.monotonic() + max(self.timeout - response.elapsed.total_seconds(), 0.0)
        try:
            content = read_bounded(
                _raw_chunks(response, deadline, self.timeout),
                response.headers.get("Content-Encoding", ""),
                deadline=deadline,
                seconds=self.timeout,
                limit=self.max_body,
                declared_length=response.headers.get("Content-Length"),
            )
        except AnswerTooSlow as exc:
            response.close()
            self.failures_in_row += 1
            raise _Stopped("transport", str(exc)) from None
        except AnswerTooLarge as exc:
            response.close()
            self.failures_in_row += 1
            raise _Stopped("response_too_large", str(exc)) from None
        self.failures_in_row = 0
        response._content = content  # what requests would have read, within the bounds
        response._content_consumed = True
        if response.status_code == 429:
            self._check_retry_after(response.headers.get("Retry-After", ""))
        return response

    def _check_retry_after(self, value: str) -> None:
        """Schemathesis sleeps up to 60 s per Retry-After: refuse more, or past the budget."""
        try:
            wait = float(value)
        except ValueError:
            return
        if wait > MAX_WAIT:
            raise _Stopped(
                "retry_after_excessive",
                f"429 with Retry-After: {value}; the harness waits at most {MAX_WAIT:.0f} s",
            )
        if wait > self.budget.left():
            self.budget.spent = True
            raise _Stopped("max_time_exceeded", f"--max-time would pass waiting {wait:g} s")


def _raw_chunks(
    response: requests_lib.Response, deadline: float, seconds: float
) -> Iterator[bytes]:
    """The body's bytes as they arrive, each read waiting no longer than the deadline allows."""
    import urllib3

    raw = response.raw
    while True:
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            chunk = raw.read1(_CHUNK, decode_content=False)
        except urllib3.exceptions.ReadTimeoutError:
            raise AnswerTooSlow(seconds) from None
        except urllib3.exceptions.HTTPError as exc:
            raise requests_lib.exceptions.ChunkedEncodingError(exc) from exc
        if not chunk:
            return
        yield chunk


_EXPECTED = {
    "transport": "the whole answer within --timeout",
    "response_too_large": f"an answer of at most {MAX_BODY_BYTES} bytes",
    "retry_after_excessive": f"Retry-After of at most {MAX_WAIT:.0f} s",
}


def _stopped(error: BaseException) -> _Stopped | None:
    """The guard's exception behind a Schemathesis error, if it was one."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _Stopped):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def run_contract(
    world: World,
    api: Api,
    *,
    spec: Path,
    base_url: str,
    seed: int,
    max_examples: int,
    timeout: float,
    on_progress: Callable[[str], None] = lambda _: None,
    budget: Budget | None = None,
) -> ContractRun:
    """Run Schemathesis against the target; every failure becomes a ``Violation``."""
    budget = budget or Budget(None)
    guard = _Guard(timeout=timeout, budget=budget)
    with guard.installed():
        return _run_contract(
            world,
            api,
            spec=spec,
            base_url=base_url,
            seed=seed,
            max_examples=max_examples,
            timeout=timeout,
            on_progress=on_progress,
            guard=guard,
        )


def _run_contract(
    world: World,
    api: Api,
    *,
    spec: Path,
    base_url: str,
    seed: int,
    max_examples: int,
    timeout: float,
    on_progress: Callable[[str], None],
    guard: _Guard,
) -> ContractRun:
    config = SchemathesisConfig.from_dict(
        _schemathesis_config(
            world, api, base_url=base_url, seed=seed, max_examples=max_examples, timeout=timeout
        )
    )
    config.projects.override.update(base_url=base_url)
    try:
        schema = schemathesis.openapi.from_path(spec, config=config)
    except Exception as exc:  # Schemathesis raises its own loader errors; name the file and stop
        raise UsageError(
            f"{spec}: Schemathesis cannot load the spec ({exc}); pass an OpenAPI 3.0/3.1 "
            "document with --spec, or leave it out for the bundled one"
        ) from exc
    found: list[Violation] = []
    requests = 0
    stream = from_schema(schema).execute()
    notes: list[str] = []
    for event in stream:
        if stream.stop_event.is_set():
            pass
        elif guard.budget.left() <= 0:
            guard.budget.spent = True  # --max-time: no new scenario; the runner reports it
            stream.stop()
        elif guard.unresponsive:
            notes.append(
                f"the target stopped answering ({UNRESPONSIVE_AFTER} answers in a row stopped "
                "by --timeout or the size cap); the remaining contract checks were skipped"
            )
            stream.stop()
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            requests += len(event.recorder.interactions)
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.failure_info is not None:
                        failure = node.failure_info.failure
                        detail = f"{failure.title}\n{failure.message}".strip()
                        curl = mask(node.failure_info.code_sample, world.key_names)
                        found.append(
                            Violation(
                                node.name,
                                failure.title,
                                detail,
                                failure.operation or api.operation,
                                curl,
                                "contract",
                                ids=ids_in(_HEADERS.sub("", curl)),  # the ids it names
                            )
                        )
        elif isinstance(event, events.SuiteFinished):
            on_progress(f"contract: {event.phase} phase done")
        elif isinstance(event, events.NonFatalError):
            stopped = _stopped(event.value)
            if stopped is not None and stopped.code in ("max_time_exceeded", "unresponsive"):
                continue  # said once: by the runner (budget), by a note (unresponsive)
            found.append(
                Violation(
                    "transport",
                    event.info.title,
                    f"{event.info.title}\n{event.info.message}".strip(),
                    event.label,
                    event.info.code_sample or "",
                    "contract",
                )
                if stopped is None
                else Violation(
                    stopped.code,
                    title_of(stopped.code),
                    f"Expected: {_EXPECTED[stopped.code]}\nReceived: {stopped.message}",
                    event.label,
                    mask(event.info.code_sample or "", world.key_names),
                    "contract",
                )
            )
        elif isinstance(event, events.FatalError):
            raise UsageError(
                f"Schemathesis stopped: {event.exception}; rerun with --log-level DEBUG, "
                "or --only state to skip the contract checks"
            ) from event.exception
        elif isinstance(event, events.EngineFinished) and event.stop_reason.skip_explanation:
            log.warning("contract checks stopped early: %s", event.stop_reason.skip_explanation)
    return ContractRun(merge(found), requests, schemathesis_checks(), notes)
