import os
from pathlib import Path

import pytest

# Headless SDL for every test that touches pygame; gpiozero's mock pins.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")

from support import FakeClock, ServerProcess

from hall.config import load_config
from hall.hall import Hall
from hall.store import Store

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
    return Hall(demo_config, Store(tmp_path / "hall.db"), clock=clock)


@pytest.fixture
def server(tmp_path):
    """The real server in its own process on loopback, running the demo hall."""
    srv = ServerProcess(tmp_path / "hall.db").start()
    yield srv
    srv.stop()
