"""The display against the real server: a clerk's call over HTTP reaches the display's model
(through client.live.LiveHall), is shown and spoken; the display survives a server restart; the
program itself draws a screenshot of the live hall."""

from __future__ import annotations

import subprocess
import sys

import pygame
import pytest
from support import DISPLAY, ROOT, wait_until
from voice_support import make_pack

from display.announcer import Announcer
from display.app import connect
from display.model import DisplayModel
from display.render import Renderer
from display.view import build_screen
from display.voicepack import VoicePack
from hardware.sound import RecordingSpeaker


@pytest.fixture
def display(server, tmp_path):
    """A display's model and voice on a live connection (sound recorded, not played)."""
    speaker = RecordingSpeaker()
    announcer = Announcer(speaker, VoicePack.load(make_pack(tmp_path / "pack"), 22050),
                          repeat=1).start()
    model = DisplayModel(say=announcer.announce)
    live = connect(model, server.url, DISPLAY)
    live.wait_for_state(10)
    wait_until(lambda: model.connected)
    yield model, announcer, live
    live.stop()
    announcer.stop()


def current_number(model: DisplayModel) -> str | None:
    state, connected = model.snapshot()
    screen = build_screen(state, connected, model.server_time(), model.highlighted)
    return screen.current.number if screen.current else None


def test_a_call_made_at_the_counter_is_shown_and_spoken(server, display, artifacts):
    model, announcer, _ = display
    clerk = server.login("1001", "1234", 1)
    server.issue("pay")
    r = server.post("/api/v1/windows/1/call-next", token=clerk)
    assert r.status_code == 200, r.text
    wait_until(lambda: current_number(model) == "A001")
    # the `window` event of the same command may come a moment after `called`
    wait_until(lambda: model.snapshot()[0]["windows"][0]["status"] == "calling")
    state, connected = model.snapshot()
    screen = build_screen(state, connected, model.server_time(), model.highlighted)
    assert screen.current.highlight > 0 and screen.current.window == 1
    assert screen.windows[0].kind == "calling" and screen.windows[0].ticket == "A001"
    assert "王芳" not in screen.all_text()  # the clerk's name never reaches the wall
    assert announcer.wait_idle(10)
    (call, announcement), = announcer.played
    assert call["number"] == "A001"
    assert announcement.labels[:6] == ["chime", "zh:请", "zh:A", "zh:0", "zh:0", "zh:1"]

    server.post("/api/v1/windows/1/recall", token=clerk)
    wait_until(lambda: len(announcer.played) == 2, timeout=10)
    assert announcer.played[1][0]["recalls"] == 1

    pygame.display.init()
    try:
        surface = pygame.Surface((1920, 1080))
        state, connected = model.snapshot()
        Renderer((1920, 1080)).draw(surface, build_screen(state, connected, model.server_time(),
                                                          model.highlighted), 0.0)
        pygame.image.save(surface, str(artifacts / "display-live.png"))
    finally:
        pygame.display.quit()


def test_server_restart_goes_offline_keeps_the_state_and_resyncs(server, display):
    model, announcer, _ = display
    clerk = server.login("1002", "2345", 2)
    server.issue("pay")
    server.issue("pay")
    server.post("/api/v1/windows/2/call-next", token=clerk)
    wait_until(lambda: current_number(model) == "A001")

    server.kill()
    wait_until(lambda: not model.connected, timeout=15)
    state, connected = model.snapshot()
    screen = build_screen(state, connected, model.server_time())
    assert screen.offline and screen.current.number == "A001"  # the last state stays

    server.start()
    server.post("/api/v1/windows/2/finish", token=clerk)
    server.post("/api/v1/windows/2/call-next", token=clerk)  # maybe before the display is back
    wait_until(lambda: model.connected, timeout=15)
    wait_until(lambda: current_number(model) == "A002", timeout=10)
    assert announcer.wait_idle(10)
    # spoken once each, whether A002 came as an event or in the snapshot after reconnecting
    assert [c["number"] for c, _ in announcer.played] == ["A001", "A002"]


def test_the_program_draws_a_screenshot_of_the_live_hall(server, artifacts):
    clerk = server.login("1003", "3456", 3)
    server.issue("account")
    server.post("/api/v1/windows/3/call-next", token=clerk)
    out = artifacts / "display-program.png"
    result = subprocess.run(
        [sys.executable, "-m", "display", "--server", server.url, "--token", DISPLAY,
         "--screenshot", str(out), "--size", "1280x720", "--no-voice"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    image = pygame.image.load(str(out))
    assert image.get_size() == (1280, 720)


def test_the_program_refuses_bad_options():
    result = subprocess.run([sys.executable, "-m", "display", "--token", "x", "--volume", "3"],
                            cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--volume" in result.stderr
