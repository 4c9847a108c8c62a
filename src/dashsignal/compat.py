"""Which generated wiring this runtime runs: the compatibility rule of dashsignal's README.

A project's wiring names the runtime series it was generated for (`require_runtime("0.3")` in
its signaling/settings.py). Wiring of series 0.N runs on every runtime 0.N.x. A runtime of a
later series runs it only if it still lists the series in SUPPORTED_WIRING; otherwise the app
stops at start-up with one error that names the command to run, rather than failing later with
an AttributeError somewhere in the wiring.
"""

from __future__ import annotations

from dashsignal import __version__

__all__ = ["SUPPORTED_WIRING", "WiringMismatch", "require_runtime", "series_of"]


def series_of(version: str) -> str:
    """The series ("0.3") of a version ("0.3.1"): what the wiring promises to work with."""
    major, minor, *_ = version.split(".")
    return f"{major}.{minor}"


# The wiring series this runtime runs: its own, and any older one it still keeps working.
# 0.4 added summaries (Signaling(views=...)); 0.3 wiring, without them, runs as it did. 0.5
# added [data] (dashsignal.demo, Filter(column=...)); 0.4 wiring, without them, runs as it did.
# 0.6 added users and scopes (Signaling(auth=...), Computation(scope=...)); 0.5 wiring, without
# them, shares every result as it did.
SUPPORTED_WIRING = (series_of(__version__), "0.5", "0.4", "0.3")


class WiringMismatch(RuntimeError):
    """The project's generated wiring and the installed runtime are not compatible."""


def require_runtime(series: str, installed: str = __version__) -> None:
    """Stop with WiringMismatch unless the installed runtime runs wiring of `series`."""
    supported = SUPPORTED_WIRING if installed == __version__ else (series_of(installed),)
    if series in supported:
        return
    if _as_numbers(series) > _as_numbers(series_of(installed)):
        raise WiringMismatch(
            f"this project's wiring was generated for dashsignal {series}, newer than the "
            f"installed runtime {installed}: run `pip install -U 'dashsignal[app]>={series}'`"
        )
    raise WiringMismatch(
        f"this project's wiring was generated for dashsignal {series}; the installed runtime "
        f"{installed} no longer runs it: run `dashsignal regenerate` in the project"
    )


def _as_numbers(series: str) -> tuple[int, ...]:
    return tuple(int(part) for part in series.split("."))
