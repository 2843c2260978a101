"""Draw a raw landmark sequence next to augmented versions of it, as one PNG.

matplotlib is imported inside ``render_preview`` only, so importing ``islr.augment`` stays light.
The figure is drawn on an Agg canvas directly (no pyplot), so it works on headless machines and
never touches the global matplotlib backend.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from islr import landmarks

if TYPE_CHECKING:
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

# One colour per point group (matplotlib's tab10 palette).
GROUP_COLOURS: dict[str, str] = {
    "lip": "tab:red",
    "lhand": "tab:blue",
    "rhand": "tab:green",
    "nose": "tab:orange",
    "reye": "tab:purple",
    "leye": "tab:brown",
}

# MediaPipe hand topology: wrist 0, then 4 joints per finger (thumb 1-4 ... little 17-20).
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16),
    (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)  # fmt: skip
_HAND_EDGES = np.asarray(HAND_CONNECTIONS)


def _check_sequence(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as a float32 ``[T >= 1, 118, C >= 2]`` sequence."""
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] != landmarks.N_POINTS or arr.shape[2] < 2:
        raise ValueError(
            f"{name}: expected a sequence of shape [T>=1, {landmarks.N_POINTS}, coords>=2], got "
            f"shape {arr.shape}"
        )
    return arr


def _limits(sequences: Sequence[np.ndarray]) -> tuple[tuple[float, float], tuple[float, float]]:
    """Shared x and y limits over every sequence (so panels are comparable), with a margin."""
    xy = np.concatenate([s[..., :2].reshape(-1, 2) for s in sequences])
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) == 0:
        return (0.0, 1.0), (0.0, 1.0)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    margin = 0.05 * max(float((hi - lo).max()), 1e-3)
    lo, hi = (lo - margin).tolist(), (hi + margin).tolist()
    return (lo[0], hi[0]), (lo[1], hi[1])


def _draw_frame(ax: Axes, frame: np.ndarray) -> None:
    from matplotlib.collections import LineCollection

    drawn = False
    for group, sl in landmarks.GROUP_SLICES.items():
        pts = frame[sl, :2]
        ok = np.isfinite(pts).all(axis=1)
        if not ok.any():
            continue
        drawn = True
        colour = GROUP_COLOURS[group]
        if group in ("lhand", "rhand"):
            # Segments with an undetected end are NaN and matplotlib leaves them out.
            segments = pts[_HAND_EDGES]  # [21 edges, 2 ends, xy]
            ax.add_collection(LineCollection(segments, colors=colour, linewidths=0.8))
        ax.scatter(pts[ok, 0], pts[ok, 1], s=4, c=colour, label=group)
    if not drawn:
        ax.text(0.5, 0.5, "no points", ha="center", va="center", transform=ax.transAxes)


def render_preview(
    original: np.ndarray,
    augmented_list: Sequence[np.ndarray],
    path: str | Path,
    title: str | None = None,
    n_frames: int = 4,
    labels: Sequence[str] | None = None,
) -> Path:
    """Write a PNG with one row per sequence (the original first, then each augmented one).

    Each row shows ``n_frames`` evenly spaced frames of that sequence; every point group (lips,
    hands with their skeleton, nose, eyes) has its own colour; y points down as in the image.
    ``labels`` names the augmented rows (default "augmented 1", ...). Returns the PNG path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    sequences = [_check_sequence(original, "original")]
    sequences += [_check_sequence(a, f"augmented_list[{i}]") for i, a in enumerate(augmented_list)]
    if isinstance(n_frames, bool) or not isinstance(n_frames, int) or n_frames < 1:
        raise ValueError(f"n_frames: expected a positive integer, got {n_frames!r}")
    if labels is None:
        labels = [f"augmented {i + 1}" for i in range(len(augmented_list))]
    elif len(labels) != len(augmented_list):
        raise ValueError(
            f"labels: expected {len(augmented_list)} labels (one per augmented sequence), "
            f"got {len(labels)}"
        )
    row_names = ["original", *labels]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    xlim, ylim = _limits(sequences)
    n_rows = len(sequences)
    fig = Figure(figsize=(2.4 * n_frames, 2.4 * n_rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, n_frames, squeeze=False)
    for r, (name, seq) in enumerate(zip(row_names, sequences, strict=True)):
        n_total = seq.shape[0]
        shown = np.unique(np.linspace(0, n_total - 1, n_frames).round().astype(int))
        for c in range(n_frames):
            ax = axes[r, c]
            ax.set_xlim(*xlim)
            ax.set_ylim(ylim[1], ylim[0])  # image coordinates: y grows downwards
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(shown):
                ax.set_axis_off()
                continue
            t = int(shown[c])
            _draw_frame(ax, seq[t])
            ax.set_title(f"frame {t + 1}/{n_total}", fontsize=8)
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
    legend = [
        Line2D([], [], marker="o", linestyle="", color=col, label=g)
        for g, col in GROUP_COLOURS.items()
    ]
    fig.legend(handles=legend, loc="outside lower center", ncols=len(legend), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=80)
    logger.debug("wrote %s", path)
    return path
