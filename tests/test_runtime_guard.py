"""Requests no browser sends get a 4xx from dashsignal.guard, never a 500, and run nothing: on
both patterns, with and without background jobs, whatever the backend; and the job slots that
cap how many background job processes a host runs."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from dashsignal import background
from dashsignal.background import JobSlots
from dashsignal.guard import MAX_DEPTH, MAX_HANDLES, request_problem

from runtime_helpers import (
    BACKENDS,
    CALLBACK,
    FILTER_PROPS,
    FILTERS,
    PATTERNS,
    SIGNAL_ID,
    Dashboard,
    Endpoint,
    RedisServer,
    body_for,
    build_dashboard,
    defaults,
    filter_props,
    running_redis,
)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module", params=[*PATTERNS, "background"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Dashboard:
    """The app in each pattern, and with its compute step as a background job (built once for
    the module: the guard keeps no state)."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    if request.param == "background":
        return build_dashboard(tmp_path, "filesystem", background=True)
    return build_dashboard(tmp_path, "simple", pattern=request.param)


@pytest.fixture
def dashboard(app: Dashboard) -> Dashboard:
    """The app with an empty cache and no computation run yet."""
    app.clear()
    app.runs.path.write_text("")
    return app


@pytest.fixture
def endpoint(dashboard: Dashboard) -> Endpoint:
    return dashboard.endpoint()


def renderer_body(callback: dict[str, Any], values: dict[tuple[str, str], Any]) -> dict[str, Any]:
    """The renderer's body for `callback`, with each input's value looked up in `values`."""
    inputs = [
        {**dep, "value": values.get((dep["id"], dep["property"]))} for dep in callback["inputs"]
    ]
    return body_for(callback, inputs)


def post(endpoint: Endpoint, data: bytes, **options: Any) -> Any:
    return endpoint.client.post(CALLBACK, data=data, content_type="application/json", **options)


def filter_readers(endpoint: Endpoint) -> list[dict[str, Any]]:
    """The callbacks the filters trigger."""
    readers = [
        callback
        for callback in endpoint.callbacks
        if FILTER_PROPS <= {(dep["id"], dep["property"]) for dep in callback["inputs"]}
    ]
    assert readers
    return readers


def test_what_the_renderer_sends_gets_through(dashboard: Dashboard, endpoint: Endpoint) -> None:
    values = filter_props(defaults())
    for callback in filter_readers(endpoint):
        body = renderer_body(callback, values)
        assert request_problem(body, MultiDict(), dashboard.app.callback_map) is None
    result = endpoint.change(defaults())
    assert {r.status for r in result.values()} == {200}
    assert dashboard.runs.runs() != []


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("brackets", ["[]", "{}"])
def test_json_nested_past_the_decoders_limit_gets_400(
    dashboard: Dashboard, endpoint: Endpoint, depth: int, brackets: str
) -> None:
    opening, closing = ('{"a":', "}") if brackets == "{}" else ("[", "]")
    inner = "0" if brackets == "{}" else ""
    response = post(endpoint, (opening * depth + inner + closing * depth).encode())
    assert response.status_code == 400
    assert dashboard.runs.runs() == []


def test_a_value_nested_deeper_than_the_renderer_nests_gets_400(
    dashboard: Dashboard, endpoint: Endpoint
) -> None:
    callback = endpoint.callback_for("mix")
    nested: Any = "deep"
    for _ in range(MAX_DEPTH):
        nested = [nested]
    body = renderer_body(callback, {**filter_props(defaults()), ("region", "value"): nested})
    assert endpoint.client.post(CALLBACK, json=body).status_code == 400
    assert dashboard.runs.runs() == []


def test_outputs_in_the_other_shape_get_400(dashboard: Dashboard, endpoint: Endpoint) -> None:
    # One output sent as a list, several as one object: Dash would run the callback, then fail.
    values = filter_props(defaults())
    for callback in endpoint.callbacks:
        body = renderer_body(callback, values)
        outputs = body["outputs"]
        body["outputs"] = outputs[0] if isinstance(outputs, list) else [outputs]
        response = endpoint.client.post(CALLBACK, json=body)
        assert response.status_code == 400, callback["output"]
    assert dashboard.runs.runs() == []


@pytest.mark.parametrize("handle", ["endId", "cacheKey", "job", "oldJob"])
def test_background_job_handles_that_are_not_tokens_get_400(
    dashboard: Dashboard, endpoint: Endpoint, handle: str
) -> None:
    body = renderer_body(endpoint.callback_for("mix"), filter_props(defaults()))
    for handles in ({handle: "a~\u00e9"}, {handle: "a b"}, {handle: ["t"] * (MAX_HANDLES + 1)}):
        response = endpoint.client.post(CALLBACK, json=body, query_string=handles)
        assert response.status_code == 400, handles
    assert dashboard.runs.runs() == []


@pytest.mark.parametrize(
    "path", ["nope/x.js", "dash/../../etc/passwd", "dash/dcc/nope.js", "plotly/x.js"]
)
def test_files_dash_does_not_serve_are_404(endpoint: Endpoint, path: str) -> None:
    assert endpoint.client.get(f"/_dash-component-suites/{path}").status_code == 404


def test_refused_filter_values_get_204_before_any_callback_runs(
    dashboard: Dashboard, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[Any] = []
    trusted = dashboard.signaling.trusted

    def recorded(filters: Any) -> Any:
        called.append(filters)
        return trusted(filters)

    monkeypatch.setattr(dashboard.signaling, "trusted", recorded)
    jobs: list[Any] = []
    if dashboard.background:
        monkeypatch.setattr(dashboard.manager, "call_job_fn", lambda *args: jobs.append(args))
    for filter_id in FILTERS:
        forged = {**defaults(), filter_id: ["not declared", 10**9]}
        if FILTERS[filter_id].kind == "dates":
            forged[filter_id] = ["not a date", None]
        for callback in filter_readers(endpoint):
            body = renderer_body(callback, filter_props(forged))
            response = endpoint.client.post(
                CALLBACK, json=body, query_string={"endId": endpoint.end_id or "x"}
            )
            # 204 at once: no background job is started to find out.
            assert response.status_code == 204, (filter_id, callback["output"])
    assert called == [], "a callback ran: it refused the values itself"
    assert jobs == [], "a background job was started"
    assert dashboard.runs.runs() == []


def _malformed(endpoint: Endpoint) -> dict[str, Any]:
    """Requests no renderer sends, by what is wrong with them."""
    callback = endpoint.callback_for("mix")
    good = renderer_body(callback, filter_props(defaults()))
    inputs = list(good["inputs"])
    return {
        "not-json": b"not json",
        "a-json-list": [good],
        "output-not-a-string": {**good, "output": ["a list"]},
        "unknown-output": {**good, "output": "no-such-component.children"},
        "outputs-of-another-callback": {**good, "outputs": {"id": "sales", "property": "figure"}},
        "inputs-missing": {k: v for k, v in good.items() if k != "inputs"},
        "inputs-not-a-list": {**good, "inputs": {"region": None}},
        "inputs-in-another-order": {**good, "inputs": inputs[::-1]},
        "an-input-missing": {**good, "inputs": inputs[1:]},
        "an-input-with-another-key": {**good, "inputs": [{**inputs[0], "x": 1}, *inputs[1:]]},
        "an-input-id-not-a-string": {
            **good,
            "inputs": [{**inputs[0], "id": {"a": 1}}, *inputs[1:]],
        },
        "state-not-the-callbacks": {**good, "state": [{"id": "x", "property": "y", "value": 1}]},
        "changed-props-not-inputs": {**good, "changedPropIds": ["sales.figure"]},
        "changed-props-not-a-list": {**good, "changedPropIds": "region.value"},
    }


def test_malformed_callback_requests_get_400(dashboard: Dashboard, endpoint: Endpoint) -> None:
    for what, body in _malformed(endpoint).items():
        if isinstance(body, bytes):
            response = post(endpoint, body)
        else:
            response = endpoint.client.post(CALLBACK, json=body)
        assert response.status_code == 400, what
        assert b"Traceback" not in response.data, what
    assert dashboard.runs.runs() == []


def test_oversized_callback_requests_get_413(dashboard: Dashboard, endpoint: Endpoint) -> None:
    body = json.dumps({"output": "x" * (2 * 1024 * 1024)}).encode()
    assert post(endpoint, body).status_code == 413
    assert dashboard.runs.runs() == []


def test_a_forged_poll_of_a_background_job_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # While the page polls a job the guard lets its request through (Dash starts nothing for
    # it): handles Dash did not sign, with any inputs, start no job and are no 500.
    dashboard = build_dashboard(tmp_path, "filesystem", background=True)
    jobs: list[Any] = []
    monkeypatch.setattr(dashboard.manager, "call_job_fn", lambda *args: jobs.append(args))
    endpoint = dashboard.endpoint()
    end_id = endpoint.end_id or ""
    for filters in (defaults(), {**defaults(), "region": "Atlantis"}):
        body = endpoint.body(SIGNAL_ID, filter_props(filters))
        for handles in (
            {"cacheKey": "forged"},
            {"cacheKey": "forged", "job": "1", "endId": end_id},
            {"cacheKey": "forged~signature", "endId": end_id},
        ):
            response = endpoint.client.post(CALLBACK, json=body, query_string=handles)
            assert response.status_code == 204, (filters, handles)
    assert jobs == []
    assert dashboard.runs.runs() == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_guard_is_the_same_on_every_backend(
    tmp_path: Path, redis_server: RedisServer, backend: str
) -> None:
    redis_server.flush()
    dashboard = build_dashboard(
        tmp_path, backend, redis_url=redis_server.url, max_request_bytes=4096
    )
    endpoint = dashboard.endpoint()
    compute = endpoint.callback_for(SIGNAL_ID)
    forged = renderer_body(compute, filter_props({**defaults(), "year": [1900, 2025]}))
    assert endpoint.client.post(CALLBACK, json=forged).status_code == 204
    for what, body in _malformed(endpoint).items():
        sent = (
            post(endpoint, body)
            if isinstance(body, bytes)
            else endpoint.client.post(CALLBACK, json=body)
        )
        assert sent.status_code == 400, what
    assert post(endpoint, b"[" * 5000).status_code == 413, "max_request_bytes from the settings"
    assert dashboard.runs.runs() == []
    assert endpoint.compute(defaults()).status == 200


# --- job slots --------------------------------------------------------------------------------


def test_job_slots_are_taken_up_to_their_count(tmp_path: Path) -> None:
    slots = JobSlots(tmp_path, 2)
    first, second = slots.try_take(), slots.try_take()
    assert first is not None and second is not None
    assert slots.try_take() is None
    os.close(first)
    again = slots.try_take()
    assert again is not None
    for descriptor in (again, second):
        os.close(descriptor)


def test_a_job_process_holds_its_slot_until_it_dies(tmp_path: Path) -> None:
    slots = JobSlots(tmp_path, 1)
    descriptor = slots.try_take()
    assert descriptor is not None
    child = os.fork()
    if child == 0:  # the job process: it inherited the locked descriptor
        try:
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(descriptor)
    try:
        assert slots.try_take() is None, "the slot was freed while its job process lives"
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    freed = slots.try_take()
    assert freed is not None, "the slot stayed taken after its job process was killed"
    os.close(freed)


def test_a_slot_whose_file_was_deleted_is_taken_afresh(tmp_path: Path) -> None:
    # CACHE_DIR emptied while a job runs: the next job creates the slot again.
    slots = JobSlots(tmp_path / "jobs", 1)
    held = slots.try_take()
    assert held is not None
    (tmp_path / "jobs" / "slot-0").unlink()
    fresh = slots.try_take()
    assert fresh is not None
    for descriptor in (held, fresh):
        os.close(descriptor)


def test_a_slot_deleted_between_open_and_lock_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lock of a file that no longer has a name guards nothing: another worker would create
    # the slot again and start a job beside ours.
    slots = JobSlots(tmp_path / "jobs", 1)
    flock = background.fcntl.flock
    raced: list[int] = []

    def deleted_meanwhile(descriptor: int, operation: int) -> None:
        if not raced:
            raced.append(descriptor)
            (tmp_path / "jobs" / "slot-0").unlink()  # CACHE_DIR emptied by someone
        flock(descriptor, operation)

    monkeypatch.setattr(background.fcntl, "flock", deleted_meanwhile)
    assert slots.try_take() is None
    taken = slots.try_take()
    assert taken is not None
    assert os.fstat(taken).st_ino == (tmp_path / "jobs" / "slot-0").stat().st_ino
    os.close(taken)
