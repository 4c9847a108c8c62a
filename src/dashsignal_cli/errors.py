"""The one error tree of dashsignal: the library raises these, only the CLI layer reports them."""

from __future__ import annotations

import re


class DashsignalError(Exception):
    """Base of every error dashsignal reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(DashsignalError):
    """A command-line argument or answer that cannot be used."""


class SpecError(DashsignalError):
    """A spec that is not valid: names the key and what is allowed."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint or spec_hint(message))


_SPEC_SECTION = 'README.md, section "The spec file: dashsignal.toml"'
_SPEC_KEY = re.compile(r"(?P<table>app|cache|filters|stages|views)(?:\[\d+\])?(?:\.(?P<key>\w+))?")
_FLAG_ENTRY = re.compile(r"(?P<entry>filter|stage|view) '")


def spec_hint(message: str) -> str:
    """Where the README explains the key an error names: `filters[1].kind: ...` -> its table."""
    match = _SPEC_KEY.match(message)
    if match:
        table = match["table"]
        table = f"[{table}]" if table in ("app", "cache") else f"[[{table}]]"
        key = f"{match['key']} in " if match["key"] else ""
        return f"See {_SPEC_SECTION}: {key}{table}, and the values it allows."
    match = _FLAG_ENTRY.match(message)
    if match:
        return f"See {_SPEC_SECTION}: what a [[{match['entry']}s]] entry takes and allows."
    return f"See {_SPEC_SECTION}."


class SpecSyntaxError(SpecError):
    """A spec file that is not valid TOML, located as file:line:col."""

    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        super().__init__(
            f"{path}:{line}:{col}: {message}", hint="Fix the TOML syntax and run the command again."
        )


class DamagedRecordError(DashsignalError):
    """dashsignal's own record of a project (.dashsignal/manifest.json) cannot be read."""


class TargetExistsError(DashsignalError):
    """The target directory already exists and holds files."""


class NonInteractiveError(DashsignalError):
    """A prompt was needed but standard input is not a terminal."""

    exit_code = 2


class WriteError(DashsignalError):
    """Writing the project failed; nothing was left behind."""


class InterruptedWriteError(WriteError):
    """A write an earlier command left unfinished cannot be finished nor undone."""


class OutsideProjectError(WriteError):
    """A path of the project leads outside it through a symbolic link: nothing is written."""


class BusyError(WriteError):
    """Another dashsignal command is writing the same project."""


class ConflictError(DashsignalError):
    """Managed files whose hand edits clash with the new version: markers were written."""

    exit_code = 3

    def __init__(self, paths: list[str], *, written: bool) -> None:
        done = "have conflict markers" if written else "would get conflict markers"
        super().__init__(
            f"{len(paths)} file(s) {done}: {', '.join(paths)}",
            hint="Resolve the <<<<<<< ======= >>>>>>> blocks, then run `dashsignal regenerate`; "
            "or pass --force to replace those files, keeping a backup of each.",
        )
        self.paths = paths


class CheckFailed(DashsignalError):
    """`dashsignal check` found something off; the report was printed."""


class CheckError(DashsignalError):
    """`dashsignal check` itself could not run (no project, a busy lock, an unreadable file)."""

    exit_code = 2
