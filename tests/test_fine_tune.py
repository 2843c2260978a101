"""Fine-tuning: ``model.init_from`` starts a run from a trained one (the backbone whole, the
head's rows by sign name) and ``trainer.freeze_backbone_epochs`` trains the head alone first.

The source is a tiny training on the synthetic ``tiny`` preset; the new vocabulary keeps five of
its signs (at other class indices) and adds four it never saw.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from fast_training import FAST, compose_train
from islr.data import generate_dataset
from islr.errors import ConfigError

SOURCE_EPOCHS = 1


class WeightSnapshots(keras.callbacks.Callback):
    """Saves the network's weights (by path) before training and after every epoch, to
    ``<folder>/start.npz`` and ``<folder>/epoch<k>.npz``: what a test compares."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _save(self, name: str) -> None:
        values = {w.path: keras.ops.convert_to_numpy(w.value) for w in self.model.weights}
        np.savez(self.folder / f"{name}.npz", **values)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._save("start")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._save(f"epoch{epoch + 1}")


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _snapshots(folder: Path) -> str:
    return (
        f"+callbacks.extra.snapshots={{_target_:test_fine_tune.WeightSnapshots,folder:'{folder}'}}"
    )


@pytest.fixture(scope="module")
def source_run(tiny_root, tiny_cache, tmp_path_factory) -> Path:
    """A finished tiny training on the ``tiny`` preset's ten signs."""
    from islr.train import train

    run_dir = tmp_path_factory.mktemp("source") / "run"
    train(
        compose_train(
            [
                *FAST,
                f"data.root={tiny_root}",
                f"data.cache_dir={tiny_cache.cache_dir}",
                f"trainer.epochs={SOURCE_EPOCHS}",
                f"paths.output_dir={run_dir}",
            ]
        )
    )
    return run_dir


@pytest.fixture(scope="module")
def new_vocabulary_root(tiny_root, tmp_path_factory) -> Path:
    """Nine signs: five of the source's (other indices), four new ones; fewer clips each."""
    root = tmp_path_factory.mktemp("new_vocabulary")
    shape = {"n_participants": 5, "samples_per_sign": 2, "length_scale": 0.5}
    generate_dataset(root, n_signs=14, seed=3, workers=1, progress=False, **shape)
    source_signs = sorted(json.loads((tiny_root / "sign_to_prediction_index_map.json").read_text()))
    all_signs = sorted(json.loads((root / "sign_to_prediction_index_map.json").read_text()))
    kept = all_signs[5:]
    assert set(kept) & set(source_signs) == set(source_signs[5:])  # five shared, four new
    (root / "sign_to_prediction_index_map.json").write_text(
        json.dumps({sign: i for i, sign in enumerate(kept)})
    )
    table = pd.read_csv(root / "train.csv")
    table[table["sign"].isin(kept)].to_csv(root / "train.csv", index=False)
    return root


def _fine_tune_args(root: Path, cache: Path, source: Path, run_dir: Path) -> list[str]:
    return [
        *FAST,
        f"data.root={root}",
        f"data.cache_dir={cache}",
        f"model.init_from={source}",
        f"paths.output_dir={run_dir}",
    ]


def test_fine_tuning_starts_from_the_source_and_keeps_the_shared_signs_rows(
    source_run, new_vocabulary_root, tmp_path
):
    from islr.model import load_network_file
    from islr.train import train

    run_dir = tmp_path / "run"
    snapshots = tmp_path / "snapshots"
    args = _fine_tune_args(new_vocabulary_root, tmp_path / "cache", source_run, run_dir)
    result = train(compose_train([*args, "trainer.epochs=1", _snapshots(snapshots)]))

    network = load_network_file(source_run / "checkpoints" / "best.keras")
    source = {w.path: keras.ops.convert_to_numpy(w.value) for w in network.weights}
    start = _npz(snapshots / "start.npz")
    backbone = [p for p in start if not p.startswith("logits/") and p != "late_dropout/step"]
    assert len(backbone) > 20
    for path in backbone:
        np.testing.assert_array_equal(start[path], source[path], err_msg=path)
    assert start["late_dropout/step"] == 0  # this run counts its own steps

    old = json.loads((source_run / "sign_to_prediction_index_map.json").read_text())
    new = json.loads((new_vocabulary_root / "sign_to_prediction_index_map.json").read_text())
    shared = sorted(set(old) & set(new))
    assert len(shared) == 5 and all(old[s] != new[s] for s in shared)
    for sign in shared:
        np.testing.assert_array_equal(
            start["logits/kernel"][:, new[sign]], source["logits/kernel"][:, old[sign]]
        )
        assert start["logits/bias"][new[sign]] == source["logits/bias"][old[sign]]
    for sign in set(new) - set(old):  # fresh: Keras' initialisation, zero biases
        assert start["logits/bias"][new[sign]] == 0.0
        assert not np.isin(start["logits/kernel"][:, new[sign]], source["logits/kernel"]).any()

    assert result["init_from"]["source"] == str(source_run / "checkpoints" / "best.keras")
    assert result["init_from"]["head_signs_copied"] == 5
    assert result["init_from"]["head_signs_new"] == 4
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["init_from"] == result["init_from"]
    trained = _npz(snapshots / "epoch1.npz")
    assert not np.array_equal(trained["stem_dense/kernel"], start["stem_dense/kernel"])


def test_a_backbone_that_does_not_match_is_refused_naming_the_layer(
    source_run, new_vocabulary_root, tmp_path
):
    from islr.train import train

    args = _fine_tune_args(new_vocabulary_root, tmp_path / "cache", source_run, tmp_path / "run")
    wider = (
        r"layer 'stem_dense': weight stem_dense/kernel has shape \(708, 32\) in the source "
        r"but \(708, 48\) in this network"
    )
    with pytest.raises(ConfigError, match=wider):
        train(compose_train([*args, "model.dim=48"]))
    shallower = (
        r"layer 'stack0_conv1': the source's weight stack0_conv1/expand/kernel \(32, 64\) "
        r"has no place in this network"
    )
    with pytest.raises(ConfigError, match=shallower):
        train(compose_train([*args, "model.conv_blocks_per_stack=1"]))


def test_init_from_names_a_missing_source_before_any_work(new_vocabulary_root, tmp_path):
    from islr.train import train

    missing = tmp_path / "no_such_run"
    args = _fine_tune_args(new_vocabulary_root, tmp_path / "cache", missing, tmp_path / "run")
    with pytest.raises(ConfigError, match=rf"model.init_from={missing}: no such run directory"):
        train(compose_train(args))
    missing.mkdir()
    with pytest.raises(ConfigError, match=r"holds no checkpoints/best.keras"):
        train(compose_train(args))
    assert not (tmp_path / "cache").exists()  # refused before the data was read
