"""Residual connections in a small character-level language model (the question of arXiv:2410.01019):
how validation loss moves with residual dropout and depth, pre- vs post-norm, with and without residual
connections. Tiny Shakespeare when ``../shared/data`` has it, a generated text otherwise.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHARED_TEXT = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"


def generated_text(n_chars: int = 200_000, *, seed: int = 0) -> str:
    """A fallback corpus with learnable structure: sentences from a small grammar (subject, verb,
    object, adverb) with punctuation and line breaks, so a model can beat the unigram baseline."""
    rng = np.random.default_rng(seed)
    subjects = ["the king", "my lord", "a servant", "the queen", "thy brother", "our people", "the fool"]
    verbs = ["doth speak", "shall fall", "will love", "must answer", "hath seen", "cannot hear"]
    objects = ["the crown", "his sword", "her letter", "this night", "the truth", "their grief"]
    tails = ["tonight", "again", "in silence", "with honour", "before the dawn", ""]
    out, length = [], 0
    while length < n_chars:
        line = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} {rng.choice(tails)}".strip()
        line = line[0].upper() + line[1:] + rng.choice([".", "!", "?", ";", ","])
        out.append(line)
        length += len(line) + 1
    return "\n".join(out)[:n_chars]


def load_text(path=None, *, max_chars: int | None = None) -> tuple[str, str]:
    """``(text, source)``: the file given, else Tiny Shakespeare from ``../shared/data``, else generated."""
    candidate = Path(path) if path else SHARED_TEXT
    if candidate.is_file():
        text, source = candidate.read_text(encoding="utf-8"), str(candidate)
    else:
        text, source = generated_text(), "generated (restoolkit.language.generated_text)"
    return (text[:max_chars] if max_chars else text), source


@dataclass
class Vocab:
    """Characters ↔ ids."""

    chars: list[str]

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        return cls(sorted(set(text)))

    def encode(self, text: str) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.chars)}
        unknown = sorted({c for c in text if c not in index})
        if unknown:
            from restoolkit.errors import DataError

            raise DataError(f"characters outside the vocabulary: {unknown[:10]!r} (first at position "
                            f"{min(text.index(c) for c in unknown)})")
        return np.array([index[c] for c in text], "int32")

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def windows(ids: np.ndarray, seq_len: int, n: int, *, seed: int = 0):
    """``n`` random ``(x, y)`` windows: ``y`` is ``x`` shifted by one character."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(ids) - seq_len - 1, n)
    x = np.stack([ids[s:s + seq_len] for s in starts])
    y = np.stack([ids[s + 1:s + seq_len + 1] for s in starts])
    return x, y


def train_char_lm(text: str, *, depth: int = 2, width: int = 64, num_heads: int = 4, seq_len: int = 64,
                  residual_dropout: float = 0.0, norm_position: str = "pre", residual: bool = True,
                  steps: int = 300, batch_size: int = 32, learning_rate: float = 3e-3, val_fraction: float = 0.1,
                  seed: int = 0, verbose: int = 0) -> dict:
    """Trains ``char_transformer`` on the first 90% of ``text`` and measures loss on the last 10%.

    Returns:
        ``{"val_loss", "train_loss", "model", "vocab", "seconds", "config"}`` (losses in nats per
        character; the uniform baseline is ``log(vocab size)``).
    """
    import keras

    from restoolkit.models import create

    keras.utils.set_random_seed(seed)
    vocab = Vocab.from_text(text)
    ids = vocab.encode(text)
    split = int(len(ids) * (1 - val_fraction))
    x, y = windows(ids[:split], seq_len, steps * batch_size, seed=seed)
    vx, vy = windows(ids[split:], seq_len, max(64, batch_size * 4), seed=seed + 1)
    model = create("char_transformer", input_shape=(seq_len,), num_classes=len(vocab.chars), width=width, depth=depth,
                   num_heads=num_heads, residual_dropout=residual_dropout, norm_position=norm_position,
                   residual=residual)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, warmup_target=None)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=1.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=batch_size, epochs=1, verbose=verbose, shuffle=False)
    val_loss = float(model.evaluate(vx, vy, batch_size=64, verbose=0))
    return {"val_loss": val_loss, "train_loss": float(history.history["loss"][-1]), "model": model, "vocab": vocab,
            "seconds": time.perf_counter() - start,
            "config": {"depth": depth, "width": width, "residual_dropout": residual_dropout,
                       "norm_position": norm_position, "residual": residual, "steps": steps}}


def residual_sweep(text: str, *, depths=(2, 4), residual_dropouts=(0.0, 0.1, 0.3), norm_positions=("pre", "post"),
                   residual=(True, False), progress: bool = True, **train_kwargs):
    """Validation loss over the grid; a ``pandas.DataFrame`` with one row per configuration.

    Configurations without residual connections are run at residual dropout 0 only (there is no
    residual branch to drop).
    """
    import pandas as pd

    grid = [(d, r, n, res) for d, r, n, res in itertools.product(depths, residual_dropouts, norm_positions, residual)
            if res or r == residual_dropouts[0]]
    rows = []
    for i, (depth, dropout, norm, res) in enumerate(grid, start=1):
        out = train_char_lm(text, depth=depth, residual_dropout=dropout, norm_position=norm, residual=res,
                            **train_kwargs)
        rows.append({"depth": depth, "residual_dropout": dropout, "norm": norm, "residual": res,
                     "val_loss": round(out["val_loss"], 4), "train_loss": round(out["train_loss"], 4),
                     "seconds": round(out["seconds"], 1)})
        if progress:
            print(f"[{i}/{len(grid)}] depth {depth} dropout {dropout} {norm}-norm residual={res}: "
                  f"val loss {out['val_loss']:.3f} ({out['seconds']:.0f} s)", flush=True)
    return pd.DataFrame(rows)


def generate(model, vocab: Vocab, prompt: str, n: int = 200, *, temperature: float = 0.8, seed: int = 0) -> str:
    """Samples ``n`` characters after ``prompt`` (characters outside the vocabulary are dropped)."""
    rng = np.random.default_rng(seed)
    seq_len = model.input_shape[1]
    ids = [i for i in vocab.encode("".join(c for c in prompt if c in vocab.chars))] or [0]
    for _ in range(n):
        context = ids[-seq_len:]
        x = np.zeros((1, seq_len), "int32")
        x[0, :len(context)] = context
        logits = np.asarray(model(x, training=False))[0, len(context) - 1] / max(temperature, 1e-6)
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return vocab.decode(ids)
