"""The data flow of a project — filters, compute step, stages, signal stores, views — as plain data.

`dashsignal graph` prints it as a Rich tree, a Mermaid diagram or JSON. The JSON is the stable
form (documented in the README); the tree and the diagram are drawn from it.

Signal pattern: the filters trigger one compute callback, which runs the query once, caches the
result and writes the signal store; each stage derives its result from its source's, caches it and
writes a signal store of its own; a view is triggered by the signal store of what it reads.
Memoize pattern: no signal stores; each view's callback takes the filters and reads the memoized
query (or stage, computed on demand from its source) itself. In both, an "own" view computes its
own cached result from the filters, and a "live" view recomputes on every tick of its interval.
"""

from __future__ import annotations

import re
from typing import Any

from dashsignal_cli.names import (
    COMPUTE_CALLBACK,
    SIGNAL_ID,
    derive_callback,
    interval_id,
    signal_id,
    update_callback,
)
from dashsignal_cli.spec import QUERY, Spec, StageSpec, ViewSpec

__all__ = ["data_flow", "mermaid"]

_QUERY_FUNCTION = "data.expensive_query"


def data_flow(spec: Spec) -> dict[str, Any]:
    """What triggers what, and what each step runs and reads, in a JSON-ready form."""
    signal = spec.app.pattern == "signal"
    return {
        "pattern": spec.app.pattern,
        # Who may see it ([app] auth); each computation says whose its results are ("scope").
        "auth": spec.app.auth,
        "filters": [{"id": f.id, "kind": f.kind, "label": f.label} for f in spec.filters],
        "compute": {
            "callback": COMPUTE_CALLBACK if signal else None,
            "runs": _QUERY_FUNCTION,
            "background": spec.app.background,
            "cache": spec.cache.backend,
            "signal": SIGNAL_ID if signal else None,
            # Where expensive_query's rows come from ([data]).
            "data": spec.data.source,
            "scope": spec.app.scope,
        },
        "signal": SIGNAL_ID if signal else None,
        "stages": [_stage(spec, stage, signal=signal) for stage in spec.ordered_stages()],
        "views": [_view(spec, view, signal=signal) for view in spec.views],
    }


def _stage(spec: Spec, stage: StageSpec, *, signal: bool) -> dict[str, Any]:
    return {
        "id": stage.id,
        "title": stage.title,
        "source": stage.source,
        "callback": derive_callback(stage.id) if signal else None,
        "runs": f"stages.{stage.id}.derive",
        # Signal: triggered by its source's signal store. Memoize: computed when a view reads it.
        "inputs": [signal_id(stage.source)] if signal else [],
        "signal": signal_id(stage.id) if signal else None,
        "scope": spec.scopes()[stage.id],
    }


def _view(spec: Spec, view: ViewSpec, *, signal: bool) -> dict[str, Any]:
    filters = [f.id for f in spec.filters]
    if view.is_live:
        inputs, reads, cached = [*filters, interval_id(view.id)], f"views.{view.id}.compute", False
    elif view.is_own:
        inputs, reads, cached = filters, f"views.{view.id}.compute", True
    else:
        inputs = [signal_id(view.source)] if signal else filters
        reads = _QUERY_FUNCTION if view.source == QUERY else f"stages.{view.source}.derive"
        cached = True
    return {
        "id": view.id,
        "kind": view.kind,
        "title": view.title,
        "callback": update_callback(view.id),
        "source": view.source,
        "inputs": inputs,
        "reads": reads,
        "cached": cached,
        # Whose its data is: an own or live view's own scope, else what it reads.
        "scope": spec.scope_of(view),
        "interval": (
            {"id": interval_id(view.id), "seconds": view.interval} if view.is_live else None
        ),
        # A view of the query or a stage reduces its frame once per filter state (cached per
        # view) and draws that; an own or live view draws what compute returns.
        "summarises": f"views.{view.id}.summarise" if view.reads_cache else None,
        "renders": f"views.{view.id}.render",
    }


def mermaid(spec: Spec) -> str:
    """A Mermaid flowchart of the data flow, to paste into a README."""
    flow = data_flow(spec)
    signal = flow["pattern"] == "signal"
    lines = ["flowchart LR"]
    for item in flow["filters"]:
        lines.append(f'    filter_{item["id"]}["{_label(item["label"])}<br/>{item["kind"]}"]')
    lines.append(f'    cache[("{flow["compute"]["cache"]} cache")]')
    if signal:
        where = " (background)" if flow["compute"]["background"] else ""
        lines.append(f'    compute(["{COMPUTE_CALLBACK}{where}<br/>{_QUERY_FUNCTION}, once"])')
        lines.append(f'    signal[/"dcc.Store {SIGNAL_ID}"/]')
        for item in flow["filters"]:
            lines.append(f"    filter_{item['id']} --> compute")
        lines.append("    compute --> cache")
        lines.append("    compute --> signal")
    else:
        lines.append(f'    query(["{_QUERY_FUNCTION}<br/>memoized, once per filter state"])')
        lines.append("    query --> cache")
    for stage in flow["stages"]:
        node = f"stage_{stage['id']}"
        parent = _result_node(stage["source"], signal=signal)
        if signal:
            lines.append(f'    {node}(["{_label(stage["title"])}<br/>{stage["runs"]}, once"])')
            lines.append(f'    signal_{stage["id"]}[/"dcc.Store {stage["signal"]}"/]')
            lines.append(f"    {parent} --> {node}")
            lines.append(f"    {node} --> cache")
            lines.append(f"    {node} --> signal_{stage['id']}")
        else:
            lines.append(f'    {node}(["{_label(stage["title"])}<br/>{stage["runs"]}, memoized"])')
            lines.append(f"    {parent} -.-> {node}")
            lines.append(f"    {node} --> cache")
    for item in flow["views"]:
        node = f"view_{item['id']}"
        lines.append(f'    {node}["{_label(item["title"])}<br/>{item["kind"]}"]')
        if item["source"] in ("own", "live"):
            step = f"{item['source']}_{item['id']}"
            if item["source"] == "own":
                lines.append(f'    {step}(["{item["reads"]}<br/>cached"])')
            else:
                timer = item["interval"]
                every = f"every {timer['seconds']} s"
                lines.append(f'    interval_{item["id"]}[/"dcc.Interval {timer["id"]}"/]')
                lines.append(f'    {step}(["{item["reads"]}<br/>{every}, not cached"])')
                lines.append(f"    interval_{item['id']} --> {step}")
            for filter_id in (f["id"] for f in flow["filters"]):
                lines.append(f"    filter_{filter_id} --> {step}")
            if item["cached"]:
                lines.append(f"    {step} --> cache")
            lines.append(f"    {step} --> {node}")
        elif signal:
            store = "signal" if item["source"] == QUERY else f"signal_{item['source']}"
            lines.append(f"    {store} --> {node}")
            lines.append(f"    cache -.-> {node}")
        else:
            for filter_id in (f["id"] for f in flow["filters"]):
                lines.append(f"    filter_{filter_id} --> {node}")
            lines.append(f"    {_result_node(item['source'], signal=False)} -.-> {node}")
    return "\n".join(lines) + "\n"


def _result_node(source: str, *, signal: bool) -> str:
    """The node a stage or a view downstream of `source` hangs from."""
    if signal:
        return "signal" if source == QUERY else f"signal_{source}"
    return "query" if source == QUERY else f"stage_{source}"


def _label(text: str) -> str:
    # Mermaid labels are quoted: keep them on one line and free of the quote character.
    text = re.sub(r"\s+", " ", text)
    for character, entity in (('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(character, entity)
    return text
