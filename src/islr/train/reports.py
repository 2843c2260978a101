"""Run reports: learning curves, most-confused sign pairs, per-sign accuracy, reliability."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from islr.run_layout import RunLayout
from islr.train.calibration import apply_temperature, reliability_bins

if TYPE_CHECKING:
    from islr.train.calibration import Calibration
    from islr.train.metrics import Evaluation


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: Sequence[dict[str, Any]], path: Path) -> None:
    """Loss, top-1 and learning rate per epoch (train and validation) to ``path``."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, key in zip(axes[:2], ("loss", "top1"), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            pts = [
                (e, r[prefix + key])
                for e, r in zip(epochs, history, strict=True)
                if prefix + key in r
            ]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, label=(prefix or "train_") + key)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
        ax.grid(alpha=0.3)
    lr = [(e, r["lr"]) for e, r in zip(epochs, history, strict=True) if "lr" in r]
    if lr:
        axes[2].plot(*zip(*lr, strict=True))
    axes[2].set_title("learning rate (end of epoch)")
    axes[2].set_xlabel("epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def per_sign_accuracy(
    logits: np.ndarray, labels: np.ndarray, sign_names: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per sign: index, sign, samples, top-1 and top-5 accuracy (NaN if no sample)."""
    pred = logits.argmax(axis=1)
    true_logit = logits[np.arange(len(labels)), labels]
    top5_hit = (logits > true_logit[:, None]).sum(axis=1) < 5
    rows = []
    for idx, sign in enumerate(sign_names):
        sel = labels == idx
        n = int(sel.sum())
        rows.append(
            {
                "index": idx,
                "sign": sign,
                "samples": n,
                "top1": float((pred[sel] == idx).mean()) if n else float("nan"),
                "top5": float(top5_hit[sel].mean()) if n else float("nan"),
            }
        )
    return rows


def confused_pairs(
    logits: np.ndarray, labels: np.ndarray, sign_names: Sequence[str], top: int = 20
) -> list[dict[str, Any]]:
    """The most frequent (true sign -> predicted sign) mistakes, most frequent first."""
    pred = logits.argmax(axis=1)
    wrong = pred != labels
    pairs, counts = np.unique(
        np.stack([labels[wrong], pred[wrong]], axis=1), axis=0, return_counts=True
    )
    order = np.argsort(-counts, kind="stable")[:top]
    totals = np.bincount(labels, minlength=len(sign_names))
    return [
        {
            "true": sign_names[int(pairs[i, 0])],
            "predicted": sign_names[int(pairs[i, 1])],
            "count": int(counts[i]),
            "fraction_of_true": float(counts[i] / max(1, totals[int(pairs[i, 0])])),
        }
        for i in order
    ]


def plot_confusions(pairs: Sequence[dict[str, Any]], path: Path) -> None:
    """Horizontal bar chart of the most confused sign pairs."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(pairs) + 1)))
    if pairs:
        labels = [f"{p['true']} -> {p['predicted']}" for p in pairs][::-1]
        ax.barh(labels, [p["count"] for p in pairs][::-1], color="tab:red")
        ax.set_xlabel("validation samples")
    else:
        ax.text(0.5, 0.5, "no mistakes", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title("most confused sign pairs (true -> predicted)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_per_sign(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Per-sign top-1 accuracy, sorted, as a bar chart."""
    plt = _pyplot()
    rows = sorted((r for r in rows if r["samples"]), key=lambda r: r["top1"])
    fig, ax = plt.subplots(figsize=(max(6, 0.06 * len(rows) + 2), 4))
    ax.bar(range(len(rows)), [r["top1"] for r in rows], width=1.0)
    ax.set_ylim(0, 1)
    ax.set_xlabel("signs (sorted by accuracy)")
    ax.set_ylabel("top-1")
    worst = ", ".join(r["sign"] for r in rows[:8])
    ax.set_title(f"per-sign validation accuracy (worst: {worst})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_evaluation_reports(
    out_dir: Path, evaluation: Evaluation, sign_names: Sequence[str], top_confusions: int = 20
) -> None:
    """per_sign_accuracy.csv/.png and confusion.png (+ confusions.csv) into ``out_dir``."""
    layout = RunLayout(out_dir)
    rows = per_sign_accuracy(evaluation.logits, evaluation.labels, sign_names)
    with open(layout.per_sign_accuracy_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot_per_sign(rows, layout.per_sign_accuracy_png)
    pairs = confused_pairs(evaluation.logits, evaluation.labels, sign_names, top_confusions)
    with open(layout.confusions_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["true", "predicted", "count", "fraction_of_true"])
        writer.writeheader()
        writer.writerows(pairs)
    plot_confusions(pairs, layout.confusion)


def plot_reliability(
    logits: np.ndarray, labels: np.ndarray, calibration: Calibration, path: Path
) -> None:
    """Reliability diagram: accuracy against confidence per bin, before and after the
    temperature, with the rejection threshold and the calibration figures in the title."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), sharey=True)
    panels = (
        ("softmax(logits)", apply_temperature(logits), calibration.ece_before),
        (
            f"softmax(logits / {calibration.temperature:.2f})",
            calibration.probabilities(logits),
            calibration.ece_after,
        ),
    )
    for ax, (title, probs, ece) in zip(axes, panels, strict=True):
        rows = [b for b in reliability_bins(probs, labels, calibration.bins) if b["count"]]
        width = 1.0 / calibration.bins
        ax.bar(
            [b["low"] for b in rows],
            [b["accuracy"] for b in rows],
            width=width,
            align="edge",
            edgecolor="black",
            label="accuracy",
        )
        ax.plot(
            [b["confidence"] for b in rows], [b["accuracy"] for b in rows], "o", color="tab:red"
        )
        ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top probability)")
        ax.set_title(f"{title}: ECE {ece:.3f}", fontsize=10)
        ax.grid(alpha=0.3)
    axes[1].axvline(calibration.threshold, color="tab:green", label="rejection threshold")
    axes[0].set_ylabel("accuracy")
    axes[1].legend(loc="upper left", fontsize=8)
    met = "" if calibration.target_met else " (target NOT reached)"
    fig.suptitle(
        f"{calibration.num_clips} validation clips: NLL {calibration.nll_before:.3f} -> "
        f"{calibration.nll_after:.3f}; threshold {calibration.threshold:.3f} keeps "
        f"{100 * calibration.coverage:.0f} % at {100 * calibration.precision_at_threshold:.0f} % "
        f"precision{met}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
