"""`python -m kiosk --server URL --token T [--printer SPEC] [--fullscreen] [--screenshot FILE]`

Runs the ticket kiosk: a pygame touch screen (mouse works too), the ESC/POS printer, and
optional GPIO service buttons. `--screenshot FILE` renders the current screen to a PNG and exits
(for support and for tests).
"""

from __future__ import annotations

import argparse
import sys
import time

import pygame

from hall import logs
from hardware.printer import open_printer
from kiosk.kiosk import Kiosk
from kiosk.screen import Screen

FPS = 20
# Keys a barcode reader ends a code with, and the one that takes a digit back.
KEYS = {pygame.K_RETURN: "\r", pygame.K_KP_ENTER: "\r", pygame.K_BACKSPACE: "\b"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m kiosk", description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True, help="the server's URL, e.g. http://10.0.0.2:8080")
    p.add_argument("--token", required=True, help="this kiosk's device token from the config")
    p.add_argument("--printer", default="dummy",
                   help="usb:VID:PID | serial:/dev/ttyUSB0 | network:HOST[:PORT] | "
                        "file:/dev/usb/lp0 | dummy (default)")
    p.add_argument("--paper", type=int, choices=(58, 80), default=80, help="paper width, mm")
    p.add_argument("--printer-profile", help="a python-escpos profile name, e.g. TM-T20II")
    p.add_argument("--raster-qr", action="store_true",
                   help="draw the QR as an image (printers without native QR)")
    p.add_argument("--buttons", default="",
                   help="GPIO service buttons, e.g. pay=17,account=27 (BCM pin numbers)")
    p.add_argument("--fullscreen", action="store_true")
    p.add_argument("--portrait", action="store_true", help="a portrait window (720x1280)")
    p.add_argument("--size", help="window size WxH (default 1280x720, or 720x1280 portrait)")
    p.add_argument("--screenshot", metavar="FILE", help="render the current screen and exit")
    p.add_argument("--wait", type=float, default=5.0,
                   help="with --screenshot: seconds to wait for the server (default 5)")
    return p.parse_args(argv)


def window_size(args: argparse.Namespace) -> tuple[int, int]:
    if args.size:
        w, _, h = args.size.lower().partition("x")
        return int(w), int(h)
    return (720, 1280) if args.portrait else (1280, 720)


def parse_buttons(text: str) -> dict[int, str]:
    pins: dict[int, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        service, _, pin = part.partition("=")
        if not (pin.isascii() and pin.isdigit() and len(pin) <= 2):  # a BCM pin, 0–27
            raise SystemExit(f"--buttons: expected service=PIN, got {part!r}")
        pins[int(pin)] = service
    return pins


def screenshot(kiosk: Kiosk, args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline and not (kiosk.live.connected and kiosk.live.state):
        time.sleep(0.05)
    kiosk.check_printer()
    surface = pygame.Surface(window_size(args))
    Screen().draw(surface, kiosk.view())
    pygame.image.save(surface, args.screenshot)
    print(f"saved {args.screenshot} ({kiosk.view().screen})")
    return 0


def run(kiosk: Kiosk, args: argparse.Namespace) -> int:
    pygame.display.init()
    pygame.display.set_caption("HallQ kiosk")
    if args.fullscreen:
        surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
        pygame.mouse.set_visible(False)
    else:
        surface = pygame.display.set_mode(window_size(args), pygame.RESIZABLE)
    screen = Screen()
    ticks = pygame.time.Clock()
    drawn: tuple | None = None
    while True:
        view = kiosk.view()
        # Redraw only when something shown changed (a Pi's CPU stays free for the rest); draw
        # before reading touches, so a touch is matched against the frame the customer sees.
        key = (surface.get_size(), time.strftime("%H:%M"), view.screen, view.lang,
               view.state and view.state["seq"], view.ticket and view.ticket["id"],
               repr(view.error), view.print_problem, view.printer, view.retrying, view.code)
        if key != drawn:
            screen.draw(surface, view)
            pygame.display.flip()
            drawn = key
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN
                                             and event.key == pygame.K_ESCAPE
                                             and not args.fullscreen):
                return 0
            # Touches arrive as mouse clicks too (SDL), so only clicks are handled: one tap,
            # one action.
            if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
                kiosk.tap(screen.hit(event.pos))
            if event.type == pygame.KEYDOWN:  # a keyboard, or a barcode reader typing a code
                kiosk.key(KEYS.get(event.key, event.unicode))
            if event.type == pygame.VIDEORESIZE and not args.fullscreen:
                surface = pygame.display.set_mode(event.size, pygame.RESIZABLE)
                drawn = None
            if event.type in (pygame.VIDEOEXPOSE, pygame.WINDOWEXPOSED):
                drawn = None
        ticks.tick(FPS)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs.setup()
    try:
        printer = open_printer(args.printer, width_mm=args.paper, profile=args.printer_profile,
                               native_qr=False if args.raster_qr else None)
    except ValueError as error:
        print(f"--printer: {error}", file=sys.stderr)
        return 2
    kiosk = Kiosk(args.server, args.token, printer)
    buttons = None
    try:
        if args.screenshot:
            kiosk.start(watch_printer=False)
            return screenshot(kiosk, args)
        kiosk.start()
        pins = parse_buttons(args.buttons)
        if pins:
            from hardware.kiosk_buttons import ServiceButtons

            buttons = ServiceButtons(pins, kiosk.request_ticket)
        return run(kiosk, args)
    finally:
        if buttons:
            buttons.close()
        kiosk.stop()
        pygame.quit()


if __name__ == "__main__":
    sys.exit(main())
