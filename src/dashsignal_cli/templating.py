"""The one Jinja environment, and the filters that carry user text safely into generated files."""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashsignal_cli import __version__

if TYPE_CHECKING:
    import jinja2

__all__ = ["environment", "python_literal", "templates_root"]


def templates_root() -> Path:
    """Where the templates are: inside the installed package, or at the top of a source checkout."""
    packaged = Path(__file__).parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"


def python_literal(value: Any) -> str:
    """A Python literal for `value` that evaluates back to it and can never run as code.

    Only plain data is accepted; anything else is a bug in the caller, not user input.
    """
    if isinstance(value, str):
        literal = repr(value)
        # Double quotes, as ruff and black write them, where that needs no extra escaping.
        if literal[0] == "'" and '"' not in value:
            literal = f'"{literal[1:-1]}"'
        return literal
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"no literal for {value!r}")
        return repr(value)
    if isinstance(value, dt.date):
        return python_literal(value.isoformat())
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(item) for item in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(python_literal(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        pairs = (f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(f"no Python literal for a {type(value).__name__}")


def one_line(value: str) -> str:
    """Collapse line breaks so that free text stays on one Markdown or comment line."""
    return " ".join(value.split())


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    import jinja2

    class QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
        """Compiled templates kept between runs; a cache that cannot be used is simply skipped.

        Compiling the templates is most of the time of a command that renders; the cache is
        keyed by each template's source checksum, so an edited template is never served stale.
        """

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                super().load_bytecode(bucket)
            except (OSError, ValueError, EOFError):
                bucket.reset()

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                super().dump_bytecode(bucket)
            except OSError:
                pass

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "dashsignal" / f"templates-{__version__}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return QuietBytecodeCache(str(folder))


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja environment every template is rendered with."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_root()),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["py"] = python_literal
    env.filters["one_line"] = one_line
    return env
