import os
from pathlib import Path

import pytest

# Headless SDL for every test that touches pygame; gpiozero's mock pins.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")

from support import FakeClock, ServerProcess, migrated

from hall.config import load_config
from hall.hall import Hall
from hall.store import Store

pytest_plugins = ["pg_support"]  # a real PostgreSQL: `postgres`, `region_dsn`

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def artifacts() -> Path:
    """Where tests save screenshots and renders for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def demo_config():
    return load_config()


@pytest.fixture
def hall(tmp_path, demo_config, clock) -> Hall:
    """The demo hall on a real SQLite file, with a clock the test moves."""
    return Hall(demo_config, Store(migrated(tmp_path / "hall.db")), clock=clock)


@pytest.fixture
def server(tmp_path):
    """The real server in its own process on loopback, running the demo hall."""
    srv = ServerProcess(tmp_path / "hall.db").start()
    yield srv
    srv.stop()


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright (no browser download), one for the whole run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
