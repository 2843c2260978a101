"""Metrics that cannot lie: ties and non-finite scores never count as correct, and the final
evaluation agrees with Keras' own metrics on the same weights and data."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from islr.train.evaluate import classification_metrics

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def _oracle_correct(row: np.ndarray, label: int, k: int) -> bool:
    """Independent reference: sort the classes by score, the true class after any it ties with;
    a row with any non-finite score is never correct."""
    if not all(np.isfinite(v) for v in row):
        return False
    order = sorted(range(len(row)), key=lambda c: (-row[c], c == label))
    return order.index(label) < k


def _random_logits(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    """Logits with every kind of trouble: ties, constant rows, NaN, +-inf, huge values."""
    logits = rng.normal(size=(n, c)).round(rng.integers(0, 3))  # rounding makes ties
    for i in range(n):
        kind = rng.integers(0, 7)
        if kind == 0:
            logits[i] = rng.normal()  # constant row
        elif kind == 1:
            logits[i, rng.integers(0, c, size=rng.integers(1, c + 1))] = np.nan
        elif kind == 2:
            logits[i, rng.integers(0, c)] = rng.choice([np.inf, -np.inf])
        elif kind == 3:
            logits[i] *= 1e300
    return logits


@pytest.mark.parametrize("seed", range(40))
def test_top_k_matches_a_sorted_oracle_on_adversarial_logits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(1, 30)), int(rng.integers(2, 12))
    logits = _random_logits(rng, n, c)
    labels = rng.integers(0, c, size=n)
    got = classification_metrics(logits, labels)
    for k, key in ((1, "top1"), (5, "top5")):
        expected = np.mean([_oracle_correct(logits[i], labels[i], k) for i in range(n)])
        assert got[key] == pytest.approx(expected), key
    assert got["top1"] <= got["top5"]


def test_nan_constant_and_tied_logits_score_zero() -> None:
    labels = np.array([0, 3, 7, 9])
    assert classification_metrics(np.full((4, 10), np.nan), labels)["top5"] == 0.0
    assert classification_metrics(np.zeros((4, 10)), labels)["top5"] == 0.0  # constant
    nan_loss = classification_metrics(np.full((4, 10), np.nan), labels)["loss"]
    assert np.isnan(nan_loss)
    # The true class tied with the best other class: not top-1, but top-2 and so top-5.
    tied = np.zeros((4, 10))
    tied[np.arange(4), labels] = 5.0
    tied[np.arange(4), (labels + 1) % 10] = 5.0
    m = classification_metrics(tied, labels)
    assert (m["top1"], m["top5"]) == (0.0, 1.0)
    # Five others tied with the true class push it out of the top 5.
    five = np.zeros((1, 10))
    five[0, :6] = 1.0
    assert classification_metrics(five, np.array([5]))["top5"] == 0.0
    assert classification_metrics(five[:, ::-1], np.array([4]))["top5"] == 0.0
    # One NaN anywhere in a row makes the whole row wrong, even if the true class is highest.
    one_nan = np.array([[9.0, 1.0, np.nan]])
    assert classification_metrics(one_nan, np.array([0]))["top1"] == 0.0
    assert classification_metrics(one_nan, np.array([0]))["num_nonfinite"] == 1
    # Clean, distinct logits: plain argmax.
    clean = np.eye(10)[labels] * 3 + np.linspace(0, 1, 10)
    assert classification_metrics(clean, labels)["top1"] == 1.0


@pytest.mark.backend
def test_final_evaluation_agrees_with_keras_metrics(tiny_root, tiny_cache) -> None:
    from hydra import compose, initialize_config_dir

    from islr.train.datamodule import load_split, make_dataset
    from islr.train.losses import SparseCategoricalCrossentropyWithSmoothing
    from islr.train.metrics import evaluate_network
    from islr.train.training_model import build_network

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"data.root={tiny_root}",
                f"data.cache_dir={tiny_cache.cache_dir}",
                "model=tiny",
                "model.dim=32",
                "model.num_heads=2",
                "data.max_len=32",
                "data.bucketing=false",
                "data.batch_size=16",
                "data.eval_batch_size=12",  # a partial last batch: weight-0 filler rows
            ],
        )
    keras.utils.set_random_seed(0)
    split = load_split(cfg)
    network = build_network(cfg, split.num_classes, 0)
    network.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=SparseCategoricalCrossentropyWithSmoothing(label_smoothing=0.0),
        weighted_metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="top1"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5"),
        ],
    )
    train_ds = make_dataset(cfg, split, training=True)
    val = make_dataset(cfg, split, training=False)
    network.fit(train_ds, epochs=3, verbose=0)
    ours = evaluate_network(network, val)
    theirs = network.evaluate(val, verbose=0, return_dict=True)
    assert ours.metrics["num_samples"] == len(split.val_indices)
    assert ours.metrics["top5"] > 0.0  # trained a little: not a vacuous comparison
    assert ours.metrics["top1"] == pytest.approx(theirs["top1"], abs=1e-6)
    assert ours.metrics["top5"] == pytest.approx(theirs["top5"], abs=1e-6)
    # Keras averages the weighted loss over every row, weight-0 filler rows included.
    rows = sum(len(w) for _, _, w in val.iter_numpy())
    n = ours.metrics["num_samples"]
    assert ours.metrics["loss"] == pytest.approx(theirs["loss"] * rows / n, rel=1e-4)
