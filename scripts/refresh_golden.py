"""Write the golden generated projects in tests/golden/ anew from their own dashsignal.toml.

Each folder under tests/golden/ is one project exactly as `dashsignal new` renders it (without the
.dashsignal/ records, whose version and digests say nothing a reviewer needs). tests/test_golden.py
fails when the templates render anything else; after a deliberate change to generated code, run

    python scripts/refresh_golden.py

and commit the result with the change, so that the diff shows what every project gets.
`--new NAME SPEC_FILE` adds a golden project from a spec file.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from dashsignal_cli.render import render_project
from dashsignal_cli.specfile import SPEC_FILENAME, load_spec

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden"


def rendered(spec_file: Path) -> dict[str, str]:
    """Every file of the project of `spec_file`, by POSIX path."""
    return {path: item.text for path, item in render_project(load_spec(spec_file)).items()}


def write(folder: Path, files: dict[str, str]) -> None:
    """Make `folder` hold exactly `files`."""
    staging = folder.with_name(folder.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    for path, text in files.items():
        target = staging / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", nargs=2, metavar=("NAME", "SPEC_FILE"))
    args = parser.parse_args()
    if args.new:
        name, spec_file = args.new
        write(GOLDEN / name, rendered(Path(spec_file)))
    for folder in sorted(p for p in GOLDEN.iterdir() if (p / SPEC_FILENAME).is_file()):
        write(folder, rendered(folder / SPEC_FILENAME))
        print(f"refreshed {folder.relative_to(GOLDEN.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
