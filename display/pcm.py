"""Plain-Python PCM helpers (no numpy): read a WAV as 16-bit mono at one sample rate (through
sox when it is stored otherwise), write WAVs, silence, trimming, and the synthesized chime.

One format throughout: signed 16-bit mono, native byte order in `array("h")`, bytes in
little-endian order (what SDL and WAV files use).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import wave
from array import array
from pathlib import Path

BIG_ENDIAN = sys.byteorder == "big"


class WavError(ValueError):
    """A WAV file that cannot be used; the message says which file and why."""


def read_wav(path: Path, sample_rate: int) -> bytes:
    """The clip as 16-bit little-endian mono PCM at `sample_rate`. A clip in another format
    (another rate, stereo, 8 or 24 bits) is converted by sox, whose resampler filters out what
    the new rate cannot carry: interpolating samples folds a 15 kHz hiss of a 48 kHz recording
    back into the speech as a 7 kHz whistle."""
    try:
        with wave.open(str(path), "rb") as w:
            form = (w.getnchannels(), w.getsampwidth(), w.getframerate())
            raw = w.readframes(w.getnframes())
    except FileNotFoundError:
        raise WavError(f"{path}: file not found") from None
    except (wave.Error, EOFError) as error:
        raise WavError(f"{path}: not a PCM WAV file ({error}); save it as 16-bit PCM WAV") \
            from None
    if form == (1, 2, sample_rate):
        return raw  # WAV samples are little-endian, as ours
    return convert(path, sample_rate)


def wav_form(path: Path) -> tuple[int, int, int] | None:
    """(channels, bytes per sample, rate) of a WAV file, or None if it is not one."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnchannels(), w.getsampwidth(), w.getframerate()
    except (OSError, wave.Error, EOFError):
        return None


def convert(path: Path, sample_rate: int) -> bytes:
    """Any WAV sox reads, as 16-bit little-endian mono PCM at `sample_rate`."""
    sox = shutil.which("sox")
    if sox is None:
        raise WavError(f"{path}: not 16-bit mono at {sample_rate} Hz, and converting it needs "
                       "sox (Debian: apt install sox)")
    result = subprocess.run(
        [sox, "-V1", "-D", str(path), "-t", "raw", "-e", "signed-integer", "-b", "16", "-L",
         "-c", "1", "-", "rate", "-v", str(sample_rate)],
        capture_output=True, timeout=60)
    if result.returncode != 0:
        raise WavError(f"{path}: sox could not convert it: "
                       f"{result.stderr.decode(errors='replace').strip()}")
    return result.stdout


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
