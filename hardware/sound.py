"""Sound output: plays one PCM buffer at a time, to the end, through pygame.mixer.

Everything above this module speaks one format only: signed 16-bit little-endian mono PCM at
`sample_rate` (22050 Hz by default, the rate espeak-ng writes). The mixer is opened with
`allowedchanges=0`, so SDL converts to whatever the sound card wants and our buffers never
need to.

Tests use SDL's own drivers: `SDL_AUDIODRIVER=dummy` (plays in real time into nothing) or
`disk` (writes the mixed stream to `SDL_DISKAUDIOFILE`, which a test can read back), or
`RecordingSpeaker`, a double that keeps what it was asked to play.
"""

from __future__ import annotations

import threading
import time

import pygame

SAMPLE_RATE = 22050
POLL_SECONDS = 0.005


class Speaker:
    """The hall's loudspeaker, through pygame.mixer on one reserved channel."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, volume: float = 1.0,
                 buffer: int = 1024) -> None:
        if not 0.0 <= volume <= 1.0:
            raise ValueError(f"volume must be between 0 and 1, not {volume}")
        self.sample_rate = sample_rate
        self.volume = volume
        pygame.mixer.init(frequency=sample_rate, size=-16, channels=1, buffer=buffer,
                          allowedchanges=0)
        pygame.mixer.set_num_channels(1)
        self._channel = pygame.mixer.Channel(0)
        self._sound: pygame.mixer.Sound | None = None

    def play(self, pcm: bytes) -> None:
        """Start playing `pcm` now. The caller waits with `wait()` before the next one, so a
        buffer is never cut off by the one after it."""
        sound = pygame.mixer.Sound(buffer=pcm)
        sound.set_volume(self.volume)
        self._sound = sound  # keep a reference while SDL plays it
        self._channel.play(sound)

    def busy(self) -> bool:
        return bool(self._channel.get_busy())

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current buffer has played to its end; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._channel.get_busy():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(POLL_SECONDS)
        self._sound = None
        return True

    def stop(self) -> None:
        """Silence now (a waiting `wait()` returns)."""
        if pygame.mixer.get_init():
            self._channel.stop()

    def close(self) -> None:
        if pygame.mixer.get_init():
            self._channel.stop()
            pygame.mixer.quit()


class RecordingSpeaker:
    """A test double: keeps every buffer it is asked to play; plays instantly, or blocks in
    `wait()` until the test calls `finish()` when made with `hold=True`."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, volume: float = 1.0,
                 hold: bool = False) -> None:
        self.sample_rate = sample_rate
        self.volume = volume
        self.played: list[bytes] = []
        self.started_at: list[float] = []
        self._hold = hold
        self._done = threading.Event()
        self._done.set()

    def play(self, pcm: bytes) -> None:
        self.started_at.append(time.perf_counter())
        self.played.append(pcm)
        if self._hold:
            self._done.clear()

    def busy(self) -> bool:
        return not self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def finish(self) -> None:
        self._done.set()

    def stop(self) -> None:
        self._done.set()

    def close(self) -> None:
        self._done.set()
