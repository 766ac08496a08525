"""A device whose token the server refuses says so, on its screen and in its log, distinct from
"server unreachable", and stops hammering the server (issue 15, "Devices say why").

The kiosk and display screens are rendered to test-artifacts/*-token-refused.png: look at them.
"""

from __future__ import annotations

import itertools
import logging
import time

import pygame
import pytest
from display_support import busy_hall
from escpos.printer import Dummy
from support import DISPLAY, KIOSK, wait_until

from client import live as live_module
from client.live import TOKEN_REFUSED, LiveHall
from display.model import DisplayModel
from display.render import Renderer
from display.view import build_screen
from hardware.printer import TicketPrinter
from kiosk.kiosk import Kiosk
from kiosk.screen import Screen

WRONG = "demo-kiosk-1-token-typo"


def test_a_refused_token_is_told_apart_from_an_unreachable_server(server, caplog):
    reasons: list[str] = []
    with caplog.at_level(logging.INFO, logger="hallq.client"):
        live = LiveHall(server.url, token=WRONG, on_refused=reasons.append)
        live.start()
        try:
            wait_until(lambda: live.refused and reasons, timeout=10)
        finally:
            live.stop()
    assert live.refused == reasons[0] and "Token refused" in live.refused
    assert not live.connected and live.state is None
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(TOKEN_REFUSED in line for line in errors)
    assert not any(WRONG in r.getMessage() for r in caplog.records)


def test_a_refused_device_retries_slowly(server, monkeypatch):
    monkeypatch.setattr(live_module, "REFUSED_RETRY_SECONDS", 1.5)
    attempts: list[float] = []
    live = LiveHall(server.url, token=WRONG)
    live.sio.on("connect_error", lambda data=None: (attempts.append(time.monotonic()),
                                                    live._connect_error(data)))
    live.start()
    try:
        time.sleep(4)
    finally:
        live.stop()
    assert 2 <= len(attempts) <= 4, attempts  # not the 0.5–3 s of an unreachable server
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert min(gaps) >= 1.4, gaps


def test_a_good_token_clears_the_refusal(server):
    live = LiveHall(server.url, token=DISPLAY)
    live.refused = "令牌无效"  # as after a refusal, before the token was fixed
    live.start()
    try:
        live.wait_for_state()
        assert live.refused is None
    finally:
        live.stop()


def test_the_kiosk_shows_token_refused(server, artifacts):
    kiosk = Kiosk(server.url, WRONG, TicketPrinter(Dummy(), width_mm=80))
    kiosk.start(watch_printer=False)
    try:
        wait_until(lambda: kiosk.live.refused, timeout=10)
        view = kiosk.view()
        assert view.screen == "token_refused"
        for size, name in (((1280, 720), "kiosk-token-refused.png"),
                           ((720, 1280), "kiosk-token-refused-portrait.png")):
            surface = pygame.Surface(size)
            Screen().draw(surface, view)
            pygame.image.save(surface, str(artifacts / name))
    finally:
        kiosk.stop()
    # A kiosk with its right token and the server gone says "offline", not "token refused".
    kiosk = Kiosk("http://127.0.0.1:9", KIOSK, TicketPrinter(Dummy(), width_mm=80))
    assert kiosk.view().screen == "offline"


def test_the_display_shows_token_refused_before_any_state(server, artifacts):
    model = DisplayModel()
    live = LiveHall(server.url, token=WRONG, on_state=model.on_state,
                    on_connection=model.on_connection, on_refused=model.on_refused)
    live.start()
    try:
        wait_until(lambda: model.refused, timeout=10)
    finally:
        live.stop()
    state, connected = model.snapshot()
    screen = build_screen(state, connected, time.time(), refused=model.refused)
    assert screen.connecting and screen.refused
    assert screen.text("token_refused") == ("令牌无效", "Token refused — check this device's token")
    _render(screen, artifacts / "display-token-refused.png")


@pytest.mark.parametrize("refused", [True, False])
def test_a_display_refused_after_it_had_the_hall_keeps_it_and_says_why(hall, artifacts, refused):
    scene = busy_hall(hall)
    state, _ = scene.model(True).snapshot()
    screen = build_screen(state, False, hall.clock(), refused=refused)
    assert screen.offline and screen.refused is refused and screen.current is not None
    if refused:
        _render(screen, artifacts / "display-token-refused-with-hall.png")


def _render(screen, path) -> None:
    surface = pygame.Surface((1920, 1080))
    Renderer((1920, 1080)).draw(surface, screen, 0.0)
    pygame.image.save(surface, str(path))
