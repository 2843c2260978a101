"""Multirun summaries: fold sweeps give mean +- std, other sweeps rank their settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from islr.train import summarize_runs
from islr.train.sweep import summary_line


def _job(sweep: Path, name: str, overrides: list[str], fold: int, top1: float) -> None:
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (job / "metrics.json").write_text(json.dumps({"fold": fold, "val_top1": top1}))


def test_fold_sweep_is_one_group_with_mean_and_std(tmp_path):
    for i, top1 in enumerate([0.5, 0.7]):
        _job(tmp_path, str(i), ["model=tiny", f"data.fold={i}"], i, top1)
    summary = summarize_runs(tmp_path)
    assert summary["num_jobs"] == 2 and len(summary["groups"]) == 1
    assert summary["mean"] == pytest.approx(0.6) and summary["std"] == pytest.approx(0.1)
    assert summary["best"]["settings"] == {"model": "tiny"}
    assert summary_line(summary, tmp_path / "cv_summary.json").startswith(
        "cv summary: val_top1 = 0.6000 +- 0.1000 over 2 jobs"
    )


def test_hyperparameter_sweep_ranks_settings_by_their_fold_mean(tmp_path):
    # 2 learning rates x 2 folds; lr=0.01 wins on average although lr=0.1 has the best single job.
    results = {("0.1", 0): 0.9, ("0.1", 1): 0.1, ("0.01", 0): 0.6, ("0.01", 1): 0.6}
    for n, ((lr, fold), top1) in enumerate(results.items()):
        _job(tmp_path, str(n), [f"optim.learning_rate={lr}", f"data.fold={fold}"], fold, top1)
    summary = summarize_runs(tmp_path)
    assert [g["settings"]["optim.learning_rate"] for g in summary["groups"]] == ["0.01", "0.1"]
    assert summary["best"]["mean"] == pytest.approx(0.6) and summary["best"]["jobs"] == ["2", "3"]
    assert "mean" not in summary  # no single cross-validation figure for mixed settings
    line = summary_line(summary, tmp_path / "cv_summary.json")
    assert "2 settings" in line and "optim.learning_rate=0.01" in line and "over 2 folds" in line


def test_empty_sweep_says_so(tmp_path):
    assert "no job wrote val_top1" in summary_line(summarize_runs(tmp_path), tmp_path / "x.json")
