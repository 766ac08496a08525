"""A small synthetic voice pack for tests: every clip is a short, distinct sample pattern, so a
test can find each clip (and each whole announcement) in an audio stream byte for byte."""

from __future__ import annotations

import json
from array import array
from pathlib import Path

from display import pcm

ZH_WORDS = ["请", "号", "到", "号窗口", "十"]
EN_WORDS = ["Number", "please go to window", "10", "11", "12", "20"]
DIGITS = [str(d) for d in range(10)]
LETTERS = ["A", "B", "C"]


def clip_samples(index: int, length: int = 300) -> array:
    return array("h", ((index + 1) * 97 + (i % 11) * 3 for i in range(length)))


def make_pack(root: Path, sample_rate: int = 22050, say_en: bool = True) -> Path:
    tokens = {"zh": ZH_WORDS + DIGITS + LETTERS, "en": EN_WORDS + DIGITS + LETTERS}
    lines = ["format = 1", 'name = "test"', f"languages = {json.dumps(list(tokens))}",
             "gap_ms = 10", "pause_ms = 20"]
    index = 0
    for code, names in tokens.items():
        say = (["请", "{number}", "号", "到", "{window}", "号窗口"] if code == "zh"
               else ["Number", "{number}", "please go to window", "{window}"])
        lines += ["", f"[{code}]", f"say = {json.dumps(say, ensure_ascii=False)}",
                  "", f"[{code}.clips]"]
        for n, token in enumerate(names):
            safe = token if token.isascii() and token.isalnum() else f"word{n}"
            name = f"{code}/{safe}.wav"
            pcm.write_wav(root / name, pcm.to_bytes(clip_samples(index)), sample_rate)
            lines.append(f"{json.dumps(token, ensure_ascii=False)} = \"{name}\"")
            index += 1
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
