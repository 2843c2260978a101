"""islr.workflow.train_and_export: train, then export as cfg.export says (the library form of
islr-train). The real training and export are covered end to end by test_train_run; here the
two stages are stand-ins, to pin the flow between them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

import islr.workflow as workflow


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def fake_train(cfg: Any) -> dict[str, Any]:
        seen.append(("train", cfg))
        return {"run_dir": str(tmp_path), "val_top1": 0.5}

    def fake_export(run_dir: Path, cfg: Any) -> Path:
        seen.append(("export", run_dir))
        return Path(run_dir) / "export"

    monkeypatch.setattr(workflow, "train", fake_train)
    monkeypatch.setattr(workflow, "export_after_training", fake_export)
    monkeypatch.setattr(workflow, "log_export", lambda *a: seen.append(("log_export", a[2])))
    return seen


def test_train_and_export_exports_when_enabled(calls: list, tmp_path: Path) -> None:
    result = workflow.train_and_export(OmegaConf.create({"export": {"enabled": True}}))
    assert [name for name, _ in calls] == ["train", "export", "log_export"]
    assert result == {
        "run_dir": str(tmp_path),
        "val_top1": 0.5,
        "export_dir": str(tmp_path / "export"),
    }


def test_train_and_export_only_trains_when_disabled(calls: list, tmp_path: Path) -> None:
    result = workflow.train_and_export(OmegaConf.create({"export": {"enabled": False}}))
    assert [name for name, _ in calls] == ["train"]
    assert result["export_dir"] is None


def test_a_failed_export_names_the_kept_run(
    calls: list, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_export(run_dir: Path, cfg: Any) -> Path:
        raise ValueError("parity failed")

    monkeypatch.setattr(workflow, "export_after_training", failing_export)
    with pytest.raises(workflow.ExportAfterTrainingError, match="parity failed") as info:
        workflow.train_and_export(OmegaConf.create({"export": {"enabled": True}}))
    assert info.value.run_dir == tmp_path
    assert isinstance(info.value.__cause__, ValueError)
