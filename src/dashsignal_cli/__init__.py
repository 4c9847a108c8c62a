"""dashsignal's command line: generate and grow Plotly Dash projects built on the signaling
pattern. The runtime those projects import is the `dashsignal` package of the same
distribution, and shares its version."""

from dashsignal import __version__

__all__ = ["__version__"]
