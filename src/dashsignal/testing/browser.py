"""The dashboard in Chrome, driven as a user drives it: read through the Dash renderer and the
DOM, its filters changed with the mouse or the keyboard.

Imported by the `page` fixture only: it needs dash[testing] (selenium, Dash's browser runner).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from dashsignal.computations import QUERY
from dashsignal.outputs import EMPTY_TEXT

if TYPE_CHECKING:
    from dashsignal.filters import Filter
    from dashsignal.signaling import Signaling

__all__ = [
    "TIMEOUT_SECONDS",
    "VIEWPORT",
    "Page",
    "change_filter",
    "click_an_option",
    "holds",
    "pick_in_dropdown",
    "step_a_slider_handle",
    "type_a_date",
]

T = TypeVar("T")

# Longest wait for the page (generous: it only runs out when something is wrong).
TIMEOUT_SECONDS = 60
# The size of the page the `page` fixture opens.
VIEWPORT = (1280, 900)

# A component property as the Dash renderer holds it, as JSON (null when there is none yet).
PROP_JS = """
const [id, prop] = arguments;
const state = window.store && window.store.getState();
const path = state && state.paths && state.paths.strs[id];
if (!path) { return "null"; }
let node = state.layout;
for (const key of path) { node = node[key]; }
const value = node.props[prop];
return JSON.stringify(value === undefined ? null : value);
"""

# What is missing from each view on the page: a graph without traces, a table without rows, an
# indicator without a value.
VIEW_PROBLEMS_JS = """
const [views, emptyText] = arguments;
const problems = [];
for (const [id, kind] of Object.entries(views)) {
  const root = document.getElementById(id);
  if (!root) {
    problems.push(`${id}: not on the page`);
  } else if (kind === "graph") {
    const plot = root.querySelector(".js-plotly-plot");
    if (!plot || !Array.isArray(plot.data) || plot.data.length === 0) {
      problems.push(`${id}: no data plotted`);
    }
  } else if (kind === "table") {
    if (root.querySelectorAll(".ag-center-cols-container .ag-row").length === 0) {
      problems.push(`${id}: no rows shown`);
    }
  } else if (!root.textContent.trim() || root.textContent.trim() === emptyText) {
    problems.push(`${id}: no value shown`);
  }
}
return problems;
"""

# From now on, keep every callback request the page makes with its answer (the renderer calls
# fetch for each), so that a test sees exactly which callbacks one change fired.
RECORD_JS = """
if (!window.dashsignalCalls) {
  window.dashsignalCalls = [];
  const realFetch = window.fetch;
  window.fetch = function (resource, init) {
    const answer = realFetch.apply(this, arguments);
    const url = String((resource && resource.url) || resource);
    if (url.includes("_dash-update-component") && init && typeof init.body === "string") {
      const request = JSON.parse(init.body);
      const keep = (status, body) => window.dashsignalCalls.push(
        {output: request.output, inputs: request.inputs, status: status, body: body}
      );
      answer.then(
        (response) => response.clone().text().then((body) => keep(response.status, body)),
        () => keep(0, ""),
      );
    }
    return answer;
  };
}
window.dashsignalCalls.length = 0;
"""

# The option of a checklist, radio items or open dropdown whose value is arguments[1].
OPTION_JS = """
const [selector, value] = arguments;
for (const root of document.querySelectorAll(selector)) {
  for (const input of root.querySelectorAll(".dash-options-list-option input")) {
    if (input.value === value) { return input.closest("label"); }
  }
}
return null;
"""

# Whether a dropdown list or a date picker's calendar is open.
POPUP_OPEN_JS = "return document.querySelector('[data-radix-popper-content-wrapper]') !== null;"


class Page:
    """The dashboard open in Chrome, read through the Dash renderer and the DOM. `duo` is
    dash[testing]'s `DashComposite` (what `dash_duo` is), `views` the page's views by id with
    their kind (graph, table or indicator)."""

    def __init__(self, duo: Any, signaling: Signaling, views: Mapping[str, str]) -> None:
        self.duo = duo
        self.driver: Any = duo.driver
        self.signaling = signaling
        self.views = dict(views)

    def wait(self, condition: Callable[[], T], message: str) -> T:
        """The first truthy value of `condition`, polled until TIMEOUT_SECONDS."""
        # selenium's waits and actions carry no annotations: called as Any.
        waiter = cast(Any, WebDriverWait)(self.driver, TIMEOUT_SECONDS, poll_frequency=0.05)
        found: T = waiter.until(lambda _: condition(), message)
        return found

    def prop(self, component_id: str, name: str) -> Any:
        """A component's property as the renderer holds it (None when it has none yet)."""
        return json.loads(self.driver.execute_script(PROP_JS, component_id, name))

    def signal(self) -> Any:
        """The signal in the query's store (the signaling pattern only)."""
        return self.prop(self.signaling.signals[QUERY], "data")

    def filter_value(self, spec: Filter) -> Any:
        """The value a filter has on the page: [start, end] for a dates filter."""
        if spec.kind == "dates":
            return [self.prop(spec.id, "start_date"), self.prop(spec.id, "end_date")]
        return self.prop(spec.id, "value")

    def filter_values(self) -> dict[str, Any]:
        """Every filter's value on the page, by filter id."""
        return {spec.id: self.filter_value(spec) for spec in self.signaling.filters.values()}

    def idle(self) -> bool:
        """No callback requested, waiting or running."""
        return self.duo.redux_state_rqs == [] and not self.duo.redux_state_is_loading

    def view_problems(self) -> list[str]:
        """What is missing from each view: a graph without traces, a table without rows, an
        indicator without a value."""
        problems: list[str] = self.driver.execute_script(VIEW_PROBLEMS_JS, self.views, EMPTY_TEXT)
        return problems

    def console_errors(self) -> list[str]:
        """The browser console's errors since the last call."""
        return [entry["message"] for entry in self.duo.get_logs()]

    def wait_until_drawn(self) -> None:
        """Every view drawn, and nothing left to run."""
        self.wait(lambda: self.idle() and not self.view_problems(), "the views were not all drawn")

    def record_callbacks(self) -> None:
        """From now on, keep every callback request and its answer (see answered_calls)."""
        self.driver.execute_script(RECORD_JS)

    def answered_calls(self) -> list[dict[str, Any]]:
        """The recorded callback calls that got an answer with outputs."""
        calls = json.loads(self.driver.execute_script("return JSON.stringify(dashsignalCalls);"))
        answered = []
        for call in calls:
            assert call["status"] in (200, 202, 204), call
            payload = json.loads(call["body"]) if call["status"] == 200 else {}
            if "response" in payload:
                answered.append({"inputs": call["inputs"], "response": payload["response"]})
        return answered

    def option(self, selector: str, value: Any) -> WebElement:
        """The clickable label of `value` in the option lists matching `selector`."""
        element: WebElement = self.wait(
            lambda: self.driver.execute_script(OPTION_JS, selector, str(value)),
            f"no option {value!r} in {selector}",
        )
        return element

    def close_popup(self) -> None:
        """Close an open dropdown list or calendar, as Escape does."""
        if self.driver.execute_script(POPUP_OPEN_JS):
            cast(Any, ActionChains)(self.driver).send_keys(Keys.ESCAPE).perform()
            self.wait(lambda: not self.driver.execute_script(POPUP_OPEN_JS), "a popup stayed open")

    def use_viewport(self, width: int, height: int) -> None:
        """Size the window so that the page itself is width x height."""
        self.driver.set_window_size(width, height)
        inner = self.driver.execute_script("return [window.innerWidth, window.innerHeight];")
        self.driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])


def holds(on_page: Any, answer: Any) -> bool:
    """Whether a property on the page holds a callback's answer: the same values, plus perhaps
    what the component added to it (plotly.js keeps the decoded arrays beside each array)."""
    if isinstance(answer, dict):
        return isinstance(on_page, dict) and all(
            key in on_page and holds(on_page[key], value) for key, value in answer.items()
        )
    if isinstance(answer, list):
        return (
            isinstance(on_page, list)
            and len(on_page) == len(answer)
            and all(holds(p, a) for p, a in zip(on_page, answer, strict=True))
        )
    return bool(on_page == answer)


# --- changing each kind of filter the way a user does ------------------------------------------


def change_filter(page: Page, spec: Filter, current: Any) -> Any:
    """Change one filter from its `current` value with the mouse or the keyboard, as a user
    does; return the value it should now have.

    A dropdown gets another option picked, a multi-select one more option (or one fewer when
    all are in), a checklist one more or one fewer tick, radio items another option, a range
    slider's handle one arrow-key step, a date range a new start (or end) date typed in.
    """
    if spec.kind in ("dropdown", "multi"):
        return pick_in_dropdown(page, spec, current)
    if spec.kind in ("checklist", "radio"):
        return click_an_option(page, spec, current)
    if spec.kind == "range":
        return step_a_slider_handle(page, spec, current)
    return type_a_date(page, spec, current)


def pick_in_dropdown(page: Page, spec: Filter, current: Any) -> Any:
    """Single: choose another option. Multi: add one more option, or remove one when all are
    in. Returns the new value."""
    chosen = current if spec.kind == "multi" else [current]
    option = next((o for o in spec.options if o not in chosen), spec.options[0])
    page.duo.find_element(f"#{spec.id}").click()  # opens the list
    page.option(".dash-dropdown-content", option).click()
    page.close_popup()  # a multi-select stays open for more choices
    if spec.kind == "dropdown":
        return option
    return [o for o in chosen if o != option] if option in chosen else [*chosen, option]


def click_an_option(page: Page, spec: Filter, current: Any) -> Any:
    """Radio items: click another option. Checklist: untick one of several ticked options, else
    tick one more. Returns the new value."""
    if spec.kind == "radio":
        option = next(o for o in spec.options if o != current)
        page.option(f"#{spec.id}", option).click()
        return option
    unticked = next((o for o in spec.options if o not in current), spec.options[0])
    option = current[0] if len(current) > 1 else unticked
    page.option(f"#{spec.id}", option).click()
    return [o for o in current if o != option] if option in current else [*current, option]


def step_a_slider_handle(page: Page, spec: Filter, current: Any) -> Any:
    """One arrow key on a focused handle moves it one step, as a user narrows a range (or
    widens it when it is one value at the minimum). Returns the new value."""
    low, high = current
    if low < high:
        handle, key, value = 1, Keys.ARROW_RIGHT, [low + spec.step, high]
    elif low > spec.min:
        handle, key, value = 1, Keys.ARROW_LEFT, [low - spec.step, high]
    else:
        handle, key, value = 2, Keys.ARROW_RIGHT, [low, high + spec.step]
    page.duo.find_element(f"#{spec.id} .dash-slider-thumb-{handle}").send_keys(key)
    return value


def type_a_date(page: Page, spec: Filter, current: Any) -> Any:
    """Type a later start date into its text box, then Enter (an earlier one when the range is
    a single day; a later end date when that day is the first allowed). Returns the new value."""
    first = dt.date.fromisoformat(spec.min)
    start = dt.date.fromisoformat(current[0]) if current[0] else first
    end = dt.date.fromisoformat(current[1]) if current[1] else dt.date.fromisoformat(spec.max)
    if start < end:
        box, day = spec.id, start + dt.timedelta(days=max(1, (end - start).days // 2))
    elif start > first:
        box, day = spec.id, first
    else:
        box, day = f"{spec.id}-end-date", end + dt.timedelta(days=1)
    text_box = page.duo.find_element(f"#{box}")
    text_box.click()
    text_box.send_keys(Keys.END, Keys.BACKSPACE * len(text_box.get_attribute("value") or ""))
    text_box.send_keys(day.isoformat(), Keys.ENTER)
    page.close_popup()
    return [day.isoformat(), current[1]] if box == spec.id else [current[0], day.isoformat()]
