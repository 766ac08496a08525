"""Voice packs: the default pack generated with espeak-ng, the format a hall records into, and a
call assembled into one buffer (clip order and length checked)."""

from __future__ import annotations

import logging
import math
import wave
from array import array

import pytest
from voice_support import make_pack

from display import pcm
from display.announcer import load_pack
from display.voicepack import (
    CHIME_PAUSE_MS,
    TAIL_MS,
    VoicePack,
    VoicePackError,
    assemble,
    build_default,
    cardinal,
    main,
)

RATE = 22050
CALL = {"number": "A001", "window": 3}


@pytest.fixture(scope="module")
def default_pack(tmp_path_factory):
    return build_default(tmp_path_factory.mktemp("voice") / "default")


def test_default_pack_is_generated_offline_with_espeak(default_pack):
    pack = VoicePack.load(default_pack, RATE)
    assert set(pack.languages) == {"zh", "en"}
    zh = pack.languages["zh"]
    for token in ["请", "号", "到", "号窗口", "十", *"0123456789", *"ABCDEFG"]:
        assert token in zh.clips, token
        # a spoken word, trimmed: neither empty nor a second of silence
        assert 0.1 < pcm.duration(zh.clips[token], RATE) < 1.2, token
    with wave.open(str(default_pack / "zh" / "qing.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)


def test_call_assembled_from_the_default_pack_in_order(default_pack):
    pack = VoicePack.load(default_pack, RATE)
    chime = pcm.chime(RATE)
    a = assemble(CALL, pack, chime, RATE, ["zh", "en"], repeat=1)
    assert a.labels == ["chime", "zh:请", "zh:A", "zh:0", "zh:0", "zh:1", "zh:号", "zh:到",
                        "zh:3", "zh:号窗口", "en:Number", "en:A", "en:0", "en:0", "en:1",
                        "en:please go to window", "en:3"]
    # every clip sits in the buffer unchanged, where the parts list says
    for label, start, length in a.parts:
        expected = chime if label == "chime" else pack.languages[label[:2]].clips[label[3:]]
        assert a.pcm[start:start + length] == expected, label
    # length = the clips + the pauses between them, nothing lost or added
    clips = sum(length for _, _, length in a.parts)
    silences = (CHIME_PAUSE_MS + 8 * pack.gap_ms + pack.pause_ms + 6 * pack.gap_ms + TAIL_MS)
    assert a.duration == pytest.approx(clips / 2 / RATE + silences / 1000, abs=0.002)
    zh_start, zh_end = a.parts[1][1], a.parts[9][1] + a.parts[9][2]
    assert 1.5 < (zh_end - zh_start) / 2 / RATE < 6  # 请 A 零零一 号 到 三 号窗口
    assert a.text.startswith("请 A 0 0 1 号 到 3 号窗口 | Number A 0 0 1")


def test_window_numbers_read_as_numbers():
    assert cardinal(3, "zh") == ["3"]
    assert cardinal(10, "zh") == ["十"]
    assert cardinal(12, "zh") == ["十", "2"]
    assert cardinal(20, "zh") == ["2", "十"]
    assert cardinal(23, "zh") == ["2", "十", "3"]
    assert cardinal(12, "en") == ["12"]
    assert cardinal(23, "en") == ["20", "3"]
    assert cardinal(120, "zh") is None


def test_four_digit_numbers_are_read_sign_by_sign_too(tmp_path):
    pack = VoicePack.load(make_pack(tmp_path / "p"), RATE)
    assert pack.text("AB1000", 3, "zh") == "请 A B 1 0 0 0 号 到 3 号窗口"


def test_window_falls_back_to_digits_without_a_clip(tmp_path):
    pack = VoicePack.load(make_pack(tmp_path / "p"), RATE)
    assert pack.text("B012", 12, "zh") == "请 B 0 1 2 号 到 十 2 号窗口"
    assert pack.text("B012", 34, "en") == "Number B 0 1 2 please go to window 3 4"  # no "30" clip


def test_repeat_says_the_call_again_after_one_chime(tmp_path):
    pack = VoicePack.load(make_pack(tmp_path / "p"), RATE)
    a = assemble(CALL, pack, pcm.chime(RATE), RATE, ["zh"], repeat=2)
    zh = ["zh:请", "zh:A", "zh:0", "zh:0", "zh:1", "zh:号", "zh:到", "zh:3", "zh:号窗口"]
    assert a.labels == ["chime", *zh, *zh]


def test_languages_follow_the_given_order(tmp_path):
    pack = VoicePack.load(make_pack(tmp_path / "p"), RATE)
    a = assemble(CALL, pack, pcm.chime(RATE), RATE, ["en", "zh", "fr"], repeat=1)
    assert a.labels[1] == "en:Number" and a.labels[-1] == "zh:号窗口"


def test_no_pack_means_chime_only_and_a_log_line(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="hallq.voice"):
        assert load_pack(tmp_path / "missing", RATE) is None
    assert "chime only" in caplog.text and "voicepack build" in caplog.text
    a = assemble(CALL, None, pcm.chime(RATE), RATE, ["zh", "en"])
    assert a.labels == ["chime"]


def test_a_letter_without_a_clip_gives_the_chime_and_says_why(tmp_path, caplog):
    pack = VoicePack.load(make_pack(tmp_path / "p"), RATE)
    with caplog.at_level(logging.WARNING, logger="hallq.voice"):
        a = assemble({"number": "Z001", "window": 2}, pack, pcm.chime(RATE), RATE, ["zh"])
    assert a.labels == ["chime"]
    assert "no clip for Z" in caplog.text


def test_a_human_recording_at_another_rate_and_in_stereo_is_converted(tmp_path):
    root = make_pack(tmp_path / "p")
    stereo = array("h", [1000, 3000] * 4410)  # 0.1 s at 44.1 kHz, left and right
    with wave.open(str(root / "zh" / "0.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(pcm.to_bytes(stereo))
    clip = VoicePack.load(root, RATE).languages["zh"].clips["0"]
    samples = pcm.samples_of(clip)
    assert len(samples) == 2205  # 0.1 s at 22.05 kHz
    assert set(samples[200:-200]) <= {1999, 2000, 2001}  # the two channels averaged


def tone(frequency: float, rate: int, seconds: float = 0.5, amplitude: int = 10000) -> array:
    return array("h", (round(amplitude * math.sin(2 * math.pi * frequency * i / rate))
                       for i in range(int(rate * seconds))))


def rms(samples) -> float:
    middle = samples[len(samples) // 10:-len(samples) // 10]  # past the filter's edges
    return math.sqrt(sum(x * x for x in middle) / len(middle))


def write_clip(path, samples: array, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.to_bytes(samples))


@pytest.mark.parametrize("frequency, kept", [(15000, False), (1000, True)])
def test_a_48_khz_recording_is_resampled_without_aliasing(tmp_path, frequency, kept):
    """15 kHz cannot exist at 22.05 kHz: a filter removes it, where interpolating samples
    folded it back as a 7 kHz tone at 72%. Speech (1 kHz) passes unchanged."""
    root = make_pack(tmp_path / "p")
    original = tone(frequency, 48000)
    write_clip(root / "zh" / "0.wav", original, 48000)
    out = pcm.samples_of(VoicePack.load(root, RATE).languages["zh"].clips["0"])
    assert len(out) == RATE // 2
    decibels = 20 * math.log10(max(rms(out), 1e-9) / rms(original))
    assert decibels > -0.5 if kept else decibels < -40


def test_check_stores_every_clip_at_the_playback_rate_and_keeps_the_recording(tmp_path, capsys):
    root = make_pack(tmp_path / "p")
    write_clip(root / "zh" / "0.wav", tone(1000, 48000), 48000)
    assert main(["check", str(root), "--rate", str(RATE)]) == 0
    with wave.open(str(root / "zh" / "0.wav"), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
    with wave.open(str(root / "originals" / "zh" / "0.wav"), "rb") as w:
        assert w.getframerate() == 48000
    assert "zh/0.wav: 48000 Hz" in capsys.readouterr().out
    assert main(["check", str(root), "--rate", str(RATE)]) == 0  # again: nothing to do
    assert "converted" not in capsys.readouterr().out


@pytest.mark.parametrize(("change", "message"), [
    (lambda root: (root / "manifest.toml").unlink(), "no manifest.toml"),
    (lambda root: (root / "zh" / "7.wav").unlink(), "clip zh:7"),
    (lambda root: (root / "zh" / "7.wav").write_bytes(b"not a wav"), "not a PCM WAV"),
    (lambda root: _edit(root, '"7" = "zh/', '"x7" = "zh/'), "no clip for 7"),
    (lambda root: _edit(root, "format = 1", "format = 2"), "format must be 1"),
    (lambda root: _edit(root, 'say = ["请"', 'say = 5 #'), "`say` must be a list"),
    (lambda root: _edit(root, "format = 1", "format = = 1"), "manifest.toml"),
])
def test_a_broken_pack_is_refused_with_the_reason(tmp_path, change, message):
    root = make_pack(tmp_path / "p")
    change(root)
    with pytest.raises(VoicePackError, match=message):
        VoicePack.load(root, RATE)


def _edit(root, old, new):
    path = root / "manifest.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")


def test_say_command_writes_the_call_as_a_wav(tmp_path, capsys):
    root = make_pack(tmp_path / "p")
    out = tmp_path / "call.wav"
    assert main(["say", str(root), "B012", "12", "--out", str(out)]) == 0
    with wave.open(str(out)) as w:
        assert w.getframerate() == RATE and w.getnframes() > RATE  # chime alone is ~1.1 s
    assert "请 B 0 1 2 号 到 十 2 号窗口" in capsys.readouterr().out


def test_build_refuses_to_overwrite_without_force(default_pack):
    with pytest.raises(VoicePackError, match="--force"):
        build_default(default_pack)
