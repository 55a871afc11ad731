"""The character-level residual language model: vocabulary, windows, training against simple baselines,
sampling, and the sweep grid."""

import math
from collections import Counter

import numpy as np
import pytest

from restoolkit.errors import DataError
from restoolkit.language import (
    Vocab,
    generate,
    generated_text,
    load_text,
    residual_sweep,
    train_char_lm,
    windows,
)


def test_vocab_round_trips_and_refuses_unknown_characters():
    text = "To be, or not to be"
    vocab = Vocab.from_text(text)
    assert vocab.chars == sorted(set(text)) and vocab.decode(vocab.encode(text)) == text
    with pytest.raises(DataError, match=r"outside the vocabulary: \['q', 'z'\] \(first at position 3\)"):
        vocab.encode("be qz")


def test_windows_are_shifted_by_one_character():
    ids = np.arange(100, dtype="int32")
    x, y = windows(ids, 8, 50, seed=1)
    assert x.shape == y.shape == (50, 8)
    np.testing.assert_array_equal(y, x + 1)  # on 0..99 the next character is the id plus one
    assert x.min() >= 0 and y.max() <= 99


def test_load_text_prefers_the_given_file(tmp_path):
    (tmp_path / "t.txt").write_text("abcabc", encoding="utf-8")
    assert load_text(tmp_path / "t.txt") == ("abcabc", str(tmp_path / "t.txt"))
    text, source = load_text(tmp_path / "missing.txt", max_chars=50)
    assert len(text) == 50 and (source.startswith("generated") or source.endswith("input.txt"))


def test_training_beats_the_unigram_baseline_and_sampling_stays_in_the_vocabulary():
    text = generated_text(60_000, seed=3)
    run = train_char_lm(text, depth=2, width=32, num_heads=2, seq_len=32, steps=150, batch_size=32)
    # The cross-entropy of predicting each validation character by its training frequency, in nats.
    split = int(len(text) * 0.9)
    counts = Counter(text[:split])
    total = sum(counts.values())
    unigram = -np.mean([math.log(counts[c] / total) for c in text[split:]])
    assert run["val_loss"] < unigram - 0.2, (run["val_loss"], unigram)
    assert run["val_loss"] < math.log(len(run["vocab"].chars))
    sample = generate(run["model"], run["vocab"], "The king", 40, seed=1)
    assert sample.startswith("The king") and len(sample) == len("The king") + 40
    assert set(sample) <= set(run["vocab"].chars)


def test_sweep_grid_skips_dropout_without_residual_branches(capsys):
    table = residual_sweep(generated_text(5_000), depths=(1,), residual_dropouts=(0.0, 0.3), norm_positions=("pre",),
                           steps=2, batch_size=4, seq_len=16, width=16, num_heads=2)
    rows = set(zip(table["residual_dropout"], table["residual"], strict=True))
    assert rows == {(0.0, True), (0.3, True), (0.0, False)}
    assert "[3/3]" in capsys.readouterr().out
