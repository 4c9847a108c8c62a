"""Declared filters, and the one function that turns values from a browser into trusted ones.

Everything the server does with filter values starts with `Filters.canonical`: a value that is
not among a filter's declared options is refused before any query runs or any cache entry is
read, and values that mean the same thing (a multi-select in another order, 2020 and 2020.0 on
an integer slider) come out identical, so they share one cache entry.

Each kind of filter is described here once: the component that shows it, the properties that
hold its value, and its canonical values.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import product
from typing import Any

from dash import Input, dcc

__all__ = ["KINDS", "Filter", "Filters", "InvalidFilters", "TooManyStates"]

KINDS = ("dropdown", "multi", "checklist", "radio", "range", "dates")


class InvalidFilters(ValueError):
    """Filter values that the wiring does not declare."""


@dataclass(frozen=True)
class Filter:
    """One filter of the page: its id is the component's id."""

    id: str
    kind: str
    label: str
    options: tuple[Any, ...] = ()
    min: Any = None
    max: Any = None
    step: Any = None
    default: Any = None
    # The column of the data it is a condition on (dashsignal.sql, dashsignal.frames): None for
    # the column named like its id. From the project's declarations, never from a browser.
    column: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: unknown filter kind {self.kind!r}")

    @property
    def column_name(self) -> str:
        """The column it is a condition on: its own `column`, else its id."""
        return self.id if self.column is None else self.column

    @property
    def properties(self) -> tuple[str, ...]:
        """The component properties that hold this filter's value."""
        return ("start_date", "end_date") if self.kind == "dates" else ("value",)

    @property
    def is_choice(self) -> bool:
        return self.kind in ("dropdown", "multi", "checklist", "radio")

    def control(self) -> Any:
        """The Dash component that shows this filter, at its default value."""
        if self.kind in ("dropdown", "multi"):
            return dcc.Dropdown(
                id=self.id,
                options=list(self.options),
                value=self.default,
                multi=self.kind == "multi",
                clearable=True,
                placeholder="All",
            )
        if self.kind == "checklist":
            return dcc.Checklist(id=self.id, options=list(self.options), value=self.default)
        if self.kind == "radio":
            return dcc.RadioItems(id=self.id, options=list(self.options), value=self.default)
        if self.kind == "range":
            return dcc.RangeSlider(
                id=self.id,
                min=self.min,
                max=self.max,
                step=self.step,
                value=self.default,
                tooltip={"placement": "bottom"},
            )
        return dcc.DatePickerRange(
            id=self.id,
            min_date_allowed=self.min,
            max_date_allowed=self.max,
            start_date=self.default[0],
            end_date=self.default[1],
            display_format="YYYY-MM-DD",
        )

    def canonical(self, value: Any) -> Any:
        """The one canonical form of `value`; InvalidFilters unless it is declared."""
        if self.kind == "dropdown":
            return None if value is None else self._option(value)
        if self.kind == "radio":
            return self._option(value)
        if self.kind in ("multi", "checklist"):
            return self._options(value)
        if self.kind == "range":
            return self._number_pair(value)
        return self._date_pair(value)

    def _option(self, value: Any) -> Any:
        # Compare types too: True == 1 and 1 == 1.0 in Python, but they are not the same option.
        for option in self.options:
            if type(option) is type(value) and option == value:
                return option
        raise InvalidFilters(f"{self.id}: not one of the declared options")

    def _options(self, value: Any) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > len(self.options):
            raise InvalidFilters(f"{self.id}: expected a list of declared options")
        chosen = [self._option(item) for item in value]
        # Declaration order, without repeats: the same selection always gives the same key.
        return [option for option in self.options if option in chosen]

    def _number_pair(self, value: Any) -> list[Any]:
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise InvalidFilters(f"{self.id}: expected [from, to]")
        whole = all(type(bound) is int for bound in (self.min, self.max, self.step))
        pair = [self._number(item, whole) for item in value]
        if pair[0] > pair[1]:
            raise InvalidFilters(f"{self.id}: from is greater than to")
        return pair

    def _number(self, value: Any, whole: bool) -> int | float:
        if type(value) not in (int, float) or (type(value) is float and not math.isfinite(value)):
            raise InvalidFilters(f"{self.id}: expected a number")
        # Compared before any arithmetic: a huge int cannot overflow a float conversion here.
        if not self.min <= value <= self.max:
            raise InvalidFilters(f"{self.id}: outside {self.min}..{self.max}")
        # Only values on the slider's steps: this bounds how many cache entries a client makes.
        steps = (value - self.min) / self.step
        if abs(steps - round(steps)) > 1e-6:
            raise InvalidFilters(f"{self.id}: not on a step of {self.step}")
        if whole:
            return int(self.min + round(steps) * self.step)
        return float(round(self.min + round(steps) * self.step, 9))

    def _date_pair(self, value: Any) -> list[str | None]:
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise InvalidFilters(f"{self.id}: expected [start_date, end_date]")
        start, end = (self._date(item) for item in value)
        if start is not None and end is not None and start > end:
            raise InvalidFilters(f"{self.id}: start date after end date")
        return [start, end]

    def _date(self, value: Any) -> str | None:
        # An open end (None) is allowed: the date picker can be cleared.
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > 32:
            raise InvalidFilters(f"{self.id}: expected a date")
        try:
            day = dt.datetime.fromisoformat(value).date()
        except ValueError:
            raise InvalidFilters(f"{self.id}: expected a date") from None
        if not self.min <= day.isoformat() <= self.max:
            raise InvalidFilters(f"{self.id}: outside {self.min}..{self.max}")
        return day.isoformat()


class TooManyStates(ValueError):
    """More filter states than a caller is willing to go through."""


class Filters(Mapping[str, Filter]):
    """The filters of one page, by id, in the order they are shown."""

    def __init__(self, *filters: Filter) -> None:
        self._by_id = {f.id: f for f in filters}
        if len(self._by_id) != len(filters):
            raise ValueError("two filters have the same id")

    def __getitem__(self, filter_id: str) -> Filter:
        return self._by_id[filter_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def canonical(self, values: Any) -> dict[str, Any]:
        """Validate raw filter values and return their one canonical, JSON-ready form.

        Raises InvalidFilters for an unknown or missing filter, or a value not declared.
        """
        if not isinstance(values, Mapping) or set(values) != set(self._by_id):
            raise InvalidFilters("the filters sent do not match the declared filters")
        return {f.id: f.canonical(values[f.id]) for f in self._by_id.values()}

    def defaults(self) -> dict[str, Any]:
        """The values the page starts with."""
        return self.canonical({f.id: f.default for f in self._by_id.values()})

    def every_state(self, limit: int) -> list[dict[str, Any]]:
        """Every filter state of the choice filters (a dropdown's None included, every subset
        of a multi or checklist), ranges and dates at their default, in canonical form.
        TooManyStates when there are more than `limit`."""
        choices: list[list[Any]] = []
        count = 1
        for spec in self._by_id.values():
            if spec.kind == "dropdown":
                values: list[Any] = [None, *spec.options]
            elif spec.kind == "radio":
                values = list(spec.options)
            elif spec.kind in ("multi", "checklist"):
                values = [
                    [option for bit, option in enumerate(spec.options) if mask >> bit & 1]
                    for mask in range(2 ** len(spec.options))
                ]
            else:
                values = [spec.default]
            count *= len(values)
            if count > limit:
                break
            choices.append(values)
        if count > limit:
            raise TooManyStates(
                f"the declared options make more than {limit} filter states; warm a list of "
                "them instead, or raise the limit"
            )
        ids = list(self._by_id)
        return [self.canonical(dict(zip(ids, chosen, strict=True))) for chosen in product(*choices)]

    def inputs(self) -> dict[str, Any]:
        """The callback inputs of every filter, by filter id: (start, end) for a dates filter."""
        inputs: dict[str, Any] = {}
        for spec in self._by_id.values():
            pair = tuple(Input(spec.id, prop) for prop in spec.properties)
            inputs[spec.id] = pair if len(pair) > 1 else pair[0]
        return inputs

    def sent(self, inputs: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The filter values in a callback request's well-formed inputs, by filter id (a dates
        filter's as [start, end]); None when the callback does not take every filter."""
        values = {(dep["id"], dep["property"]): dep.get("value") for dep in inputs}
        filters: dict[str, Any] = {}
        for spec in self._by_id.values():
            props = [(spec.id, prop) for prop in spec.properties]
            if not all(prop in values for prop in props):
                return None
            sent = [values[prop] for prop in props]
            filters[spec.id] = sent if len(sent) > 1 else sent[0]
        return filters
