"""Shared fixtures: the real sample files in ../shared/data (skipped with a reason when absent)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenes" / "demo"
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


OFFICE_SCENE_TOML = """name = "办公楼 Office"
crs = "EPSG:4549"
origin = [640412.0, 3457455.0, 4.0]

[ground]
elevation_m = 4.0

[[ifc]]
path = "office.ifc"
"""


@pytest.fixture(scope="session")
def office_scene(tmp_path_factory) -> Path:
    """A scene of one generated 6-storey office, placed by its site lat/long (31.2304 N, 121.4737 E)."""
    from ifc.generate import write_office

    folder = tmp_path_factory.mktemp("office_scene")
    write_office(folder / "office.ifc", storeys=6, seed=2026)
    (folder / "scene.toml").write_text(OFFICE_SCENE_TOML, encoding="utf-8")
    return folder


# --- the web: an audit home per module, one headless Chromium per run -------------------------------
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 "--disable-gpu", "--disable-background-networking"]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent")


@pytest.fixture(scope="module")
def twin_home(tmp_path_factory) -> Path:
    """A fresh ``TWIN_HOME`` (audit log and data) for the module's servers."""
    home = tmp_path_factory.mktemp("twin_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TWIN_HOME", str(home))
        yield home


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless with software WebGL, driven by Playwright (never a downloaded one)."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# --- live: one private Mosquitto per run (the Debian package), skipped when it is not installed ------
@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory):
    """A running :class:`live.broker.Broker` on a free localhost port, persistence in a tmp folder."""
    from live.broker import Broker, mosquitto_binary
    from twin.errors import InputError

    try:
        mosquitto_binary()
    except InputError as exc:
        pytest.skip(str(exc))
    with Broker(tmp_path_factory.mktemp("mosquitto")) as broker:
        yield broker


# --- the demo park, live on that Mosquitto and served ----------------------------------------------
@pytest.fixture(scope="module")
def demo():
    """The compiled demo park."""
    from twin.cache import compile_scene

    return compile_scene(DEMO)


@pytest.fixture(scope="module")
def live(demo, mosquitto, twin_home, tmp_path_factory):
    """The demo's live side on the run's Mosquitto (no simulator: the tests publish as the devices)."""
    from live.runtime import Live
    from twin.scene import read_scene

    with Live(demo, read_scene(DEMO).live, broker_url=mosquitto.url, folder=tmp_path_factory.mktemp("live")) as running:
        assert running.ingest.wait_ready(10)
        yield running


@pytest.fixture(scope="module")
def server(demo, live):
    """The app and API of the demo park with its live side, on a free localhost port."""
    from twin.web.server import BackgroundServer

    with BackgroundServer(demo, live=live) as running:
        yield running
