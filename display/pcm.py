"""Plain-Python PCM helpers (no numpy): read any integer PCM WAV as 16-bit mono at one sample
rate, write WAVs, silence, trimming, and the synthesized chime.

One format throughout: signed 16-bit mono, native byte order in `array("h")`, bytes in
little-endian order (what SDL and WAV files use).
"""

from __future__ import annotations

import math
import sys
import wave
from array import array
from pathlib import Path

BIG_ENDIAN = sys.byteorder == "big"


class WavError(ValueError):
    """A WAV file that cannot be used; the message says which file and why."""


def read_wav(path: Path, sample_rate: int) -> bytes:
    """The clip as 16-bit little-endian mono PCM at `sample_rate`."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except FileNotFoundError:
        raise WavError(f"{path}: file not found") from None
    except (wave.Error, EOFError) as error:
        raise WavError(f"{path}: not a PCM WAV file ({error}); save it as 16-bit PCM WAV") \
            from None
    samples = _to_int16(raw, width, path)
    if channels > 1:
        samples = _downmix(samples, channels)
    samples = resample(samples, rate, sample_rate)
    return to_bytes(samples)


def write_wav(path: Path, pcm: bytes, sample_rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)


def samples_of(pcm: bytes) -> array:
    samples = array("h")
    samples.frombytes(pcm)
    if BIG_ENDIAN:
        samples.byteswap()
    return samples


def to_bytes(samples: array) -> bytes:
    if BIG_ENDIAN:
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def silence(milliseconds: float, sample_rate: int) -> bytes:
    return bytes(2 * round(sample_rate * milliseconds / 1000))


def duration(pcm: bytes, sample_rate: int) -> float:
    return len(pcm) / 2 / sample_rate


def _to_int16(raw: bytes, width: int, path: Path) -> array:
    if width == 2:
        return samples_of(raw)
    if width == 1:  # WAV 8-bit is unsigned
        return array("h", ((b - 128) << 8 for b in raw))
    if width in (3, 4):  # keep the two most significant bytes of each little-endian sample
        top = bytearray()
        for i in range(0, len(raw) - width + 1, width):
            top += raw[i + width - 2:i + width]
        return samples_of(bytes(top))
    raise WavError(f"{path}: {8 * width}-bit samples are not supported; use 16-bit PCM")


def _downmix(samples: array, channels: int) -> array:
    return array("h", (sum(samples[i:i + channels]) // channels
                       for i in range(0, len(samples) - channels + 1, channels)))


def resample(samples: array, source_rate: int, target_rate: int) -> array:
    """Linear interpolation: plenty for speech clips, and done once when a pack loads."""
    if source_rate == target_rate or not samples:
        return samples
    count = max(1, int(len(samples) * target_rate / source_rate))
    step = source_rate / target_rate
    last = len(samples) - 1
    out = array("h", bytes(2 * count))
    for i in range(count):
        pos = i * step
        j = int(pos)
        if j >= last:
            out[i] = samples[last]
        else:
            frac = pos - j
            out[i] = int(samples[j] + (samples[j + 1] - samples[j]) * frac)
    return out


def trim(pcm: bytes, sample_rate: int, threshold: int = 300, pad_ms: float = 15) -> bytes:
    """Cut the silence espeak-ng leaves before and after a word, keeping a short margin."""
    samples = samples_of(pcm)
    loud = [i for i, s in enumerate(samples) if abs(s) > threshold]
    if not loud:
        return pcm
    pad = round(sample_rate * pad_ms / 1000)
    start, end = max(0, loud[0] - pad), min(len(samples), loud[-1] + pad)
    return to_bytes(samples[start:end])


def chime(sample_rate: int, volume: float = 0.5) -> bytes:
    """A two-tone "ding-dong" (E6 then C6), bell-like decay; about 1.1 seconds."""
    out = array("h")
    for frequency, seconds in ((1318.5, 0.45), (1046.5, 0.65)):
        n = round(sample_rate * seconds)
        for i in range(n):
            t = i / sample_rate
            envelope = math.exp(-4.5 * t) * min(1.0, i / (0.004 * sample_rate))
            tone = math.sin(2 * math.pi * frequency * t) + 0.3 * math.sin(
                4 * math.pi * frequency * t)
            out.append(int(32767 * volume * envelope * tone / 1.3))
    return to_bytes(out)
