"""The data flow of a project — filters, compute step, signal store, views — as plain data.

`dashsignal graph` prints it as a Rich tree, a Mermaid diagram or JSON.
"""

from __future__ import annotations

import re
from typing import Any

from dashsignal_cli.render import SIGNAL_ID
from dashsignal_cli.spec import Spec

__all__ = ["data_flow", "mermaid"]


def data_flow(spec: Spec) -> dict[str, Any]:
    """Filters feed one compute step, which fills the cache and writes the signal; views read."""
    return {
        "filters": [{"id": f.id, "kind": f.kind, "label": f.label} for f in spec.filters],
        "compute": {
            "callback": "compute_signal",
            "runs": "data.expensive_query",
            "background": spec.app.background,
            "cache": spec.cache.backend,
        },
        "signal": SIGNAL_ID,
        "views": [
            {"id": v.id, "kind": v.kind, "title": v.title, "callback": f"update_{v.id}"}
            for v in spec.views
        ],
    }


def mermaid(spec: Spec) -> str:
    """A Mermaid flowchart of the data flow, to paste into a README."""
    flow = data_flow(spec)
    lines = ["flowchart LR"]
    for item in flow["filters"]:
        lines.append(f'    filter_{item["id"]}["{_label(item["label"])}<br/>{item["kind"]}"]')
    where = " (background)" if flow["compute"]["background"] else ""
    lines.append(f'    compute(["compute_signal{where}<br/>data.expensive_query, once"])')
    lines.append(f'    cache[("{flow["compute"]["cache"]} cache")]')
    lines.append(f'    signal[/"dcc.Store {SIGNAL_ID}"/]')
    for item in flow["filters"]:
        lines.append(f"    filter_{item['id']} --> compute")
    lines.append("    compute --> cache")
    lines.append("    compute --> signal")
    for item in flow["views"]:
        lines.append(f'    view_{item["id"]}["{_label(item["title"])}<br/>{item["kind"]}"]')
        lines.append(f"    signal --> view_{item['id']}")
        lines.append(f"    cache -.-> view_{item['id']}")
    return "\n".join(lines) + "\n"


def _label(text: str) -> str:
    # Mermaid labels are quoted: keep them on one line and free of the quote character.
    text = re.sub(r"\s+", " ", text)
    for character, entity in (('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(character, entity)
    return text
