"""The voice: calls are queued and announced one after another, each to its end.

`announce(call, languages)` returns at once (it is called from the Socket.IO thread); a worker
thread builds the announcement (chime, then the call in each language, `repeat` times) as one
PCM buffer, plays it and waits until it has played out before taking the next call. A burst of
calls is therefore a queue of complete announcements, never one cutting another.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from pathlib import Path

from display import pcm
from display.voicepack import Announcement, VoicePack, VoicePackError, assemble

log = logging.getLogger("hallq.voice")

PLAY_TIMEOUT_MARGIN = 5.0  # seconds beyond the buffer's length before we stop waiting
PLAYED_KEPT = 10  # the last announcements, for logs and tests (each holds ~1 MB of sound)


def load_pack(path: Path | str | None, sample_rate: int) -> VoicePack | None:
    """The pack at `path`, or None (chime only) with a log line saying why."""
    if path is None:
        log.warning("voice off: no voice pack given; calls get the chime only")
        return None
    try:
        pack = VoicePack.load(path, sample_rate)
    except VoicePackError as error:
        log.warning("voice pack not usable, calls get the chime only: %s", error)
        return None
    log.info("voice pack %r from %s: %s", pack.name, path, ", ".join(pack.languages))
    return pack


class Announcer:
    def __init__(self, speaker, pack: VoicePack | None, repeat: int = 2,
                 languages: list[str] | None = None) -> None:
        if repeat < 1:
            raise ValueError("repeat must be at least 1")
        self.speaker = speaker
        self.pack = pack
        self.repeat = repeat
        self.languages = languages  # None: the hall's languages, in the hall's order
        self.sample_rate = speaker.sample_rate
        self.chime = pcm.chime(self.sample_rate)
        self.played: deque[tuple[dict, Announcement]] = deque(maxlen=PLAYED_KEPT)
        # seconds from announce() to the buffer handed to the speaker
        self.latencies: deque[float] = deque(maxlen=1000)
        self._queue: queue.Queue = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def start(self) -> Announcer:
        self._thread = threading.Thread(target=self._run, name="hallq-voice", daemon=True)
        self._thread.start()
        return self

    def announce(self, call: dict, languages: list[str] | None = None) -> None:
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._queue.put((call, list(self.languages or languages or ["zh", "en"]),
                         time.perf_counter()))

    def build(self, call: dict, languages: list[str]) -> Announcement:
        return assemble(call, self.pack, self.chime, self.sample_rate, languages, self.repeat)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once every queued call has been played to its end."""
        return self._idle.wait(timeout)

    def stop(self) -> None:
        """Stop now, mid-announcement if need be (the program is closing)."""
        self._stopping = True
        self._queue.put(None)
        self.speaker.stop()
        if self._thread:
            self._thread.join(5)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None or self._stopping:
                return
            call, languages, queued_at = item
            try:
                self._play(call, languages, queued_at)
            except Exception:  # one bad call must not silence the hall for the rest of the day
                log.exception("announcing %s failed", call.get("number"))
            with self._lock:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

    def _play(self, call: dict, languages: list[str], queued_at: float) -> None:
        announcement = self.build(call, languages)
        self.speaker.play(announcement.pcm)
        self.latencies.append(time.perf_counter() - queued_at)
        log.info("announcing %s → window %s (%.1f s): %s", call["number"], call["window"],
                 announcement.duration, announcement.text)
        if not self.speaker.wait(announcement.duration + PLAY_TIMEOUT_MARGIN):
            log.warning("the sound device did not finish %s in time", call["number"])
        self.played.append((call, announcement))
