"""Shared fixtures: the real sample files in ../shared/data (skipped with a reason when absent)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
IFC_DIR = DATA / "ifc"
TWIN = Path(sys.executable).with_name("twin")


def ifc_files() -> list[Path]:
    return sorted(IFC_DIR.glob("*.ifc")) if IFC_DIR.is_dir() else []


needs_data = pytest.mark.skipif(not IFC_DIR.is_dir(), reason=f"sample data folder {IFC_DIR} is absent "
                                "(it ships beside the project on the team's machines, not in the repo)")


@pytest.fixture
def sample():
    """Path of a named sample IFC file."""
    def get(name: str) -> Path:
        if not IFC_DIR.is_dir():
            pytest.skip(f"sample data folder {IFC_DIR} is absent")
        return IFC_DIR / name
    return get


def run_twin(*args: str | Path) -> subprocess.CompletedProcess:
    """Run the installed ``twin`` console command."""
    return subprocess.run([str(TWIN), *map(str, args)], capture_output=True, text=True, timeout=300)
