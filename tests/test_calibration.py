"""Calibrated confidence and rejection (islr.train.calibration) and where it is used: the
training run's calibration.json, islr-eval's ECE, the export's copy, islr-predict's "no sign".

The fit, the ECE and the threshold are tested on numbers worked out by hand or drawn from a
known temperature; the rest on one real tiny training (the shipped defaults, shrunk in size)
on the synthetic demo data, whose validation fold the calibration is fitted on.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
from pathlib import Path

import keras
import numpy as np
import pytest

from fast_training import CONF_DIR, FAST, compose_train
from islr.train.calibration import (
    Calibration,
    apply_temperature,
    choose_threshold,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
    negative_log_likelihood,
    read_calibration,
    reliability_bins,
    write_calibration,
)

needs_tf = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="prediction needs the TensorFlow backend"
)
FILE_KEYS = {
    "temperature",
    "threshold",
    "target_precision",
    "coverage",
    "precision_at_threshold",
    "target_met",
    "ece_before",
    "ece_after",
    "nll_before",
    "nll_after",
    "num_clips",
    "fold",
}


# --- the fit, the ECE and the threshold on known numbers ---------------------------------------
@pytest.mark.parametrize("true_temperature", [0.5, 2.5])
def test_fit_recovers_a_known_temperature(true_temperature: float) -> None:
    rng = np.random.default_rng(0)
    calibrated = rng.normal(0.0, 2.0, (5000, 10))  # labels are drawn from softmax(these)
    p = apply_temperature(calibrated)
    labels = (p.cumsum(axis=1) < rng.uniform(size=(len(p), 1))).sum(axis=1)
    logits = calibrated * true_temperature  # what an over/under-confident network outputs
    found = fit_temperature(logits, labels)
    assert found == pytest.approx(true_temperature, rel=0.05)
    nll = negative_log_likelihood(logits, labels, found)
    for other in (found * 0.9, found * 1.1):  # a minimum, not just a stationary guess
        assert negative_log_likelihood(logits, labels, other) > nll


def test_ece_against_a_hand_computed_example() -> None:
    # top probabilities 0.95 (right), 0.85 (wrong), 0.70 (right), 0.55 (wrong)
    probs = np.array([[0.95, 0.05], [0.85, 0.15], [0.30, 0.70], [0.55, 0.45]])
    labels = np.array([0, 1, 1, 1])
    # 5 bins: (0.8, 1] holds 0.95 and 0.85 -> |0.5 - 0.9| * 2/4 = 0.2; (0.6, 0.8] holds 0.7 ->
    # |1 - 0.7| / 4 = 0.075; (0.4, 0.6] holds 0.55 -> |0 - 0.55| / 4 = 0.1375
    assert expected_calibration_error(probs, labels, bins=5) == pytest.approx(0.4125)
    # 15 bins: each alone -> (0.05 + 0.85 + 0.30 + 0.55) / 4
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4375)
    # a perfectly calibrated set: 0.75 confident, right 3 times out of 4
    even = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(even, np.array([0, 0, 0, 1])) == pytest.approx(0.0)


def test_reliability_bins_put_an_edge_in_the_bin_below_it() -> None:
    probs = np.array([[0.2, 0.8], [0.6, 0.4], [1.0, 0.0], [0.5, 0.5]])
    rows = reliability_bins(probs, np.zeros(4, dtype=int), bins=5)
    assert [r["count"] for r in rows] == [0, 0, 2, 1, 1]  # 0.5 and 0.6 | 0.8 | 1.0
    assert rows[2]["accuracy"] == 1.0 and rows[2]["confidence"] == pytest.approx(0.55)
    assert rows[3]["accuracy"] == 0.0  # 0.8 on class 1, the label is 0
    assert np.isnan(rows[0]["accuracy"])


def test_threshold_is_the_smallest_that_meets_the_target() -> None:
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.1, 1.0, 500)
    correct = rng.uniform(size=500) < confidence  # right as often as it is confident
    choice = choose_threshold(confidence, correct, 0.9)
    accepted = confidence >= choice.threshold
    assert choice.target_met
    assert correct[accepted].mean() == pytest.approx(choice.precision) and choice.precision >= 0.9
    assert choice.coverage == pytest.approx(accepted.mean())
    # every lower candidate misses the target
    for t in confidence[confidence < choice.threshold]:
        assert correct[confidence >= t].mean() < 0.9


def test_an_unreachable_target_is_flagged_and_warned(caplog) -> None:
    confidence = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([False, True, True, False])
    with caplog.at_level(logging.WARNING, logger="islr.train.calibration"):
        choice = choose_threshold(confidence, correct, 0.95)
    assert not choice.target_met
    assert choice.threshold == 0.9 and choice.precision == 0.0 and choice.coverage == 0.25
    assert "no confidence threshold reaches 95.0 % precision" in caplog.text
    # a reachable one at the same data: 2 of the top 3 are right
    assert choose_threshold(confidence, correct, 0.6).threshold == 0.7


def test_fit_calibration_leaves_out_nonfinite_rows_and_round_trips(tmp_path, caplog) -> None:
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 3, (200, 5))
    labels = logits.argmax(axis=1)
    labels[:40] = (labels[:40] + 1) % 5  # 80 % right
    logits[0, 0] = np.nan
    with caplog.at_level(logging.WARNING):
        cal = fit_calibration(logits, labels, target_precision=0.95, fold=3)
    assert "1 clip(s) with NaN/inf logits left out" in caplog.text
    assert cal.num_clips == 199 and cal.fold == 3 and cal.nll_after <= cal.nll_before
    path = tmp_path / "calibration.json"
    write_calibration(path, cal)
    assert set(json.loads(path.read_text())) >= FILE_KEYS
    assert read_calibration(path) == cal

    data = json.loads(path.read_text())
    del data["threshold"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"calibration.json: calibration file lacks threshold"):
        read_calibration(path)
    path.write_text(json.dumps({**cal.to_dict(), "temperature": -1}))
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        read_calibration(path)


# --- a real tiny training ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_run(tiny_root, tiny_cache, tmp_path_factory) -> tuple[Path, dict]:
    """Two epochs of the tiny model on the demo data, fold 0 validating (calibration on)."""
    from islr.train import train

    run_dir = tmp_path_factory.mktemp("calibrated") / "run"
    cfg = compose_train(
        [
            *FAST,
            f"data.root={tiny_root}",
            f"data.cache_dir={tiny_cache.cache_dir}",
            "trainer.epochs=2",
            f"paths.output_dir={run_dir}",
        ]
    )
    return run_dir, train(cfg)


def test_training_fits_a_temperature_that_lowers_the_validation_nll(trained_run) -> None:
    run_dir, result = trained_run
    data = json.loads((run_dir / "calibration.json").read_text())
    assert set(data) >= FILE_KEYS and data["fold"] == 0
    cal = read_calibration(run_dir / "calibration.json")
    assert cal.num_clips == result["val_num_samples"]
    assert cal.nll_before == pytest.approx(result["val_loss"], rel=1e-6)  # the same logits
    assert cal.temperature != pytest.approx(1.0, abs=0.05)
    assert cal.nll_after < cal.nll_before - 0.01
    assert cal.ece_after < cal.ece_before
    assert cal.target_met and cal.precision_at_threshold >= cal.target_precision == 0.95
    assert 0 < cal.coverage < 1
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("ece_before", "ece_after", "nll_before", "nll_after"):
        assert metrics[f"val_{key}"] == pytest.approx(data[key])
    assert (run_dir / "reliability.png").stat().st_size > 0


def _eval_config(tiny_root, tiny_cache, ckpt: Path, out: Path):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(
            "eval",
            overrides=[
                f"data.root={tiny_root}",
                f"data.cache_dir={tiny_cache.cache_dir}",
                "data.max_len=32",
                f"ckpt_path={ckpt}",
                f"paths.output_dir={out}",
            ],
        )


def test_islr_eval_prints_the_ece_before_and_after(
    trained_run, tiny_root, tiny_cache, tmp_path, capsys
) -> None:
    from islr.cli.evaluate import evaluate_command

    run_dir, _ = trained_run
    cal = read_calibration(run_dir / "calibration.json")
    evaluate_command(_eval_config(tiny_root, tiny_cache, run_dir, tmp_path / "eval"))
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith(f"ECE {cal.ece_before:.4f} -> {cal.ece_after:.4f} (15 bins)"), line
    assert f"NLL {cal.nll_before:.4f} -> {cal.nll_after:.4f}" in line
    assert "(the fold it was fitted on)" in line
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert written["val_ece_after"] == pytest.approx(cal.ece_after)
    assert written["val_rejection_coverage"] == pytest.approx(cal.coverage)

    # a network file outside its run: the raw ECE, said to be uncalibrated
    alone = tmp_path / "alone.keras"
    alone.write_bytes((run_dir / "checkpoints" / "best.keras").read_bytes())
    evaluate_command(_eval_config(tiny_root, tiny_cache, alone, tmp_path / "eval2"))
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith(f"ECE {cal.ece_before:.4f} (15 bins)") and "uncalibrated" in line


@pytest.fixture(scope="module")
def calibrated_export(trained_run) -> Path:
    """The run exported as islr-train would (fp32 only, no browser app: size)."""
    from islr.export import ExportSettings, export_run

    run_dir, _ = trained_run
    settings = dataclasses.asdict(ExportSettings.shipped())
    settings.update(variants=["fp32"], submission_variant="fp32", latency_runs=1)
    settings["web"]["enabled"] = False
    report = export_run(run_dir, run_dir / "export", settings)
    assert report is not None
    return Path(report.out_dir)


@needs_tf
def test_export_ships_the_runs_calibration(trained_run, calibrated_export) -> None:
    from islr.export import load_predictor

    run_dir, _ = trained_run
    shipped = calibrated_export / "calibration.json"
    assert shipped.read_bytes() == (run_dir / "calibration.json").read_bytes()
    report = json.loads((calibrated_export / "report.json").read_text())
    assert report["calibration"].startswith(f"calibration.json from {run_dir}")
    assert "calibration.json" in {f["file"] for f in report["files"]}
    cal = read_calibration(shipped)
    for model in (calibrated_export, calibrated_export / "model_fp32.tflite", run_dir):
        predictor = load_predictor(model)
        assert predictor.temperature == cal.temperature
        assert predictor.rejection_threshold == cal.threshold


def _write_clips(folder: Path) -> dict[str, np.ndarray]:
    from islr.data.writer import write_landmark_file

    rng = np.random.default_rng(7)
    clips = {
        **{f"noise_{t}": rng.uniform(0, 1, (t, 543, 3)).astype(np.float32) for t in (8, 20, 32)},
        **{f"empty_{t}": np.full((t, 543, 3), np.nan, np.float32) for t in (10, 32)},
    }
    for name, frames in clips.items():
        write_landmark_file(folder / f"{name}.parquet", frames)
    return clips


@needs_tf
def test_threshold_rejects_noise_and_empty_clips_in_islr_predict(
    calibrated_export, tmp_path, capsys
) -> None:
    from islr.cli.predict import main
    from islr.export import load_predictor

    clips = _write_clips(tmp_path / "clips")
    predictor = load_predictor(calibrated_export)
    threshold = predictor.rejection_threshold
    # the threshold by itself, before any rule: uniform noise and NaN-only clips fall below it
    for name, frames in clips.items():
        probs = predictor.probabilities(frames)
        assert probs.sum() == pytest.approx(1.0)
        assert probs.max() < threshold, (name, probs.max(), threshold)

    csv_path = tmp_path / "preds.csv"
    code = main([str(calibrated_export), str(tmp_path / "clips"), "--output", str(csv_path)])
    out, err = capsys.readouterr()
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == len(clips) and all("\tno sign (" in line for line in lines), out
    assert sum("no landmarks" in line for line in lines) == 2  # the NaN-only clips
    assert f"predicted 5 file(s): 5 rejected as no sign (below {threshold:.3f}" in err
    assert "uncalibrated" not in err
    rows = list(csv.DictReader(csv_path.open()))
    assert {r["prediction"] for r in rows} == {"no sign"}
    assert all(float(r["confidence"]) < threshold for r in rows)

    # --min-confidence 0 accepts what the threshold rejected, except the clips without landmarks
    assert main([str(calibrated_export), str(tmp_path / "clips"), "--min-confidence", "0"]) == 0
    out, err = capsys.readouterr()
    assert "predicted 5 file(s): 2 rejected as no sign (below --min-confidence 0)" in err
    assert sum("no sign" in line for line in out.splitlines()) == 2


@needs_tf
def test_an_uncalibrated_model_rejects_nothing_and_says_so(trained_run, tmp_path, capsys) -> None:
    from islr.cli.predict import main

    run_dir, _ = trained_run
    _write_clips(tmp_path / "clips")
    alone = tmp_path / "model" / "best.keras"
    alone.parent.mkdir()
    alone.write_bytes((run_dir / "checkpoints" / "best.keras").read_bytes())
    assert main([str(alone), str(tmp_path / "clips" / "noise_8.parquet")]) == 0
    out, err = capsys.readouterr()
    assert err.count("uncalibrated (no calibration.json beside it)") == 1
    assert "no sign" not in out
    assert "predicted 1 file(s): 0 rejected as no sign (no landmarks only: uncalibrated)" in err


@needs_tf
def test_calibration_of_probabilities_equals_that_of_logits() -> None:
    from islr.export.predictor import calibrated_probabilities

    logits = np.array([2.0, -1.0, 0.5, 0.0])
    expected = apply_temperature(logits, 0.7)
    np.testing.assert_allclose(calibrated_probabilities(logits, 0.7), expected, rtol=1e-12)
    np.testing.assert_allclose(
        calibrated_probabilities(apply_temperature(logits), 0.7), expected, rtol=1e-9
    )


def test_calibration_dataclass_metrics_are_the_file() -> None:
    cal = Calibration(1.5, 0.8, 0.95, 0.4, 0.97, True, 0.2, 0.05, 1.2, 1.0, 40, 0)
    assert cal.metrics()["val_ece_after"] == 0.05
    np.testing.assert_allclose(cal.probabilities(np.array([3.0, 0.0])), apply_temperature([2, 0]))
