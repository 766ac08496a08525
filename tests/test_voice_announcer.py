"""The announcement queue: every call spoken, in order, to its end; recalls spoken again; calls
missed while offline shown but only spoken while fresh.

The burst test plays through the real pygame.mixer with SDL's `disk` audio driver, which writes
the mixed output stream to a file: each announcement must be found there whole, in order.
"""

from __future__ import annotations

import pygame
import pytest
from display_support import Scene
from support import wait_until
from voice_support import make_pack

from display.announcer import Announcer
from display.model import DisplayModel
from display.view import build_screen
from display.voicepack import VoicePack
from hardware.sound import RecordingSpeaker, Speaker

RATE = 22050


def called(number: str, window: int, at: str = "2026-11-23T09:30:00+08:00",
           recalls: int = 0, seq: int = 1) -> dict:
    return {"seq": seq, "number": number, "service": "pay", "priority": "normal",
            "window": window, "window_name": {"zh": f"{window}号窗口", "en": f"Window {window}"},
            "recalls": recalls, "at": at}


@pytest.fixture
def disk_speaker(tmp_path, monkeypatch):
    """pygame.mixer on SDL's disk driver, running faster than real time (1 ms per buffer)."""
    out = tmp_path / "audio.raw"
    monkeypatch.setenv("SDL_AUDIODRIVER", "disk")
    monkeypatch.setenv("SDL_DISKAUDIOFILE", str(out))
    monkeypatch.setenv("SDL_DISKAUDIODELAY", "1")
    pygame.mixer.quit()
    speaker = Speaker(sample_rate=RATE, volume=1.0, buffer=512)
    yield speaker, out
    speaker.close()


def test_a_burst_of_five_calls_is_five_complete_announcements_in_order(tmp_path, disk_speaker):
    speaker, out = disk_speaker
    pack = VoicePack.load(make_pack(tmp_path / "pack"), RATE)
    announcer = Announcer(speaker, pack, repeat=1).start()
    burst = [called(f"A00{i}", window, seq=i) for i, window in
             zip(range(1, 6), [1, 2, 3, 1, 12], strict=True)]
    for call in burst:  # all within the same instant
        announcer.announce(call, ["zh", "en"])
    assert announcer.wait_idle(60)
    announcer.stop()
    speaker.close()  # SDL writes out and closes the stream file
    assert [c["number"] for c, _ in announcer.played] == ["A001", "A002", "A003", "A004", "A005"]
    stream = out.read_bytes()
    position = 0
    for call, announcement in announcer.played:
        # the whole buffer reached the sound device, untouched, after the one before it
        found = stream.find(announcement.pcm, position)
        assert found >= 0, f"{call['number']} not played completely after byte {position}"
        position = found + len(announcement.pcm)
    last = announcer.played[-1][1]
    assert last.labels[-2:] == ["en:please go to window", "en:12"]
    assert "zh:十" in last.labels


def test_announcements_wait_for_the_one_playing(tmp_path):
    speaker = RecordingSpeaker(hold=True)
    announcer = Announcer(speaker, VoicePack.load(make_pack(tmp_path / "p"), RATE)).start()
    announcer.announce(called("A001", 1), ["zh"])
    announcer.announce(called("A002", 2), ["zh"])
    assert not announcer.wait_idle(0.3)
    assert len(speaker.played) == 1  # A002 waits: A001 is not cut
    speaker.finish()  # A001 played out: now A002
    wait_until(lambda: len(speaker.played) == 2)
    speaker.finish()
    assert announcer.wait_idle(5)
    announcer.stop()
    assert [c["number"] for c, _ in announcer.played] == ["A001", "A002"]


def test_a_recall_is_announced_again_and_a_repeat_delivery_is_not():
    spoken = []
    model = DisplayModel(say=lambda call, languages: spoken.append(call))
    model.on_state(state_with([], now="2026-11-23T09:30:00+08:00"))
    model.on_event("called", called("A001", 3, seq=1))
    model.on_event("called", called("A001", 3, recalls=1, at="2026-11-23T09:30:40+08:00", seq=2))
    # the same calls again in a snapshot after a resync: already announced
    model.on_state(state_with([called("A001", 3, recalls=1, at="2026-11-23T09:30:40+08:00"),
                               called("A001", 3)], now="2026-11-23T09:30:50+08:00"))
    assert [(c["number"], c["recalls"]) for c in spoken] == [("A001", 0), ("A001", 1)]
    assert model.highlighted(spoken[1]) > 0


def test_after_a_reconnect_old_calls_are_shown_not_spoken(hall, clock):
    """Calls made while the display was cut off: the new snapshot brings them; only those
    younger than a minute are spoken."""
    spoken = []
    model = DisplayModel(say=lambda call, languages: spoken.append(call["number"]))
    scene = Scene(hall).open(1, 2).issue("pay", 3)
    model.on_state(hall.state())
    model.on_connection(True)
    scene.do(1, "call-next")
    model.on_event("called", hall.state()["recent_calls"][0] | {"seq": 0})
    model.on_connection(False)  # the network goes away ...
    clock.advance(minutes=1)
    scene.do(2, "call-next")  # ... A002 is called (and will be 2 minutes old) ...
    clock.advance(minutes=1, seconds=30)
    scene.do(1, "finish").do(1, "call-next")  # ... A003 just now
    clock.advance(seconds=20)
    model.on_state(hall.state())  # back: the snapshot sent on reconnect
    model.on_connection(True)
    assert spoken == ["A001", "A003"]
    assert [c["number"] for c in model.shown_only] == ["A002"]
    screen = build_screen(*model.snapshot(), hall.clock(), model.highlighted)
    assert screen.current.number == "A003"
    assert [c.number for c in screen.history] == ["A002", "A001"]


def test_without_a_pack_every_call_still_gets_the_chime():
    speaker = RecordingSpeaker()
    announcer = Announcer(speaker, None).start()
    announcer.announce(called("A001", 1), ["zh", "en"])
    assert announcer.wait_idle(5)
    announcer.stop()
    (_, announcement), = announcer.played
    assert announcement.labels == ["chime"] and speaker.played == [announcement.pcm]


def test_volume_is_handed_to_the_mixer(tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    pygame.mixer.quit()
    speaker = Speaker(volume=0.3)
    try:
        speaker.play(bytes(2000))
        assert speaker._sound.get_volume() == pytest.approx(0.3, abs=0.01)
        assert speaker.wait(5)
    finally:
        speaker.close()
    with pytest.raises(ValueError):
        Speaker(volume=1.5)


def state_with(calls: list[dict], now: str) -> dict:
    return {"seq": 1, "now": now, "hall": {"languages": ["zh", "en"]}, "services": [],
            "windows": [], "recent_calls": [{k: v for k, v in c.items() if k != "seq"}
                                            for c in calls]}


def test_stopping_cuts_the_announcement_short_and_ends_the_thread(tmp_path):
    speaker = RecordingSpeaker(hold=True)  # "plays" until told otherwise
    announcer = Announcer(speaker, None).start()
    announcer.announce(called("A001", 1), ["zh"])
    announcer.announce(called("A002", 1), ["zh"])
    wait_until(lambda: len(speaker.played) == 1)
    announcer.stop()
    assert not announcer._thread.is_alive()
    assert len(speaker.played) == 1  # A002 was not started on the way out
