"""The built wheel carries the templates and works when run from anywhere else."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("dashsignal-*.whl")
    return built


def test_wheel_ships_every_template(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {p.relative_to(ROOT).as_posix() for p in (ROOT / "templates").rglob("*.jinja")}
    assert templates
    assert {f"dashsignal_cli/{t}" for t in templates} <= names
    assert "dashsignal_cli/cli.py" in names


def test_installed_wheel_generates_a_project_from_another_directory(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The unpacked wheel comes first on the path, ahead of any editable install of this repo.
    env = {"PYTHONPATH": str(site), "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    where = subprocess.run(
        [sys.executable, "-c", "import dashsignal_cli; print(dashsignal_cli.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(site))
    result = subprocess.run(
        [sys.executable, "-m", "dashsignal_cli", "new", "shop", "--yes"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (elsewhere / "shop" / "signaling" / "callbacks.py").is_file()
    assert (elsewhere / "shop" / "dashsignal.toml").is_file()


def test_the_changelog_names_the_running_version_first() -> None:
    import re

    import dashsignal_cli

    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (\d+\.\d+\.\d+)\b", text, flags=re.MULTILINE)
    assert versions and versions[0] == dashsignal_cli.__version__
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))), reverse=True)
    assert dashsignal_cli.__version__ != "0.1.0"  # 0.1.0 named every commit before versions


def test_the_wheel_carries_the_version(wheel: Path) -> None:
    import dashsignal_cli

    assert wheel.name.startswith(f"dashsignal-{dashsignal_cli.__version__}-")
