"""The browser contract of a generated dashboard: its real app in Chrome, driven as a user does.

A project's tests/test_browser.py subclasses `BrowserContract` and declares its views and
filters; every test here then runs against that project's own app, with the plugin's fixtures
(`page`, `computations`, `signaling`, `views`):

    class TestBrowser(BrowserContract):
        VIEWS = {"sales": "graph", "rows": "table", "total": "indicator", "ticker": "indicator"}
        SOURCES = {"ticker": "live"}
        FILTERS = ("region", "year")
        MONEY_COLUMNS = ("amount",)

The page loads without console errors and draws every view, and a change of each filter, made
with the mouse or the keyboard as a user makes it, redraws every view once, running each cached
computation once. The page is laid out as meant, read from the styles the browser computed:
every filter control keeps Dash's own look and fits its field, the indicators make a row of
cards above the charts, the charts fill their rows, money has two decimals, and on a phone the
filters fold away so that the first screen shows data and each table scrolls sideways with
readable columns.

The page tests are skipped only when there is no chromedriver on PATH:
`python -m pytest tests/test_browser.py --headless`. Set DASHSIGNAL_SCREENSHOT to a .png path to
keep a screenshot of the loaded dashboard, DASHSIGNAL_PHONE_SCREENSHOT for one at phone width.
DASHSIGNAL_DEMO_CHECKS=1 also checks what the demo's own view modules draw (readable axis titles):
dashsignal's tests set it on projects fresh from the generator; your views are yours to title.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from dashsignal.computations import QUERY
from dashsignal.layout import COLUMN_MIN_WIDTH
from dashsignal.testing.browser import change_filter, holds
from dashsignal.testing.contract import runs_per_change
from dashsignal.testing.endpoint import Prop, filter_props

if TYPE_CHECKING:
    from dashsignal.filters import Filter
    from dashsignal.signaling import Signaling
    from dashsignal.testing.browser import Page
    from dashsignal.testing.counting import ComputationLog

__all__ = ["BrowserContract"]

# After the page is idle, how long to watch for a late callback or query.
SETTLE_SECONDS = 0.3
# A phone held upright (an iPhone 14's CSS pixels): below the stylesheet's 760 px breakpoint.
PHONE_VIEWPORT = (390, 844)
# Longest wait for the layout to settle after the window changed size.
LAYOUT_SECONDS = 10
# At the width of the `page` fixture's viewport, this many indicator cards fit in a row.
INDICATORS_PER_ROW = 4

# What is wrong with the filter panel's look: a control wider than its field, a checklist or
# radio item whose box and text are on different lines, option text styled as a field's label.
FIELD_PROBLEMS_JS = """
const problems = [];
const rect = (element) => element.getBoundingClientRect();
const weight = (element) => Number(getComputedStyle(element).fontWeight);
for (const field of document.querySelectorAll(".ds-filters .ds-field")) {
  const label = field.querySelector(":scope > label");
  if (!label) { problems.push("a field without its label"); continue; }
  const name = label.textContent;
  const bounds = rect(field);
  const parts = "input:not([aria-hidden]), button, svg, [role=slider]";
  for (const part of field.querySelectorAll(`${parts}, .dash-datepicker-input-wrapper`)) {
    const box = rect(part);
    if (box.width > 0 && (box.left < bounds.left - 1 || box.right > bounds.right + 1)) {
      problems.push(`${name}: ${part.getAttribute("class")} sticks out of its field`);
    }
  }
  for (const option of field.querySelectorAll(".dash-options-list-option")) {
    problems.push(...optionProblems(name, option, weight(label)));
  }
}
return problems;

function optionProblems(name, option, labelWeight) {
  const found = [];
  const box = option.querySelector("input").getBoundingClientRect();
  const textElement = option.querySelector(".dash-options-list-option-text");
  const text = textElement.getBoundingClientRect();
  const what = `${name}: option ${JSON.stringify(option.textContent)}`;
  if (!(text.top < box.bottom && box.top < text.bottom && text.left >= box.right - 1)) {
    found.push(`${what} has its box and its text on different lines`);
  }
  if (weight(textElement) >= labelWeight) {
    found.push(`${what} is as bold as a field's label`);
  }
  return found;
}
"""

# The same problems for the options of the dropdown list that is open.
OPEN_LIST_PROBLEMS_JS = """
const [name] = arguments;
const label = document.querySelector(".ds-field > label");
const labelWeight = Number(getComputedStyle(label).fontWeight);
const problems = [];
const options = document.querySelectorAll(".dash-dropdown-content .dash-dropdown-option");
if (options.length === 0) { return [`${name}: no options in its open list`]; }
for (const option of options) {
  const text = option.querySelector(".dash-options-list-option-text");
  const style = getComputedStyle(text);
  const what = `${name}: option ${JSON.stringify(option.textContent)}`;
  if (Number(style.fontWeight) >= labelWeight) { problems.push(`${what} is bold`); }
  // One line of text and its padding: not the block and margin of a field's label.
  const height = option.getBoundingClientRect().height;
  if (height > 2.5 * parseFloat(style.fontSize)) { problems.push(`${what} is ${height}px high`); }
}
return problems;
"""

# Where the views' cards are, by kind of view, as [left, top, right, bottom] in page pixels,
# and where the area of the views is.
VIEW_BOXES_JS = """
const [views] = arguments;
const box = (element) => {
  const r = element.getBoundingClientRect();
  return [r.left, r.top + scrollY, r.right, r.bottom + scrollY];
};
const boxes = {indicator: [], graph: [], table: []};
boxes.views = [box(document.querySelector(".ds-views"))];
for (const [id, kind] of Object.entries(views)) {
  boxes[kind].push(box(document.getElementById(id).closest(".ds-card")));
}
return boxes;
"""

# The axis titles of every chart on the page.
AXIS_TITLES_JS = """
return [...document.querySelectorAll(".js-plotly-plot .xtitle, .js-plotly-plot .ytitle")]
  .map((title) => title.textContent);
"""

# Each table's visible cells of the given columns, and its header cells' widths.
TABLE_JS = """
const [id, columns] = arguments;
const root = document.getElementById(id);
const cells = [];
for (const column of columns) {
  for (const cell of root.querySelectorAll(`.ag-center-cols-container [col-id="${column}"]`)) {
    cells.push(cell.textContent);
  }
}
const scroller = root.querySelector(".ag-body-horizontal-scroll-viewport");
return {
  cells: cells,
  widths: [...root.querySelectorAll(".ag-header-cell")].map((c) => c.clientWidth),
  gridWidth: root.getBoundingClientRect().width,
  scrolls: scroller !== null && scroller.scrollWidth > scroller.clientWidth + 1,
};
"""

# What a phone's first screen shows: whether the filters are folded away, where the first view
# ends, and whether the page is wider than the screen.
PHONE_JS = """
const fields = [...document.querySelectorAll(".ds-filters .ds-field")];
const summary = document.querySelector(".ds-filters-switch");
const first = document.querySelector(".ds-views .ds-card");
return {
  switchShown: summary !== null && summary.checkVisibility(),
  fieldsShown: fields.filter((field) => field.checkVisibility()).length,
  fields: fields.length,
  firstViewBottom: first.getBoundingClientRect().bottom,
  height: innerHeight,
  pageWidth: document.documentElement.scrollWidth,
  width: innerWidth,
};
"""

# Money as a table shows it: two decimals, thousands separated.
MONEY = re.compile(r"-?\d{1,3}(,\d{3})*\.\d\d")
# An axis title that is a column's name, not words.
COLUMN_NAME = re.compile(r"[a-z_][a-z0-9_]*")


class BrowserContract:
    """Tests every generated dashboard passes in a real browser; subclass it with the project's
    VIEWS and FILTERS (and SOURCES, MONEY_COLUMNS where it has them)."""

    # Each view's id, and its kind: "graph", "table" or "indicator".
    VIEWS: ClassVar[dict[str, str]] = {}
    # Where a view's data comes from when it is not the query: a stage, "own" or "live".
    SOURCES: ClassVar[dict[str, str]] = {}
    # Each filter a user can change (all but a radio button or dropdown with one option), by
    # id: each is changed in the page, one per test.
    FILTERS: ClassVar[tuple[str, ...]] = ()
    # The table columns shown as money.
    MONEY_COLUMNS: ClassVar[tuple[str, ...]] = ()

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """One filter-change test per filter of FILTERS (the app is not loaded yet)."""
        if "filter_id" in metafunc.fixturenames:
            metafunc.parametrize("filter_id", list(self.FILTERS))

    @pytest.fixture(autouse=True)
    def _wiring(self, signaling: Signaling) -> None:
        self.signaling = signaling
        self.filters = signaling.filters
        self.signals: dict[str, str] = signaling.signals

    # --- what the spec declares ----------------------------------------------------------------

    @property
    def sources(self) -> dict[str, str]:
        """Each view's source: "query" unless SOURCES says otherwise."""
        return {view: self.SOURCES.get(view, QUERY) for view in self.VIEWS}

    @property
    def live_views(self) -> list[str]:
        return [view for view, source in self.sources.items() if source == "live"]

    @property
    def cached(self) -> list[str]:
        """The cached computations: every one but the live views' fetches."""
        return [name for name, c in self.signaling.computations.items() if not c.live]

    def views_of_kind(self, kind: str) -> list[str]:
        return [view for view, of_kind in self.VIEWS.items() if of_kind == kind]

    def cached_runs(self, computations: ComputationLog) -> dict[str, int]:
        """How many times each cached computation ran (live views fetch on every tick)."""
        counts = computations.counts()
        return {name: counts[name] for name in self.cached}

    def cached_runs_per_change(self) -> dict[str, int]:
        """How many times each cached computation runs for one filter change."""
        expected = runs_per_change(self.signaling, self.sources)
        return {name: expected[name] for name in self.cached}

    # --- the tests ------------------------------------------------------------------------------

    def test_the_declared_views_and_filters_are_the_apps(self, views: dict[str, str]) -> None:
        # No browser needed: what the other tests are driven by is what the app has.
        assert views == self.VIEWS, "VIEWS is not the app's views with their kinds"
        can_change = [spec.id for spec in self.filters.values() if changeable(spec)]
        assert list(self.FILTERS) == can_change, "FILTERS is not the app's changeable filters"
        computations = self.signaling.computations
        for view, source in self.SOURCES.items():
            assert view in self.VIEWS, f"SOURCES: {view} is not a view"
            computation = computations.get(view if source in ("own", "live") else source)
            assert computation is not None, f"SOURCES: {view} reads no computation of the app"
            assert computation.live == (source == "live"), f"SOURCES: {view} is not {source}"

    def test_the_page_loads_without_errors_and_draws_every_view(
        self, page: Page, computations: ComputationLog
    ) -> None:
        assert page.console_errors() == []
        assert page.view_problems() == []
        for store_id in self.signals.values():
            assert page.prop(store_id, "data") == {"filters": self.filters.defaults()}, store_id
        assert self.cached_runs(computations) == self.cached_runs_per_change()
        if path := os.environ.get("DASHSIGNAL_SCREENSHOT"):
            assert page.driver.save_screenshot(path), f"no screenshot written to {path}"

    def test_on_a_wide_screen_the_page_is_laid_out_as_meant(self, page: Page) -> None:
        seen = page.driver.execute_script(PHONE_JS)
        shown = not seen["switchShown"] and seen["fieldsShown"] == len(self.filters)
        # What the demo's own view modules draw: checked on projects fresh from the generator.
        demo_checks = bool(os.environ.get("DASHSIGNAL_DEMO_CHECKS"))
        problems = {
            "filters shown": [] if shown else [f"the filters are folded away: {seen}"],
            "page width": [] if seen["pageWidth"] <= seen["width"] else [f"too wide: {seen}"],
            "filter controls": self.filter_problems(page),
            "arrangement": self.arrangement_problems(page),
            "axis titles": axis_title_problems(page) if demo_checks else [],
            "money": self.money_problems(page),
        }
        assert {check: found for check, found in problems.items() if found} == {}

    def test_on_a_phone_the_filters_fold_away_and_the_first_screen_shows_data(
        self, page: Page
    ) -> None:
        page.use_viewport(*PHONE_VIEWPORT)
        assert layout_problems(lambda: self.phone_problems(page)) == []
        if path := os.environ.get("DASHSIGNAL_PHONE_SCREENSHOT"):
            assert page.driver.save_screenshot(path), f"no screenshot written to {path}"

        # A tap on the "Filters" switch unfolds them.
        page.duo.find_element(".ds-filters-switch label").click()
        seen = page.wait(
            lambda: (s := page.driver.execute_script(PHONE_JS))["fieldsShown"] == s["fields"] and s,
            "the filters did not unfold",
        )
        assert seen["fields"] == len(self.filters)

    def test_a_filter_changed_in_the_page_redraws_every_view_once(
        self, page: Page, computations: ComputationLog, filter_id: str
    ) -> None:
        spec = self.filters[filter_id]
        assert changeable(spec), f"{filter_id}: its one option is the only value it can have"
        before = self.filters.canonical(page.filter_values())
        runs = self.cached_runs(computations)
        page.record_callbacks()

        value = change_filter(page, spec, before[filter_id])
        after = self.filters.canonical({**before, filter_id: value})
        # What the page holds once the change has gone through: the filters and every signal.
        state: dict[Prop, Any] = filter_props(self.filters, after)
        state |= {(store_id, "data"): {"filters": after} for store_id in self.signals.values()}

        def redrawn() -> dict[str, list[dict[str, Any]]]:
            """Each view's answers for the new state, once every view has one and the page is
            idle (none till then)."""
            answers: dict[str, list[dict[str, Any]]] = {}
            for call in page.answered_calls():
                if made_for(call, state):
                    for component_id, props in call["response"].items():
                        answers.setdefault(component_id, []).append(props)
            return answers if set(self.VIEWS) <= set(answers) and page.idle() else {}

        answers = page.wait(redrawn, f"not every view was redrawn for {after}")
        time.sleep(SETTLE_SECONDS)

        calls = page.answered_calls()
        steady = [c for c in calls if not set(c["response"]) & set(self.live_views)]
        assert all(made_for(call, state) for call in steady), "a call with stale values"
        for store_id in self.signals.values():
            assert [props["data"] for props in answers[store_id]] == [{"filters": after}], store_id
            assert page.prop(store_id, "data") == {"filters": after}
        for view_id, props in answers.items():
            if view_id not in self.VIEWS or view_id in self.live_views:
                continue  # a live view may tick again any time: its answers need not be the last
            assert len(props) == 1, f"{view_id} was redrawn {len(props)} times"
            for name, answer in props[0].items():
                assert holds(page.prop(view_id, name), answer), f"{view_id}.{name} is not shown"
            if self.VIEWS[view_id] == "indicator":
                assert page.duo.find_element(f"#{view_id}").text == props[0]["children"]
        assert page.view_problems() == []
        assert page.console_errors() == []
        # The compute step and each stage's step (signaling pattern), then each view's.
        expected_calls = len(self.signals) + len(self.VIEWS) - len(self.live_views)
        assert len(steady) == expected_calls, "a callback ran uncalled for"
        expected_runs = self.cached_runs_per_change()
        assert self.cached_runs(computations) == {
            name: runs[name] + expected_runs[name] for name in runs
        }

    # --- what is wrong with the page's layout ---------------------------------------------------

    def filter_problems(self, page: Page) -> list[str]:
        """Checklist and radio items with box and text apart or bold text, dropdown options
        styled as a field's label, sliders, dropdowns and date pickers (the caret too) wider
        than their field."""
        problems = layout_problems(lambda: page.driver.execute_script(FIELD_PROBLEMS_JS))
        for spec in self.filters.values():
            if spec.kind in ("dropdown", "multi"):
                page.duo.find_element(f"#{spec.id}").click()
                page.option(".dash-dropdown-content", spec.options[0])
                problems += page.driver.execute_script(OPEN_LIST_PROBLEMS_JS, spec.label)
                page.close_popup()
        return problems

    def arrangement_problems(self, page: Page) -> list[str]:
        """Indicators not in a row above the charts, charts or tables not filling their rows."""
        boxes = page.driver.execute_script(VIEW_BOXES_JS, self.VIEWS)
        [(left, _, right, _)] = boxes["views"]
        kpis, charts, tables = boxes["indicator"], boxes["graph"], boxes["table"]
        problems = []
        if kpis and charts and max(b[3] for b in kpis) > min(b[1] for b in charts):
            problems.append("an indicator is below a chart")
        if kpis and len(rows_of(kpis)[0]) != min(len(kpis), INDICATORS_PER_ROW):
            problems.append(f"the indicators are not in a row: {kpis}")
        for row in rows_of(charts):
            # The first chart of a row starts at the left edge, the last ends at the right one.
            if abs(row[0][0] - left) > 2 or abs(row[-1][2] - right) > 2:
                problems.append(f"charts do not fill their row ({left}..{right}): {row}")
        for table in tables:
            if abs(table[0] - left) > 2 or abs(table[2] - right) > 2:
                problems.append(f"a table is not as wide as the views ({left}..{right}): {table}")
        return problems

    def money_problems(self, page: Page) -> list[str]:
        """Money in a table not shown with two decimals and thousands separators."""
        problems = []
        for table_id in self.views_of_kind("table"):
            table = page.driver.execute_script(TABLE_JS, table_id, list(self.MONEY_COLUMNS))
            problems += [f"{table_id}: {c!r}" for c in table["cells"] if not MONEY.fullmatch(c)]
        return problems

    def phone_problems(self, page: Page) -> list[str]:
        """Filters not folded away, a first view below the first screen, a page wider than
        the screen, table columns too narrow to read or too wide without scrolling."""
        seen = page.driver.execute_script(PHONE_JS)
        found = []
        if not seen["switchShown"] or seen["fieldsShown"]:
            found.append(f"the filters are not folded away: {seen}")
        if seen["firstViewBottom"] > seen["height"]:
            found.append(f"the first view ends below the first screen: {seen}")
        if seen["pageWidth"] > seen["width"]:
            found.append(f"the page is wider than the screen: {seen}")
        for table_id in self.views_of_kind("table"):
            table = page.driver.execute_script(TABLE_JS, table_id, [])
            if min(table["widths"], default=COLUMN_MIN_WIDTH) < COLUMN_MIN_WIDTH - 1:
                found.append(f"{table_id}: columns narrower than {COLUMN_MIN_WIDTH} px: {table}")
            if sum(table["widths"]) > table["gridWidth"] and not table["scrolls"]:
                found.append(f"{table_id}: columns wider than the table, and no scrolling")
        return found


def layout_problems(find: Callable[[], list[str]]) -> list[str]:
    """The problems `find` reports once the layout has settled: none, or the last ones seen
    when they did not go away within LAYOUT_SECONDS (charts and tables resize after the window)."""
    deadline = time.monotonic() + LAYOUT_SECONDS
    while (problems := find()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return problems


def axis_title_problems(page: Page) -> list[str]:
    """Axes titled with a column's name (give px charts labels={column: title})."""
    titles = page.driver.execute_script(AXIS_TITLES_JS)
    return [f"an axis titled {t!r}" for t in titles if COLUMN_NAME.fullmatch(t)]


def rows_of(boxes: list[list[float]]) -> list[list[list[float]]]:
    """Boxes grouped by the row they are on (the same top), top to bottom."""
    rows: dict[int, list[list[float]]] = {}
    for box in boxes:
        rows.setdefault(round(box[1]), []).append(box)
    return [sorted(row) for _, row in sorted(rows.items())]


def changeable(spec: Filter) -> bool:
    """Whether a user can change the filter: a radio button or dropdown needs an option besides
    the one the page starts with."""
    return spec.kind not in ("radio", "dropdown") or any(o != spec.default for o in spec.options)


def made_for(call: dict[str, Any], state: dict[Prop, Any]) -> bool:
    """Whether a callback call belongs to the page in `state`: made with its values or, for a
    background job (polled for without input values), answered with them."""
    inputs = {(i["id"], i["property"]): i.get("value") for i in call["inputs"]}
    known = [prop for prop in inputs if prop in state]
    if known and all(inputs[prop] == state[prop] for prop in known):
        return True
    answered = {
        (i, prop): value for i, props in call["response"].items() for prop, value in props.items()
    }
    return bool(answered) and all(state.get(prop, object()) == v for prop, v in answered.items())
