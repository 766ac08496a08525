"""The display program: connects to the server, draws the calling screen, speaks the calls.

    python -m display --server http://127.0.0.1:8080 --token demo-display-1-token
        [--fullscreen] [--size 1280x720] [--screenshot FILE]
        [--voice-pack DIR] [--no-voice] [--repeat 2] [--volume 0.8] [--voice-languages zh,en]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

import pygame

from client.live import LiveHall
from display.announcer import Announcer, load_pack
from display.model import DisplayModel
from display.render import FontMissingError, Renderer
from display.view import build_screen
from hall import logs

log = logging.getLogger("hallq.display")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VOICE_PACK = ROOT / "var" / "voice" / "default"
FPS = 30
SCREENSHOT_WAIT_SECONDS = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m display",
                                description="HallQ lobby display: the calling screen and voice.")
    p.add_argument("--server", default="http://127.0.0.1:8080", help="the central server's URL")
    p.add_argument("--token", required=True, help="this display's device token")
    p.add_argument("--fullscreen", action="store_true", help="fill the TV (desktop resolution)")
    p.add_argument("--size", default="1280x720", type=_size, help="window size, e.g. 1920x1080")
    p.add_argument("--screenshot", type=Path, metavar="FILE",
                   help="connect, draw one frame into FILE (PNG) and exit")
    p.add_argument("--voice-pack", type=Path, default=DEFAULT_VOICE_PACK, metavar="DIR",
                   help=f"voice pack folder (default {DEFAULT_VOICE_PACK})")
    p.add_argument("--no-voice", action="store_true", help="screen only, no sound at all")
    p.add_argument("--repeat", type=int, default=2, help="say each call this many times")
    p.add_argument("--volume", type=float, default=0.8, help="0.0 to 1.0")
    p.add_argument("--voice-languages", type=lambda s: [c for c in s.split(",") if c],
                   help="e.g. zh or zh,en (default: the hall's languages, in its order)")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if not 0 <= args.volume <= 1:
        p.error("--volume must be between 0.0 and 1.0")
    return args


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give WIDTHxHEIGHT, e.g. 1920x1080") from None
    if w < 320 or h < 180:
        raise argparse.ArgumentTypeError(f"{text!r} is too small")
    return w, h


def start_voice(args: argparse.Namespace) -> tuple[object | None, Announcer | None]:
    """The loudspeaker and the announcer; without a sound device the screen still runs."""
    if args.no_voice:
        log.info("voice off (--no-voice)")
        return None, None
    from hardware.sound import Speaker  # only the voice needs the mixer

    try:
        speaker = Speaker(volume=args.volume)
    except pygame.error as error:
        log.warning("no sound device (%s): the screen runs without voice", error)
        return None, None
    pack = load_pack(args.voice_pack, speaker.sample_rate)
    if pack is None:
        log.warning("build the default pack with: python -m display.voicepack build %s",
                     args.voice_pack)
    announcer = Announcer(speaker, pack, repeat=args.repeat, languages=args.voice_languages)
    return speaker, announcer.start()


def connect(model: DisplayModel, server: str, token: str) -> LiveHall:
    live = LiveHall(server, token, on_event=model.on_event, on_state=model.on_state,
                    on_connection=model.on_connection, on_refused=model.on_refused)
    live.start()
    return live


def screenshot(args: argparse.Namespace) -> int:
    """Draw one frame of the live hall into a PNG (for checks and for the README)."""
    os.environ["SDL_VIDEODRIVER"] = "dummy"  # no window: works on a headless Pi or in CI
    model = DisplayModel()
    live = connect(model, args.server, args.token)
    try:
        live.wait_for_state(SCREENSHOT_WAIT_SECONDS)
    except TimeoutError as error:
        log.error("%s", error)
    state, connected = model.snapshot()
    renderer = Renderer(args.size)
    surface = pygame.Surface(args.size)
    renderer.draw(surface, build_screen(state, connected, model.server_time(),
                                        model.highlighted, model.refused), 0.0)
    pygame.image.save(surface, str(args.screenshot))
    live.stop()
    print(f"{args.screenshot}: {args.size[0]}x{args.size[1]}"
          f"{'' if state else ' (no state from the server)'}")
    return 0 if state else 1


def run(args: argparse.Namespace) -> int:
    speaker, announcer = start_voice(args)
    model = DisplayModel(say=announcer.announce if announcer else None)
    live = connect(model, args.server, args.token)
    pygame.display.init()
    if args.fullscreen:
        surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
        pygame.mouse.set_visible(False)
    else:
        surface = pygame.display.set_mode(args.size)
    pygame.display.set_caption("HallQ 叫号屏 · Lobby display")
    renderer = Renderer(surface.get_size())
    clock = pygame.time.Clock()
    stopping = []  # systemd stops us with SIGTERM: leave the loop and close the mixer cleanly
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    try:
        while not stopping and not _quit_requested():
            state, connected = model.snapshot()
            screen = build_screen(state, connected, model.server_time(), model.highlighted,
                                  model.refused)
            renderer.draw(surface, screen, time.monotonic())
            pygame.display.flip()
            clock.tick(FPS)
    except KeyboardInterrupt:
        pass
    finally:
        live.stop()
        if announcer:
            announcer.stop()
        if speaker:
            speaker.close()
        pygame.quit()
    return 0


def _quit_requested() -> bool:
    for event in pygame.event.get():
        if event.type == pygame.QUIT:
            return True
        if event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    logs.setup()
    args = parse_args(argv)
    try:
        if args.screenshot:
            return screenshot(args)
        return run(args)
    except FontMissingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
