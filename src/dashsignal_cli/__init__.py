"""dashsignal: generate and grow Plotly Dash projects built on the signaling pattern."""

__version__ = "0.2.0"
