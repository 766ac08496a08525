"""Voice packs: a folder of recorded clips and a manifest that says how a call is spoken.

    python -m display.voicepack build DIR [--force]   # the default pack, made with espeak-ng
    python -m display.voicepack check DIR             # is a (recorded) pack complete?
    python -m display.voicepack say DIR A001 3 [--out call.wav] [--languages zh,en]

The format is documented in docs/voice-packs.md so that a hall can record a human voice. In
short: `manifest.toml` holds, per language, the order of the spoken parts (`say`, with the
placeholders `{number}` and `{window}`) and a table `clips` from each token (请, 号, 到, 号窗口,
the digits 0-9, the letters, 十, ...) to a WAV file in the folder. A ticket number is read
digit by digit (A001 → A 零 零 一); a window number as a number (12 → 十 二), falling back to
digits when a clip is missing.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import string
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from display import pcm

log = logging.getLogger("hallq.voice")

FORMAT = 1
MANIFEST = "manifest.toml"
NUMBER, WINDOW = "{number}", "{window}"
DIGITS = tuple("0123456789")
DEFAULT_GAP_MS = 40
DEFAULT_PAUSE_MS = 450
CHIME_PAUSE_MS = 250
TAIL_MS = 600
SAMPLE_RATE = 22050  # the speaker's default rate (hardware/sound.py): packs are stored at it


class VoicePackError(ValueError):
    """A pack that cannot be used, or a call it cannot speak; the message says why."""


@dataclass
class Language:
    code: str
    say: list[str]
    window_reading: str  # "cardinal" (十二) or "digits" (一 二)
    files: dict[str, str]
    clips: dict[str, bytes] = field(default_factory=dict)

    def number_tokens(self, number: str) -> list[str]:
        """A001 → A 0 0 1: halls read ticket numbers one sign at a time."""
        tokens = [c.upper() if c.isalpha() else c for c in number if not c.isspace()]
        self._require(tokens, f"the ticket number {number}")
        return tokens

    def window_tokens(self, window: int) -> list[str]:
        digits = list(str(window))
        tokens = cardinal(window, self.code) if self.window_reading == "cardinal" else None
        if tokens is None or any(t not in self.clips for t in tokens):
            tokens = digits
        self._require(tokens, f"window {window}")
        return tokens

    def _require(self, tokens: list[str], what: str) -> None:
        missing = sorted({t for t in tokens if t not in self.clips})
        if missing:
            raise VoicePackError(
                f"voice pack language {self.code!r} has no clip for {', '.join(missing)}"
                f" (needed for {what})")

    def tokens(self, number: str, window: int) -> list[str]:
        out: list[str] = []
        for part in self.say:
            if part == NUMBER:
                out += self.number_tokens(number)
            elif part == WINDOW:
                out += self.window_tokens(window)
            else:
                out.append(part)
        return out


def cardinal(n: int, language: str) -> list[str] | None:
    """Tokens that read 1-99 as a number; None where the language or number has no rule."""
    if not 0 < n < 100:
        return None
    tens, ones = divmod(n, 10)
    if language == "zh":  # 10 十, 12 十二, 20 二十, 23 二十三
        head = ([] if tens == 1 else [str(tens)]) + ["十"] if tens else []
        return head + ([str(ones)] if ones or not tens else [])
    if language == "en":  # 12 → "12", 23 → "20" "3"
        if n < 20:
            return [str(n)]
        return [str(tens * 10)] + ([str(ones)] if ones else [])
    return None


@dataclass
class Announcement:
    """One call as a single PCM buffer, with the clips it is made of (for logs and tests)."""

    pcm: bytes
    sample_rate: int
    parts: list[tuple[str, int, int]]  # (label, start byte, length in bytes), silence left out
    text: str

    @property
    def duration(self) -> float:
        return pcm.duration(self.pcm, self.sample_rate)

    @property
    def labels(self) -> list[str]:
        return [label for label, _, _ in self.parts]


class VoicePack:
    def __init__(self, path: Path, name: str, sample_rate: int, languages: dict[str, Language],
                 gap_ms: float, pause_ms: float, chime: bytes | None) -> None:
        self.path = path
        self.name = name
        self.sample_rate = sample_rate
        self.languages = languages
        self.gap_ms = gap_ms
        self.pause_ms = pause_ms
        self.chime = chime

    @classmethod
    def load(cls, path: Path | str, sample_rate: int = SAMPLE_RATE) -> VoicePack:
        """Read and check a pack; every clip is converted to 16-bit mono at `sample_rate`."""
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise VoicePackError(f"{path}: no {MANIFEST} (not a voice pack, or not built yet:"
                                 f" python -m display.voicepack build {path})")
        try:
            manifest = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise VoicePackError(f"{manifest_path}: {error}") from None
        if manifest.get("format") != FORMAT:
            raise VoicePackError(f"{manifest_path}: format must be {FORMAT}")
        languages = {}
        for code in manifest.get("languages", []):
            languages[code] = _load_language(path, manifest_path, code, manifest.get(code),
                                             sample_rate)
        if not languages:
            raise VoicePackError(f"{manifest_path}: `languages` lists no language")
        chime = None
        if manifest.get("chime"):
            chime = _read_clip(path, "chime", manifest["chime"], sample_rate)
        return cls(path, str(manifest.get("name", path.name)), sample_rate, languages,
                   float(manifest.get("gap_ms", DEFAULT_GAP_MS)),
                   float(manifest.get("pause_ms", DEFAULT_PAUSE_MS)), chime)

    def speech(self, number: str, window: int, language: str) -> list[tuple[str, bytes]]:
        lang = self.languages[language]
        return [(f"{language}:{t}", lang.clips[t]) for t in lang.tokens(number, window)]

    def text(self, number: str, window: int, language: str) -> str:
        return " ".join(self.languages[language].tokens(number, window))


def _load_language(root: Path, manifest_path: Path, code: str, table: object,
                   sample_rate: int) -> Language:
    where = f"{manifest_path} [{code}]"
    if not isinstance(table, dict):
        raise VoicePackError(f"{where}: missing table for the listed language {code!r}")
    say, files = table.get("say"), table.get("clips")
    if not isinstance(say, list) or not say or not all(isinstance(s, str) for s in say):
        raise VoicePackError(f"{where}: `say` must be a list of tokens, e.g. "
                             f'["请", "{NUMBER}", "号", "到", "{WINDOW}", "号窗口"]')
    if not isinstance(files, dict) or not all(isinstance(f, str) for f in files.values()):
        raise VoicePackError(f"{where}: `clips` must map tokens to WAV file names")
    reading = table.get("window_reading", "cardinal")
    if reading not in ("cardinal", "digits"):
        raise VoicePackError(f"{where}: window_reading must be \"cardinal\" or \"digits\"")
    needed = [t for t in say if t not in (NUMBER, WINDOW)] + list(DIGITS)
    missing = [t for t in needed if t not in files]
    if missing:
        raise VoicePackError(f"{where}: no clip for {', '.join(missing)}")
    lang = Language(code, say, reading, dict(files))
    for token, name in files.items():
        lang.clips[token] = _read_clip(root, f"{code}:{token}", name, sample_rate)
    return lang


def _read_clip(root: Path, token: str, name: str, sample_rate: int) -> bytes:
    try:
        clip = pcm.read_wav(root / name, sample_rate)
    except pcm.WavError as error:
        raise VoicePackError(f"clip {token}: {error}") from None
    if not clip:
        raise VoicePackError(f"clip {token}: {root / name} is empty")
    return clip


def assemble(call: dict, pack: VoicePack | None, chime: bytes, sample_rate: int,
             languages: list[str], repeat: int = 1) -> Announcement:
    """chime, then the call in each language in order, `repeat` times, as one buffer.
    Without a pack (or if the pack cannot say this call) it is the chime alone."""
    parts: list[tuple[str, bytes]] = [("chime", pack.chime if pack and pack.chime else chime)]
    texts = []
    if pack is not None:
        spoken = [code for code in languages if code in pack.languages]
        try:
            speech = [(code, pack.speech(call["number"], int(call["window"]), code))
                      for code in spoken]
        except VoicePackError as error:
            log.warning("%s: chime only for %s → %s", error, call["number"], call["window"])
            speech = []
        gap = pcm.silence(pack.gap_ms, sample_rate)
        pause = pcm.silence(pack.pause_ms, sample_rate)
        for round_ in range(repeat):
            for i, (code, clips) in enumerate(speech):
                first = round_ == 0 and i == 0
                parts.append(("", pcm.silence(CHIME_PAUSE_MS, sample_rate) if first else pause))
                for j, clip in enumerate(clips):
                    if j:
                        parts.append(("", gap))
                    parts.append(clip)
                if round_ == 0:
                    texts.append(pack.text(call["number"], int(call["window"]), code))
    parts.append(("", pcm.silence(TAIL_MS, sample_rate)))
    labelled, offset = [], 0
    for label, data in parts:
        if label:
            labelled.append((label, offset, len(data)))
        offset += len(data)
    text = " | ".join(texts) or f"(chime) {call['number']} → {call['window']}"
    return Announcement(b"".join(data for _, data in parts), sample_rate, labelled, text)


# -- the default pack, generated with espeak-ng ---------------------------------------------------

ZH_DIGITS = ("ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3")
ZH_WORDS = {"请": ("qing", "qing3"), "号": ("hao", "hao4"), "到": ("dao", "dao4"),
            "号窗口": ("hao-chuangkou", "hao4 chuang1 kou3"), "十": ("shi", "shi2")}
EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
EN_WORDS = {"Number": "Number", "please go to window": "please go to window"}
EN_CARDINALS = {10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen",
                15: "fifteen", 16: "sixteen", 17: "seventeen", 18: "eighteen", 19: "nineteen",
                20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy",
                80: "eighty", 90: "ninety"}
# espeak-ng's `cmn` voice reads pinyin as English in Debian's 1.51; this one reads it right.
ZH_VOICE, EN_VOICE = "cmn-latn-pinyin", "en"
ESPEAK_RATE = 22050


def default_clips() -> dict[str, list[tuple[str, str, str, str]]]:
    """language → [(token, file, espeak voice, text)]. Letters are said as English letters in
    both languages, as Chinese halls do (A = "ei")."""
    zh = [(token, f"zh/{name}.wav", ZH_VOICE, text) for token, (name, text) in ZH_WORDS.items()]
    zh += [(d, f"zh/{d}.wav", ZH_VOICE, ZH_DIGITS[int(d)]) for d in DIGITS]
    zh += [(c, f"zh/letter-{c}.wav", EN_VOICE, c) for c in string.ascii_uppercase]
    en = [(token, f"en/{token.replace(' ', '-').lower()}.wav", EN_VOICE, text)
          for token, text in EN_WORDS.items()]
    en += [(d, f"en/{d}.wav", EN_VOICE, EN_DIGITS[int(d)]) for d in DIGITS]
    en += [(str(n), f"en/{n}.wav", EN_VOICE, word) for n, word in EN_CARDINALS.items()]
    en += [(c, f"en/letter-{c}.wav", EN_VOICE, c) for c in string.ascii_uppercase]
    return {"zh": zh, "en": en}


def build_default(target: Path | str, espeak: str = "espeak-ng", force: bool = False) -> Path:
    """Generate the default pack into `target` (offline, a few seconds)."""
    target = Path(target)
    exe = shutil.which(espeak)
    if exe is None:
        raise VoicePackError(f"{espeak} not found: install it (Debian: apt install espeak-ng)")
    if (target / MANIFEST).exists() and not force:
        raise VoicePackError(f"{target} already holds a voice pack (use --force to rebuild)")
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=_parent(target)))
    try:
        clips = default_clips()
        with tempfile.TemporaryDirectory() as tmp:
            for entries in clips.values():
                for token, name, voice, text in entries:
                    raw = Path(tmp) / "clip.wav"
                    _espeak(exe, voice, text, raw)
                    clip = pcm.trim(pcm.read_wav(raw, ESPEAK_RATE), ESPEAK_RATE)
                    pcm.write_wav(building / name, clip, ESPEAK_RATE)
                    log.debug("%s → %s", token, name)
        (building / MANIFEST).write_text(_manifest(clips), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        building.rename(target)  # the pack appears complete or not at all
    finally:
        if building.exists():
            shutil.rmtree(building)
    return target


def store_at_rate(root: Path, sample_rate: int) -> list[str]:
    """Rewrite every clip of the pack at `root` that is not stored as 16-bit mono at
    `sample_rate`, converted by sox, so that the display loads it as it is. A hall's own
    recording is kept under `originals/` (and converted again from there, never twice over).
    Returns a line for each clip converted."""
    try:
        manifest = tomllib.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise VoicePackError(f"{root / MANIFEST}: {error}") from None
    names = [manifest["chime"]] if isinstance(manifest.get("chime"), str) else []
    for code in manifest.get("languages", []):
        table = manifest.get(code)
        clips = table.get("clips") if isinstance(table, dict) else None
        names += [n for n in (clips or {}).values() if isinstance(n, str)]
    done = []
    for name in dict.fromkeys(names):
        path = root / name
        form = pcm.wav_form(path)
        if form is None or form == (1, 2, sample_rate):
            continue  # unreadable ones are reported by loading the pack
        original = root / "originals" / name
        if not original.exists():
            original.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, original)
        try:
            pcm.write_wav(path, pcm.convert(original, sample_rate), sample_rate)
        except pcm.WavError as error:
            raise VoicePackError(str(error)) from None
        channels, width, rate = form
        done.append(f"{name}: {rate} Hz, {channels} channel(s), {8 * width} bit → "
                    f"{sample_rate} Hz mono 16 bit (converted; the recording is in originals/)")
    return done


def _parent(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.parent


def _espeak(exe: str, voice: str, text: str, out: Path) -> None:
    result = subprocess.run([exe, "-v", voice, "-s", "150", "-w", str(out), text],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0 or not out.exists():
        raise VoicePackError(f"espeak-ng -v {voice} {text!r} failed: {result.stderr.strip()}")


def _manifest(clips: dict[str, list[tuple[str, str, str, str]]]) -> str:
    def q(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    lines = [
        "# HallQ voice pack (format in docs/voice-packs.md). Generated with espeak-ng;",
        "# replace any WAV with a recording of a human voice and keep the names.",
        f"format = {FORMAT}",
        'name = "default (espeak-ng)"',
        'languages = ["zh", "en"]',
        f"gap_ms = {DEFAULT_GAP_MS}",
        f"pause_ms = {DEFAULT_PAUSE_MS}",
        "# chime = \"chime.wav\"   # optional; without it the display synthesizes one",
        "",
        "[zh]",
        f'say = ["请", "{NUMBER}", "号", "到", "{WINDOW}", "号窗口"]',
        'window_reading = "cardinal"',
        "",
        "[zh.clips]",
        *(f"{q(token)} = {q(name)}" for token, name, _, _ in clips["zh"]),
        "",
        "[en]",
        f'say = ["Number", "{NUMBER}", "please go to window", "{WINDOW}"]',
        'window_reading = "cardinal"',
        "",
        "[en.clips]",
        *(f"{q(token)} = {q(name)}" for token, name, _, _ in clips["en"]),
        "",
    ]
    return "\n".join(lines)


# -- command line ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m display.voicepack",
                                     description="Build, check or try a HallQ voice pack.")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="generate the default pack with espeak-ng")
    build.add_argument("dir", type=Path)
    build.add_argument("--force", action="store_true", help="replace an existing pack")
    check = sub.add_parser("check", help="store every clip at the display's playback rate, "
                           "then load the pack and list what it holds")
    check.add_argument("dir", type=Path)
    check.add_argument("--rate", type=int, default=SAMPLE_RATE,
                       help=f"the display's playback rate in Hz (default {SAMPLE_RATE})")
    say = sub.add_parser("say", help="assemble one call into a WAV file")
    say.add_argument("dir", type=Path)
    say.add_argument("number")
    say.add_argument("window", type=int)
    say.add_argument("--out", type=Path, default=Path("call.wav"))
    say.add_argument("--languages", default="zh,en")
    say.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "build":
            path = build_default(args.dir, force=args.force)
            print(f"voice pack written to {path}")
            args.dir = path
        if args.command == "check":
            for line in store_at_rate(args.dir, args.rate):
                print(line)
        pack = VoicePack.load(args.dir, getattr(args, "rate", SAMPLE_RATE))
        if args.command == "say":
            announcement = assemble({"number": args.number, "window": args.window}, pack,
                                     pcm.chime(pack.sample_rate), pack.sample_rate,
                                     args.languages.split(","), args.repeat)
            pcm.write_wav(args.out, announcement.pcm, pack.sample_rate)
            print(f"{args.out}: {announcement.duration:.2f} s  {announcement.text}")
        else:
            for code, lang in pack.languages.items():
                print(f"{code}: {len(lang.clips)} clips; e.g. {pack.text('A001', 3, code)}")
    except VoicePackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
