"""HallQ as a package: `pip install .` gives every program as a console script, with the pages'
templates and static files, and the installed server runs away from the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from support import ROOT, free_port

SCRIPTS = ("hallq-server", "hallq-kiosk", "hallq-display", "hallq-counter-box",
           "hallq-evaluator", "hallq-voicepack", "hallq-region")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this tree, installed on its own (its dependencies are the test
    environment's)."""
    tmp = tmp_path_factory.mktemp("package")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp),
                    str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp.glob("hallq-*.whl"))
    target = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, timeout=300)
    return target


def run_env(site: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(site), "SDL_VIDEODRIVER": "dummy",
            "SDL_AUDIODRIVER": "dummy"}


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_program_is_a_console_script(installed, script):
    done = subprocess.run([str(installed / "bin" / script), "--help"], cwd=installed.parent,
                          env=run_env(installed), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_the_region_server_carries_its_migrations(installed):
    migrations = installed / "region" / "migrations"
    assert {p.name for p in migrations.glob("*.sql")} >= {
        "0001.initial.sql", "0001.initial.rollback.sql", "0002.ingest.sql"}


def test_the_installed_server_serves_its_pages_away_from_the_source_tree(installed, tmp_path):
    port = free_port()
    proc = subprocess.Popen([str(installed / "bin" / "hallq-server"), "--db",
                             str(tmp_path / "hall.db"), "--port", str(port)], cwd=tmp_path,
                            env=run_env(installed), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
            time.sleep(0.2)
        for path in ("/", "/dashboard", "/counter", "/static/hallq.js",
                     "/static/vendor/socket.io.min.js", "/static/favicon.svg"):
            assert requests.get(url + path, timeout=5).status_code == 200, path
        assert requests.get(url + "/api/v1/state", timeout=5).json()["hall"]["name"]
    finally:
        proc.terminate()
        proc.wait(10)
