"""One dashboard's signaling pattern: its filters, its computations and their cache, and what its
callbacks call.

The project's wiring builds one `Signaling` from its declarations and calls it from its
callbacks: the compute callback returns `signal(QUERY, filters)`, a small signal (the canonical
filter values, never a cache key), once the query's result and the summary of every view that
summarises it are cached; each view's consumer reads `summary_for(view, signal)` from the cache
(its summary, or the whole result for a view without summarise); a stage's callback returns
`derive(stage, signal)`. In the memoize pattern every view reads `cached_summary(view, filters)`
instead. An own view reads `result_for(view, signal)` (or `cached_result`), a live one `fresh`.

A computation that fails (the query raises, say) is logged once with its traceback and
signalled as failed: every view it feeds shows the failure in its own card (`shows_failures`),
and the next change starts afresh. A view whose own code fails shows that in its card only.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import pandas as pd
from dash import Dash
from dash.exceptions import PreventUpdate

from dashsignal.auth import Access, Authentication, CurrentUser, NoAuth
from dashsignal.cache import DataCache, StillComputing, SummaryFailed, TooManyComputations
from dashsignal.computations import QUERY, Computations, View
from dashsignal.filters import Filters, InvalidFilters
from dashsignal.guard import guard_callback_endpoint
from dashsignal.outputs import failure_message
from dashsignal.settings import CacheSettings

__all__ = ["ComputationFailed", "Signaling", "Warmed", "shows_failures"]

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
# Failures that are not bugs: logged as one line, without a traceback.
EXPECTED_FAILURES = (StillComputing, TooManyComputations)
# The key under which a Flask server holds its dashboard's Signaling (dashsignal.testing reads it).
EXTENSION = "dashsignal"


class ComputationFailed(Exception):
    """The data a view reads could not be computed; `kind` names the error (logged already).
    `view`: the view whose own summarise failed, when it is that."""

    def __init__(self, kind: str, view: str | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.view = view


def shows_failures(
    view_id: str, failed: Callable[[str], R]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a view's callback show `failed(message)` in the view's card instead of raising: the
    page never waits forever, the other views keep working, and a traceback is logged once."""

    def decorate(update: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(update)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return update(*args, **kwargs)
            except PreventUpdate:
                raise
            except ComputationFailed as failure:  # logged where it failed
                return failed(failure_message(failure.kind, failure.view))
            except Exception as error:
                logger.exception("view %s failed", view_id)
                return failed(failure_message(type(error).__name__, view_id))

        return guarded

    return decorate


class Signaling:
    """The runtime of one dashboard. `settings` are its declared cache settings (the
    environment may override the backend when the app starts), `signals` the id of the
    dcc.Store each computed result is signalled in (the query's, then each stage's), `views`
    the views that draw the query's or a stage's result (None: a wiring of 0.3, whose views all
    read the result whole). `auth` is how a request's user is found (dashsignal.auth; None:
    no users), `current_user` the project's hook that may enrich, replace or refuse that user."""

    def __init__(
        self,
        settings: CacheSettings,
        filters: Filters,
        computations: Computations,
        signals: Mapping[str, str] | None = None,
        views: Iterable[View] | None = None,
        *,
        auth: Authentication | None = None,
        current_user: CurrentUser | None = None,
    ) -> None:
        self.declared = settings
        self.settings = settings
        self.filters = filters
        self.computations = computations
        self.signals = dict(signals or {})
        self.views: dict[str, View] | None = None
        if views is not None:
            self.views = {}
            for view in views:
                if view.id in self.views:
                    raise ValueError(f"two views are named {view.id!r}")
                if view.source not in computations:
                    raise ValueError(f"view {view.id}: unknown source {view.source!r}")
                self.views[view.id] = view
        self.access = _access(settings, computations, auth, current_user)
        self._data: DataCache | None = None
        self._server: Any = None
        self._celery: Any = None

    def init_app(self, app: Dash) -> None:
        """Choose the cache from the environment, attach it to the app's server, and guard the
        callback endpoint against requests the renderer would not send."""
        self.settings = self.declared.from_environment()
        if self._celery is not None:
            # Made before the app (app.py names it first): it sends jobs to today's REDIS_URL.
            url = self.settings.redis_url
            self._celery.conf.update(broker_url=url, result_backend=url)
        if self.access is not None:
            # First: a request without its user gets 401 before the guard or Dash sees it.
            self.access.init_app(app.server)
        self._data = DataCache(self.settings, self.computations, self.views, self.access)
        self._data.init_app(app.server)
        guard_callback_endpoint(app, self.filters, self.settings.max_request_bytes)
        app.server.extensions[EXTENSION] = self
        self._server = app.server

    @property
    def data(self) -> DataCache:
        """The cache of the computations' results (once `init_app` has run)."""
        if self._data is None:
            raise RuntimeError("Signaling.init_app(app) has not run: create the app first")
        return self._data

    # --- fresh data ---------------------------------------------------------------------------

    def invalidate(self, app: Dash | None = None) -> str:
        """New results for every filter state from now on, for every process and host sharing
        the cache (a new generation in every key; the old entries age out). For an ETL job
        after it loaded new rows; `app`: the app to initialise first, if it is not yet."""
        if app is not None and self._data is None:
            self.init_app(app)
        with self._app_context():
            return self.data.freshness.invalidate()

    def _app_context(self) -> Any:
        """The app context of the server this Signaling was initialised on (for commands)."""
        if self._server is None:
            raise RuntimeError("Signaling.init_app(app) has not run: create the app first")
        return self._server.app_context()

    def refresh(self) -> bool:
        """Run every data_version() probe now, not waiting for version_check; True when a
        version changed (the next request of any worker computes afresh)."""
        return self.data.freshness.probe_now()

    def warm(
        self,
        states: Iterable[Mapping[str, Any]],
        progress: Callable[[int], None] | None = None,
    ) -> Warmed:
        """Compute each filter state (the query, its stages, their views' summaries) as the
        compute step would, through the same lock, so that the first page load after a deploy
        or an ETL run computes nothing. A state computed already is found, not computed again;
        one that fails is counted and logged. `progress(done)` after each state."""
        if self.settings.backend == "null":
            raise ValueError("the null backend caches nothing: there is nothing to warm")
        scoped = self.computations.scopes() - {"shared"}
        if scoped:
            raise ValueError(
                f"results scoped to the {' and '.join(sorted(scoped))} are made for a request "
                "of theirs: they cannot be warmed"
            )
        names = [QUERY, *(n for n, c in self.computations.items() if c.source is not None)]
        computed = found = failed = 0
        with self._app_context():
            for done, values in enumerate(states, start=1):
                filters = self.filters.canonical(values)
                before = self.data.computed
                signals = [self.signal_for(name, filters) for name in names]
                if any("failed" in signal for signal in signals):
                    failed += 1
                elif self.data.computed > before:
                    computed += 1
                else:
                    found += 1
                if progress is not None:
                    progress(done)
        return Warmed(computed=computed, found=found, failed=failed)

    # --- background jobs -------------------------------------------------------------------

    def background_manager(self) -> Any:
        """Dash's manager for the compute step's background jobs: Celery on Redis (any worker
        on any host runs them), else a capped number of child processes on this host."""
        from dashsignal import background

        if self.settings.backend == "redis":
            return background.celery_manager(self.celery_app)
        return background.diskcache_manager(self.settings)

    @property
    def celery_app(self) -> Any:
        """The Celery app the jobs go to on Redis (`celery -A app:celery_app worker`)."""
        if self._celery is None:
            from dashsignal import background

            self._celery = background.celery_app(self.settings.from_environment())
        return self._celery

    # --- what callbacks call ---------------------------------------------------------------

    def trusted(self, filters: Any) -> dict[str, Any]:
        """Canonical filter values, or no update at all for values the wiring does not declare."""
        try:
            return self.filters.canonical(filters)
        except InvalidFilters as error:
            logger.info("refused filter values: %s", error)
            raise PreventUpdate from None

    def signal(self, name: str, filters: Any) -> dict[str, Any]:
        """The compute callback's answer: compute `name` once for the filters from the browser
        (or find it cached) and return the signal its readers are triggered by."""
        return self.signal_for(name, self.trusted(filters))

    def signal_for(self, name: str, filters: dict[str, Any]) -> dict[str, Any]:
        """Compute `name` for canonical filters (or find it cached); the signal carries the
        filter values, not a cache key: consumers derive the key themselves. A failed
        computation is signalled with its error's kind, so that every reader shows it."""
        if self.settings.backend == "null":
            return {"filters": filters}  # nothing to share: each reader computes
        try:
            self._failing_as_computation(name, filters, self.data.prepare)
        except ComputationFailed as failure:
            return signal_failure(filters, failure.kind)
        if self.data.freshness.stale(name):
            # Its probe is failing: the views show the last good data, and may say so.
            return {"filters": filters, "stale": True}
        return {"filters": filters}

    def derive(self, name: str, signal: Any) -> dict[str, Any]:
        """A stage's callback: derive `name` once its source's `signal` arrives, and signal its
        readers in turn (a failure of its source is passed on: nothing to derive from)."""
        filters = self.signalled_filters(signal)
        if filters is None:
            raise PreventUpdate
        failure = signalled_failure(signal)
        if failure is not None:
            return signal_failure(filters, failure)
        return self.signal_for(name, filters)

    def signalled_filters(self, signal: Any) -> dict[str, Any] | None:
        """The filters a signal stands for; None before the first signal or for an invalid one."""
        if not isinstance(signal, dict):
            return None
        try:
            return self.filters.canonical(signal.get("filters"))
        except InvalidFilters:
            return None

    def result_for(self, name: str, signal: Any) -> pd.DataFrame | None:
        """The cached result `name` (the query or a stage) that a signal stands for, if any.

        Raises ComputationFailed for a signal that reports a failed computation.
        """
        filters = self.signalled_filters(signal)
        if filters is None:
            return None
        failure = signalled_failure(signal)
        if failure is not None:
            raise ComputationFailed(failure)
        return self.computed(name, filters)

    def summary_for(self, view_id: str, signal: Any) -> Any:
        """What a view's render draws for the filters a signal stands for: its cached summary
        (the whole result for a view without summarise); None before the first signal.

        Raises ComputationFailed for a signal that reports a failed computation, or when the
        view's summarise failed for these filters.
        """
        filters = self.signalled_filters(signal)
        if filters is None:
            return None
        failure = signalled_failure(signal)
        if failure is not None:
            raise ComputationFailed(failure)
        return self.summarised(view_id, filters)

    def cached_summary(self, view_id: str, filters: Any) -> Any:
        """What a view's render draws for filters from the browser (the memoize pattern)."""
        return self.summarised(view_id, self.trusted(filters))

    def summarised(self, view_id: str, filters: dict[str, Any]) -> Any:
        """A view's summary for canonical filters (its source's result, when it has no
        summarise), computed at most once per state."""
        if self.views is None or view_id not in self.views:
            raise KeyError(f"{view_id!r} is not a view of this wiring's Signaling(views=...)")
        view = self.views[view_id]
        if not view.summarises:
            return self.computed(view.source, filters)
        try:
            return self._failing_as_computation(
                view.source, filters, lambda _, f: self.data.load_summary(view, f)
            )
        except SummaryFailed as failure:  # logged where summarise ran
            raise ComputationFailed(failure.kind, view_id) from None

    def fresh(self, name: str, filters: Any) -> pd.DataFrame:
        """A live view's data for filters from the browser, fetched now: never cached."""
        frame: pd.DataFrame = self.data.run(self.computations[name], self.trusted(filters))
        return frame

    def cached_result(self, name: str, filters: Any) -> pd.DataFrame:
        """The result `name` for filters from the browser, computed at most once per state."""
        return self.computed(name, self.trusted(filters))

    def computed(self, name: str, filters: dict[str, Any]) -> pd.DataFrame:
        """The result `name` for canonical filters; ComputationFailed when it cannot be had,
        logged here once: with its traceback when the computation raised, as one line when it
        was refused."""
        frame: pd.DataFrame = self._failing_as_computation(name, filters, self.data.load)
        return frame

    def _failing_as_computation(
        self, name: str, filters: dict[str, Any], step: Callable[[str, dict[str, Any]], R]
    ) -> R:
        """`step(name, filters)`, its failures raised as ComputationFailed and logged here once:
        with the traceback when a computation raised, as one line when it was refused."""
        try:
            return step(name, filters)
        except (ComputationFailed, SummaryFailed):
            raise
        except EXPECTED_FAILURES as error:
            logger.warning("%s", error)
            raise ComputationFailed(type(error).__name__) from None
        except Exception as error:
            logger.exception("computing %s failed for %s", name, filters)
            raise ComputationFailed(type(error).__name__) from error


@dataclass(frozen=True)
class Warmed:
    """What `Signaling.warm` did: states computed now, found computed already, failed."""

    computed: int
    found: int
    failed: int


def _access(
    settings: CacheSettings,
    computations: Computations,
    auth: Authentication | None,
    current_user: CurrentUser | None,
) -> Access | None:
    """The gate and scopes of a dashboard with users or scoped results; None without either."""
    scopes = computations.scopes() - {"shared"}
    if auth is None and current_user is None and not scopes:
        return None
    auth = auth if auth is not None else NoAuth()
    if "user" in scopes and auth.mode == "none" and current_user is None:
        raise ValueError("a computation scoped to the user needs Signaling(auth=...)")
    if scopes and settings.background:
        raise ValueError(
            "a background compute step has no request to take the user or session from: "
            "scoped computations need background = false"
        )
    return Access(
        auth,
        current_user,
        sessions="session" in scopes,
        cookie_name=f"dashsignal-{settings.app_name}",
    )


def signal_failure(filters: dict[str, Any], kind: str) -> dict[str, Any]:
    """The signal of a computation that failed with an error of `kind` (a class name)."""
    return {"filters": filters, "failed": kind}


def signalled_failure(signal: Any) -> str | None:
    """The error kind a signal reports, if any: a short name, whatever a forged signal holds."""
    kind = signal.get("failed") if isinstance(signal, dict) else None
    if kind is None:
        return None
    return kind if isinstance(kind, str) and kind.isidentifier() and len(kind) <= 64 else "Error"
