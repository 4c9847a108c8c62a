"""Which generated wiring the runtime runs (dashsignal.compat): its own series and every patch
of it; an older series it no longer lists stops the app with `dashsignal regenerate`, a newer
one with `pip install -U`."""

from __future__ import annotations

import re

import pytest

import dashsignal
from dashsignal import compat
from dashsignal.compat import SUPPORTED_WIRING, WiringMismatch, require_runtime, series_of
from dashsignal_cli.render import RUNTIME_SERIES


def test_wiring_of_the_runtimes_own_series_runs() -> None:
    own = series_of(dashsignal.__version__)
    assert own in SUPPORTED_WIRING
    require_runtime(own)
    # What the generator writes into a new project's signaling/settings.py.
    assert RUNTIME_SERIES == own
    require_runtime(RUNTIME_SERIES)


@pytest.mark.parametrize("installed", ["0.3.0", "0.3.1", "0.3.17"])
def test_every_patch_version_of_a_series_runs_its_wiring(installed: str) -> None:
    require_runtime("0.3", installed=installed)


@pytest.mark.parametrize(("series", "installed"), [("0.2", "0.3.0"), ("0.9", "0.10.2")])
def test_an_older_series_no_longer_supported_names_dashsignal_regenerate(
    series: str, installed: str
) -> None:
    with pytest.raises(WiringMismatch) as raised:
        require_runtime(series, installed=installed)
    message = str(raised.value)
    assert "`dashsignal regenerate`" in message
    assert "pip install" not in message
    assert f"dashsignal {series}" in message and installed in message


@pytest.mark.parametrize(("series", "installed"), [("0.4", "0.3.0"), ("0.10", "0.9.5")])
def test_a_newer_series_names_pip_install_upgrade(series: str, installed: str) -> None:
    # 0.10 is newer than 0.9: series compare as numbers, not as text.
    with pytest.raises(WiringMismatch) as raised:
        require_runtime(series, installed=installed)
    message = str(raised.value)
    assert re.search(rf"`pip install -U 'dashsignal\[app\]>={re.escape(series)}'`", message)
    assert "regenerate" not in message
    assert installed in message


def test_an_older_series_still_listed_in_supported_wiring_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own = series_of(dashsignal.__version__)
    major, minor = own.split(".")
    older = f"{major}.{int(minor) - 1}"
    with pytest.raises(WiringMismatch):
        require_runtime(older)
    monkeypatch.setattr(compat, "SUPPORTED_WIRING", (own, older))
    require_runtime(older)


def test_a_series_is_a_versions_first_two_numbers() -> None:
    assert series_of("0.3.0") == "0.3"
    assert series_of("1.12.4rc1") == "1.12"
    assert series_of("2.0") == "2.0"
