"""Calls an app's callbacks the way the browser does: POST /_dash-update-component.

The callback graph is read from the app's own /_dash-dependencies endpoint, so these helpers
exercise the real routing, argument grouping and serialisation of Dash; `change` plays the
renderer's part after a filter change: every callback the change reaches runs once, after the
callbacks that write its inputs. What the page is (its filters, the store its query is signalled
in) comes from the app's `dashsignal.Signaling`.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dashsignal.testing.loading import signaling_of_server, split_output

if TYPE_CHECKING:
    from flask.testing import FlaskClient

    from dashsignal.filters import Filters
    from dashsignal.signaling import Signaling

__all__ = ["CallbackResult", "DashEndpoint", "Pending", "Prop", "filter_props"]

# A component property: (component id, property name).
Prop = tuple[str, str]
# Longest wait for a background job's answer.
BACKGROUND_TIMEOUT_SECONDS = 120
_CONFIG = re.compile(r'<script id="_dash-config"[^>]*>(.*?)</script>', re.DOTALL)


@dataclass(frozen=True)
class CallbackResult:
    """The answer of one callback request: its HTTP status and what it wrote, by component."""

    status: int
    outputs: dict[str, dict[str, Any]]

    def value(self, component_id: str, prop: str) -> Any:
        """The value the callback wrote into `component_id`'s property `prop`."""
        return self.outputs[component_id][prop]


@dataclass(frozen=True)
class Pending:
    """A callback request sent: its answer at once, or the handles of its background job."""

    body: dict[str, Any]
    handles: dict[str, str] | None  # a background job's, to poll with
    result: CallbackResult | None  # the answer, when it came at once


class DashEndpoint:
    """The callbacks of one app, callable over HTTP through a Flask test client."""

    def __init__(self, client: FlaskClient, signaling: Signaling | None = None) -> None:
        """`signaling` defaults to the one the client's app was initialised with."""
        self.client = client
        self.signaling = signaling or signaling_of_server(client.application)
        response = client.get("/_dash-dependencies")
        assert response.status_code == 200, f"/_dash-dependencies answered {response.status}"
        self.callbacks: list[dict[str, Any]] = in_dependency_order(response.get_json())
        # What the page holds now: every property a callback reads, as last set.
        self.values: dict[Prop, Any] = {}
        # The renderer sends every callback request with the signed token of its page load;
        # background jobs are bound to it.
        page = client.get("/").get_data(as_text=True)
        config = _CONFIG.search(page)
        assert config, "no _dash-config in the page"
        end_id = json.loads(config.group(1)).get("end_id")
        self.end_id: str | None = end_id if isinstance(end_id, str) else None

    def another_session(self) -> DashEndpoint:
        """Another browser session of the same user: a client with cookies of its own that
        sends the same credentials."""
        client = self.client.application.test_client()
        client.environ_base.update(self.client.environ_base)
        return DashEndpoint(client, self.signaling)

    def another_tab(self) -> DashEndpoint:
        """Another tab of this browser session: the same credentials and the same session
        cookie (the same session's results, with a session scope)."""
        client = self.client.application.test_client()
        client.environ_base.update(self.client.environ_base)
        name = self.client.application.config["SESSION_COOKIE_NAME"]
        cookie = self.client.get_cookie(name)
        if cookie is not None:
            client.set_cookie(name, cookie.value)
        return DashEndpoint(client, self.signaling)

    @contextlib.contextmanager
    def as_a_request(self) -> Iterator[None]:
        """A request of this endpoint's, being answered: its credentials and its session, past
        the app's gate. The keys derived in it (`signaling.data.key(...)`) are the ones its
        callbacks read, a user's or a session's included."""
        from flask import session

        app = self.client.application
        stored: dict[str, Any] = {}
        if app.secret_key:  # only an app with users or scopes keeps a session
            with self.client.session_transaction() as saved:
                stored = dict(saved)
        with app.test_request_context("/", environ_base=dict(self.client.environ_base)):
            if stored:
                session.update(stored)
            refused = app.preprocess_request()
            assert refused is None, f"the app refused this endpoint's request: {refused!r}"
            yield

    @property
    def signal_id(self) -> str:
        """The id of the dcc.Store the query's result is signalled in (the compute callback's)."""
        from dashsignal.computations import QUERY

        signal_id = self.signaling.signals.get(QUERY)
        assert signal_id is not None, "this app signals no query: it uses the memoize pattern"
        return signal_id

    def filter_props(self, filters: Mapping[str, Any]) -> dict[Prop, Any]:
        """The component properties that hold `filters`, as the page sends them."""
        return filter_props(self.signaling.filters, filters)

    def callback_for(self, component_id: str) -> dict[str, Any]:
        """The one callback that writes `component_id`, as /_dash-dependencies describes it."""
        matches = [cb for cb in self.callbacks if component_id in _output_ids(cb["output"])]
        assert len(matches) == 1, f"expected one callback writing {component_id}"
        return matches[0]

    def change(self, filters: Mapping[str, Any]) -> dict[str, CallbackResult]:
        """Set the filters and run what the renderer runs: each callback the change reaches,
        once, in dependency order. Returns each run's result by the first component it writes."""
        return self._run(self.filter_props(filters))

    def tick(self, interval_id: str) -> dict[str, CallbackResult]:
        """One tick of a dcc.Interval, and what it triggers."""
        count = self.values.get((interval_id, "n_intervals")) or 0
        return self._run({(interval_id, "n_intervals"): count + 1})

    def fire(self, component_id: str, values: Mapping[Prop, Any]) -> CallbackResult:
        """Run the callback writing `component_id` once, with the given input values."""
        callback = self.callback_for(component_id)
        return self._post(callback, inputs_with_values(callback, values))

    def compute(self, filters: Mapping[str, Any]) -> CallbackResult:
        """Fire the compute callback with filter values keyed by filter id."""
        return self.fire(self.signal_id, self.filter_props(filters))

    def consume(self, view_id: str, signal: Any) -> CallbackResult:
        """Fire a view's consumer callback with a signal, as after the store changed."""
        callback = self.callback_for(view_id)
        inputs = [{**dep, "value": signal} for dep in callback["inputs"]]
        return self._post(callback, inputs)

    def start_compute(self, filters: Mapping[str, Any]) -> Pending:
        """Send the compute callback's request without waiting for a background job's answer."""
        callback = self.callback_for(self.signal_id)
        return self._submit(callback, inputs_with_values(callback, self.filter_props(filters)))

    def finish(self, pending: Pending) -> CallbackResult:
        """The answer of a request: at once, or by polling its background job as the renderer
        does."""
        if pending.result is not None:
            return pending.result
        assert pending.handles is not None
        deadline = time.monotonic() + BACKGROUND_TIMEOUT_SECONDS
        while True:
            time.sleep(0.05)
            response = self.client.post(
                "/_dash-update-component", json=pending.body, query_string=pending.handles
            )
            payload = response.get_json(silent=True) or {}
            if response.status_code != 200 or "response" in payload:
                return _result(response)
            assert time.monotonic() < deadline, "the background job never answered"

    def _run(self, changed: dict[Prop, Any]) -> dict[str, CallbackResult]:
        self.values.update(changed)
        dirty = set(changed)
        results: dict[str, CallbackResult] = {}
        for callback in self.callbacks:
            inputs = [(dep["id"], dep["property"]) for dep in callback["inputs"]]
            if not dirty.intersection(inputs):
                continue
            result = self._post(callback, inputs_with_values(callback, self.values))
            results[split_output(callback["output"])[0][0]] = result
            for component_id, props in result.outputs.items():
                for prop, value in props.items():
                    self.values[(component_id, prop)] = value
                    dirty.add((component_id, prop))
        return results

    def _post(self, callback: dict[str, Any], inputs: list[dict[str, Any]]) -> CallbackResult:
        return self.finish(self._submit(callback, inputs))

    def _submit(self, callback: dict[str, Any], inputs: list[dict[str, Any]]) -> Pending:
        outputs = [
            {"id": component_id, "property": prop}
            for component_id, prop in split_output(callback["output"])
        ]
        body = {
            "output": callback["output"],
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": inputs,
            "changedPropIds": [f"{dep['id']}.{dep['property']}" for dep in inputs],
            "state": [],
        }
        query = {"endId": self.end_id} if self.end_id is not None else {}
        response = self.client.post("/_dash-update-component", json=body, query_string=query)
        payload = response.get_json(silent=True) or {}
        if response.status_code == 200 and isinstance(payload, dict) and "cacheKey" in payload:
            # A background job was started: its answer is collected by finish().
            handles = {**query, "cacheKey": payload["cacheKey"], "job": str(payload["job"])}
            return Pending(body, handles, None)
        return Pending(body, None, _result(response))


def filter_props(filters: Filters, values: Mapping[str, Any]) -> dict[Prop, Any]:
    """The component properties that hold the filter `values` (by filter id), as the page sends
    them: a dates filter's [start, end] as its start_date and end_date."""
    return {
        (filter_id, prop): _filter_value(filters, values, filter_id, prop)
        for filter_id, spec in filters.items()
        for prop in spec.properties
    }


def _filter_value(filters: Filters, values: Mapping[str, Any], filter_id: str, prop: str) -> Any:
    if filters[filter_id].kind == "dates":
        start, end = values[filter_id]
        return start if prop == "start_date" else end
    return values[filter_id]


def _result(response: Any) -> CallbackResult:
    if response.status_code == 204:
        return CallbackResult(204, {})
    payload = response.get_json(silent=True) or {}
    outputs = payload.get("response", {}) if isinstance(payload, dict) else {}
    return CallbackResult(response.status_code, outputs)


def inputs_with_values(
    callback: dict[str, Any], values: Mapping[Prop, Any]
) -> list[dict[str, Any]]:
    """A callback's inputs as the renderer sends them, each with its value in `values`."""
    return [
        {**dep, "value": values.get((dep["id"], dep["property"]))} for dep in callback["inputs"]
    ]


def in_dependency_order(callbacks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The renderer runs a callback only after every callback that writes one of its inputs.
    writes = {id(cb): set(split_output(cb["output"])) for cb in callbacks}
    ordered: list[dict[str, Any]] = []
    waiting = list(callbacks)
    while waiting:
        ready = [
            cb
            for cb in waiting
            if not any(
                (dep["id"], dep["property"]) in writes[id(other)]
                for other in waiting
                if other is not cb
                for dep in cb["inputs"]
            )
        ]
        assert ready, "the callback graph has a cycle"
        ordered += ready
        waiting = [cb for cb in waiting if all(cb is not done for done in ready)]
    return ordered


def _output_ids(output: str) -> set[str]:
    return {component_id for component_id, _ in split_output(output)}
