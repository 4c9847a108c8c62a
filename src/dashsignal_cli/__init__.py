"""dashsignal: generate and grow Plotly Dash projects built on the signaling pattern."""

__version__ = "0.1.0"
