"""Synthetic ISLR data in the exact Kaggle layout, for demos, tests and benchmarks.

The generator draws a *sign vocabulary* (one parametric description per sign) and *participants*
(signers), then renders every (participant, sign, repetition) as a MediaPipe-holistic-like
landmark sequence and writes it as a Kaggle parquet file.

A sign is: a dominant-hand trajectory (start/end location relative to the face, arcs, circles,
repetitions), a hand shape (finger flexion, spread, thumb; possibly changing during the sign), a
hand orientation, an optional second hand (mirrored, alternating or a passive base) and, for some
signs, a lip pattern. Some signs are derived from another sign by changing a single attribute,
so pairs of signs differ only subtly. Participants differ in body scale, position in the frame,
speed, handedness (left-handed signers mirror every sign), detection reliability and style.

The framing is calibrated on real Kaggle clips (``bench/bench_realism.py`` prints the comparison,
``islr.data.statistics`` defines the statistics): face size in the image, portrait aspect, how
differently signers and recordings are framed, hand size relative to the face, landmark jitter,
hands missed outside the image and pose points below it.

``difficulty`` (default 1.0) scales every source of nuisance variation at once (per-sample
noise, participant differences, jitter, missing detections, share of subtle sign pairs): lower
is easier to learn, higher is harder. Everything is deterministic for a seed, whatever the number
of worker processes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist

import numpy as np

from islr.data._util import default_workers, mp_context
from islr.data._util import progress as progress_bar
from islr.data.reader import SIGN_MAP_FILENAME, TRAIN_CSV_FILENAME, read_sign_map
from islr.data.writer import write_landmark_file
from islr.landmarks import (
    LEYE,
    LIP_LEFT,
    LIP_RIGHT,
    N_LANDMARKS,
    REYE,
    TYPE_OFFSETS,
)

__all__ = ["PRESETS", "SyntheticSummary", "generate_dataset", "render_sequence"]

log = logging.getLogger(__name__)

#: Named sizes. ``demo`` is what ``make train`` uses; ``tiny`` is for tests; ``full`` is roughly
#: the size of the real competition set (94k clips, 21 signers).
PRESETS: dict[str, dict[str, float | int]] = {
    "tiny": {"n_signs": 10, "n_participants": 5, "samples_per_sign": 4, "length_scale": 0.5},
    "demo": {"n_signs": 250, "n_participants": 10, "samples_per_sign": 3, "length_scale": 1.0},
    "full": {"n_signs": 250, "n_participants": 21, "samples_per_sign": 18, "length_scale": 1.0},
}

FACE_OFF = TYPE_OFFSETS["face"]
LHAND_OFF = TYPE_OFFSETS["left_hand"]
POSE_OFF = TYPE_OFFSETS["pose"]
RHAND_OFF = TYPE_OFFSETS["right_hand"]

# Image widths per body unit for a participant of scale 1 (a body unit ~ half a face height).
# Calibrated on real Kaggle clips (bench/bench_realism.py): their median face width (face points
# 234-454) is 0.29 of the image width, and the template face is 1.56 body units wide.
BODY_UNIT = 0.186
# Image heights per image width for one length: the real clips were filmed in portrait, so a
# face spans fewer image heights than image widths (real face height / width ~0.92 in image
# units against ~1.28 in the flesh).
ASPECT = 0.72
# Hand landmarks per body unit of the hand model: a real hand's bounding-box diagonal is about
# 1.3 face widths.
HAND_SCALE = 2.7
# Mean face centre of a participant in the image, and the spread between participants and
# between one participant's clips (real clips: centre ~(0.46, 0.40), between-signer std
# ~0.04 / 0.07, within-signer std ~0.04).
FRAME_CENTRE = (0.46, 0.40)
FRAME_SPREAD_PARTICIPANT = (0.045, 0.05)
FRAME_SPREAD_CLIP = 0.04


@dataclass
class SyntheticSummary:
    """What :func:`generate_dataset` wrote."""

    root: Path
    n_files: int
    n_signs: int
    n_participants: int
    n_frames: int
    seconds: float
    participant_ids: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.n_files} sequences ({self.n_frames} frames) of {self.n_signs} signs by "
            f"{self.n_participants} participants in {self.root} ({self.seconds:.1f} s)"
        )


# ------------------------------------------------------------------------------------------
# Face template (body units, origin at the face centre, y down, z towards the camera negative)
# ------------------------------------------------------------------------------------------
# Outer and inner lip contours from one mouth corner to the other (image-left corner first).
_LIP_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
_LIP_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
_LIP_UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
_LIP_LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
MOUTH_CENTRE = np.array([0.0, 0.62])


@lru_cache(maxsize=1)
def _face_template() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """468-point face, plus per-point weights for mouth opening, mouth width and blinking."""
    rng = np.random.default_rng(20230224)  # fixed: the face shape is part of the format
    pts = np.zeros((468, 3))
    # Generic points: scattered over an ellipse, z a dome (nose region closest to the camera).
    r = np.sqrt(rng.uniform(0, 1, 468))
    a = rng.uniform(0, 2 * np.pi, 468)
    pts[:, 0] = 0.78 * r * np.cos(a)
    pts[:, 1] = 1.0 * r * np.sin(a)
    pts[:, 2] = -0.35 * np.sqrt(np.clip(1 - r**2, 0, 1))
    open_w = np.zeros(468)  # how much a point follows the lower jaw / lip opening
    width_w = np.zeros(468)  # signed: how much it follows mouth widening
    blink_w = np.zeros(468)  # signed: eyelid points
    # Lips.
    t = np.linspace(-1, 1, 11)
    for idx, half_w, h, sign in (
        (_LIP_UPPER_OUTER, 0.34, 0.10, -1),
        (_LIP_LOWER_OUTER, 0.34, 0.13, 1),
        (_LIP_UPPER_INNER, 0.27, 0.03, -1),
        (_LIP_LOWER_INNER, 0.27, 0.03, 1),
    ):
        for k, i in enumerate(idx):
            pts[i, 0] = MOUTH_CENTRE[0] + half_w * t[k]
            # Cupid's bow: a slight dip at the centre of the upper lip.
            dip = 0.025 * math.exp(-((t[k] * 4) ** 2)) if sign < 0 and h > 0.05 else 0.0
            pts[i, 1] = MOUTH_CENTRE[1] + sign * h * (1 - t[k] ** 2) ** 0.6 + dip
            pts[i, 2] = -0.30 + 0.08 * t[k] ** 2
            if sign > 0:
                open_w[i] = (1 - t[k] ** 2) ** 0.5 + 0.25
            width_w[i] = t[k]
    # Eyes: REYE is the subject's right eye, which appears on the image left.
    for idx, cx, outer in ((REYE, -0.30, -1), (LEYE, 0.30, 1)):
        corner_out, lower, corner_in, upper = idx[0], idx[1:8], idx[8], idx[9:16]
        hw, cy = 0.13, -0.22
        pts[corner_out] = [cx + outer * hw, cy, -0.22]
        pts[corner_in] = [cx - outer * hw, cy, -0.24]
        for row, lid_sign, hgt in ((lower, 1, 0.045), (upper, -1, 0.06)):
            tt = np.linspace(1, -1, len(row) + 2)[1:-1]  # from outer to inner
            for k, i in enumerate(row):
                pts[i] = [cx + outer * hw * tt[k], cy + lid_sign * hgt * (1 - tt[k] ** 2), -0.25]
                blink_w[i] = lid_sign * (1 - tt[k] ** 2)
    # Nose: tip, subnasale, nostril wings (98 on the image left).
    pts[1] = [0.0, 0.22, -0.48]
    pts[2] = [0.0, 0.36, -0.40]
    pts[98] = [-0.12, 0.32, -0.33]
    pts[327] = [0.12, 0.32, -0.33]
    # Chin and jaw points (152 is MediaPipe's chin) follow mouth opening a bit.
    pts[152] = [0.0, 1.0, -0.2]
    open_w[152] = 0.6
    # Face outline: the cheek points that define the face width, forehead top.
    pts[234] = [-0.78, 0.0, -0.05]
    pts[454] = [0.78, 0.0, -0.05]
    pts[10] = [0.0, -1.0, -0.12]
    pts[:, 1] -= 0.05  # centre the face vertically
    return pts, open_w, width_w, blink_w


# ------------------------------------------------------------------------------------------
# Hands: a small kinematic model (hand units ~ body units; wrist at the origin, fingers up)
# ------------------------------------------------------------------------------------------
# MCP (knuckle) positions for a right hand seen palm-forward: the thumb is towards image right.
_FINGER_BASE = np.array([[0.13, -0.42], [0.0, -0.45], [-0.12, -0.42], [-0.23, -0.36]])
_FINGER_SEGMENTS = np.array(
    [[0.24, 0.14, 0.11], [0.27, 0.16, 0.11], [0.25, 0.15, 0.11], [0.19, 0.11, 0.10]]
)
_FINGER_SPREAD_DIR = np.array([0.12, 0.0, -0.12, -0.25])
_THUMB_BASE = np.array([0.12, -0.10])
_THUMB_SEGMENTS = np.array([0.17, 0.15, 0.12])

# Hand-shape prototypes: [thumb flex, thumb abduction, index, middle, ring, pinky flex, spread]
# (loosely after common ASL hand shapes: A, B, 1, 5, C, O, V, Y, L, I, 3, W, X, S, flat-O, bent-B).
_HANDSHAPES = np.array(
    [
        [0.3, 0.1, 1.0, 1.0, 1.0, 1.0, 0.0],
        [0.8, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.8, 0.2, 0.0, 1.0, 1.0, 1.0, 0.2],
        [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        [0.3, 0.7, 0.45, 0.45, 0.45, 0.45, 0.2],
        [0.6, 0.5, 0.7, 0.7, 0.7, 0.7, 0.0],
        [0.8, 0.2, 0.0, 0.0, 1.0, 1.0, 1.0],
        [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0],
        [0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.3],
        [0.8, 0.1, 1.0, 1.0, 1.0, 0.0, 0.5],
        [0.0, 0.9, 0.0, 0.0, 1.0, 1.0, 0.8],
        [0.8, 0.2, 0.0, 0.0, 0.0, 1.0, 0.8],
        [0.8, 0.2, 0.55, 1.0, 1.0, 1.0, 0.0],
        [1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0],
        [0.7, 0.4, 0.55, 0.55, 0.55, 0.55, 0.0],
        [0.5, 0.3, 0.35, 0.35, 0.35, 0.35, 0.0],
    ]
)

# Places a sign can be made, relative to the face centre (body units; x towards image left is
# negative, i.e. towards the dominant side of a right-handed signer).
_LOCATIONS = np.array(
    [
        [0.0, -1.2],  # forehead
        [-0.5, -0.6],  # temple
        [-0.2, -0.1],  # eye/nose
        [0.0, 0.6],  # mouth
        [0.0, 1.2],  # chin
        [-0.7, 0.4],  # cheek
        [-1.0, -0.1],  # ear
        [0.0, 2.0],  # neck
        [0.0, 3.2],  # chest
        [-1.6, 2.8],  # shoulder
        [1.0, 3.2],  # opposite chest
        [-0.8, 3.9],  # neutral space, low
        [0.0, 3.6],  # neutral space, centre
        [-1.4, 1.2],  # side of the head
        [0.3, 4.4],  # stomach
    ]
)
_REST = np.array([-1.3, 8.5])  # hands resting in the lap: below the image for everyone
_IDLE = np.array([1.3, 5.4])  # the non-dominant hand idle at the bottom of the frame


def _hand_shape_points(shape: np.ndarray) -> np.ndarray:
    """Hand landmarks for hand-shape parameters ``shape [T, 7]`` -> ``[T, 21, 3]`` (right hand)."""
    n = shape.shape[0]
    out = np.zeros((n, 21, 3))
    thumb_flex, thumb_abd, spread = shape[:, 0], shape[:, 1], shape[:, 6]
    # Fingers: flex bends each joint towards the palm (the camera is at -z), spread fans them.
    for f in range(4):
        flex = shape[:, 2 + f]
        direction = _FINGER_SPREAD_DIR[f] * (0.3 + spread)
        ux, uy = np.sin(direction), -np.cos(direction)
        pos = np.zeros((n, 3))
        pos[:, 0], pos[:, 1] = _FINGER_BASE[f, 0], _FINGER_BASE[f, 1]
        out[:, 5 + 4 * f] = pos
        angle = np.zeros(n)
        for j, (seg, gain) in enumerate(zip(_FINGER_SEGMENTS[f], (1.4, 1.7, 1.2), strict=True)):
            angle = angle + gain * flex
            along = seg * np.cos(angle)
            pos = pos + np.stack([ux * along, uy * along, -seg * np.sin(angle)], axis=1)
            out[:, 6 + 4 * f + j] = pos
    # Thumb: abduction swings it away from the palm side; flexion folds it across the palm.
    base_angle = 0.35 + 0.9 * thumb_abd - 0.9 * thumb_flex
    pos = np.zeros((n, 3))
    pos[:, 0], pos[:, 1] = _THUMB_BASE
    out[:, 1] = pos
    angle = base_angle
    for j, seg in enumerate(_THUMB_SEGMENTS):
        pos = pos + np.stack(
            [seg * np.sin(angle), -seg * np.cos(angle), -0.5 * seg * thumb_flex], axis=1
        )
        out[:, 2 + j] = pos
        angle = angle - 0.6 * thumb_flex
    return out


def _rotation(roll: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[T, 3, 3]``: roll in the image plane, yaw about y, pitch about x."""
    cr, sr, cy, sy, cp, sp = (np.cos(roll), np.sin(roll), np.cos(yaw), np.sin(yaw),
                              np.cos(pitch), np.sin(pitch))  # fmt: skip
    one, zero = np.ones_like(roll), np.zeros_like(roll)
    rz = np.stack([cr, -sr, zero, sr, cr, zero, zero, zero, one], -1).reshape(-1, 3, 3)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(-1, 3, 3)
    rx = np.stack([one, zero, zero, zero, cp, -sp, zero, sp, cp], -1).reshape(-1, 3, 3)
    return rz @ ry @ rx


# ------------------------------------------------------------------------------------------
# Sign vocabulary and participants
# ------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _sign_vocabulary(n_signs: int, seed: int, difficulty: float) -> list[dict]:
    """One parameter dict per sign; sign k depends only on (seed, k, difficulty).

    Cached per process (each worker job needs it); callers must not modify the dicts.
    """
    signs: list[dict] = []
    for k in range(n_signs):
        rng = np.random.default_rng([seed, 7919, k])
        derive = k >= 4 and rng.uniform() < min(0.6, 0.22 * difficulty)
        signs.append(
            _derive_sign(signs[int(rng.integers(0, k))], rng) if derive else _random_sign(rng)
        )
    return signs


def _random_sign(rng: np.random.Generator) -> dict:
    loc = rng.integers(0, len(_LOCATIONS))
    start = _LOCATIONS[loc] + rng.normal(0, 0.25, 2)
    if rng.uniform() < 0.3:
        end = start + rng.normal(0, 0.15, 2)  # a sign made in place
    else:
        end = _LOCATIONS[rng.integers(0, len(_LOCATIONS))] + rng.normal(0, 0.25, 2)
        end = start + (end - start) * rng.uniform(0.4, 1.0)
    shape0 = int(rng.integers(0, len(_HANDSHAPES)))
    shape1 = int(rng.integers(0, len(_HANDSHAPES))) if rng.uniform() < 0.3 else shape0
    movement = str(rng.choice(["line", "arc", "circle", "repeat", "wiggle", "twist"],
                              p=[0.3, 0.2, 0.15, 0.2, 0.07, 0.08]))  # fmt: skip
    hands = str(rng.choice(["one", "mirror", "alternate", "base"], p=[0.5, 0.25, 0.1, 0.15]))
    return {
        "start": start,
        "end": end,
        "shape0": _HANDSHAPES[shape0] + rng.normal(0, 0.05, 7),
        "shape1": _HANDSHAPES[shape1] + rng.normal(0, 0.05, 7),
        "orient0": np.array(
            [rng.uniform(-1.3, 0.6), rng.uniform(-1.2, 1.2), rng.uniform(-0.6, 0.6)]
        ),
        "orient_change": rng.normal(0, 0.4, 3) * (rng.uniform() < 0.4),
        "movement": movement,
        "arc": rng.normal(0, 0.6),
        "radius": rng.uniform(0.3, 0.7),
        "cycles": int(rng.integers(1, 4)),
        "repeat_dir": rng.normal(0, 1, 2),
        "hands": hands,
        "base_loc": _LOCATIONS[11 + rng.integers(0, 2)] * np.array([-1, 1]) + rng.normal(0, 0.2, 2),
        "base_shape": _HANDSHAPES[rng.integers(0, len(_HANDSHAPES))],
        "lips": str(rng.choice(["none", "open", "round", "stretch"], p=[0.6, 0.2, 0.1, 0.1])),
        "lip_cycles": int(rng.integers(1, 3)),
        "duration": rng.uniform(0.85, 1.15),
    }


def _derive_sign(base: dict, rng: np.random.Generator) -> dict:
    """A sign that differs from ``base`` in one attribute only (a near-minimal pair)."""
    sign = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in base.items()}
    change = rng.choice(["shape", "location", "reverse", "cycles", "hands", "lips"])
    if change == "shape":
        new = _HANDSHAPES[rng.integers(0, len(_HANDSHAPES))] + rng.normal(0, 0.05, 7)
        sign["shape0"], sign["shape1"] = new, new
    elif change == "location":
        shift = rng.normal(0, 1, 2)
        shift *= rng.uniform(0.6, 1.0) / (np.linalg.norm(shift) + 1e-9)
        sign["start"] = sign["start"] + shift
        sign["end"] = sign["end"] + shift
    elif change == "reverse":
        if np.linalg.norm(sign["end"] - sign["start"]) < 0.4:
            sign["end"] = sign["start"] + rng.normal(0, 0.8, 2)
        sign["start"], sign["end"] = sign["end"], sign["start"]
        sign["shape0"], sign["shape1"] = sign["shape1"], sign["shape0"]
    elif change == "cycles":
        sign["movement"] = "repeat"
        sign["cycles"] = 1 + sign["cycles"] % 3
        sign["repeat_dir"] = rng.normal(0, 1, 2)
    elif change == "hands":
        sign["hands"] = "one" if sign["hands"] != "one" else str(rng.choice(["mirror", "base"]))
    else:
        sign["lips"] = "open" if sign["lips"] == "none" else "none"
        sign["lip_cycles"] = int(rng.integers(1, 3))
    return sign


def _participant(index: int, seed: int, difficulty: float) -> dict:
    rng = np.random.default_rng([seed, 104729, index])
    d = difficulty
    return {
        "scale": float(np.exp(rng.normal(0, 0.11 * d))),
        "centre": np.array(FRAME_CENTRE)
        + np.array(FRAME_SPREAD_PARTICIPANT) * d * _stratified_normal(index, rng),
        "speed": float(np.exp(rng.normal(0, 0.18 * d))),
        # Every fifth signer is left-handed (about the real share), so each data set has some.
        "left": index % 5 == 2,
        "loc_bias": rng.normal(0, 0.12 * d, 2),
        "amplitude": float(np.exp(rng.normal(0, 0.1 * d))),
        "shape_bias": rng.normal(0, 0.05 * d, 7),
        "miss_rate": float(np.clip(rng.uniform(0.01, 0.07) * d, 0, 0.5)),
        "empty_rate": float(np.clip(rng.uniform(0.0, 0.012) * d, 0, 0.2)),
        "nondominant_hidden": float(np.clip(rng.uniform(0.5, 0.95), 0, 1)),
        "jitter": float(rng.uniform(0.6, 1.4)),
        "tilt": rng.normal(0, 0.05 * d),
        "depth": rng.uniform(-0.6, -0.2),
    }


def _stratified_normal(index: int, rng: np.random.Generator) -> np.ndarray:
    """Two standard-normal-like values for participant ``index``, stratified across indices.

    Quantiles follow the R2 low-discrepancy sequence (plus a little randomness), so any few
    consecutive participants already spread over the distribution like many random ones would:
    the spread between signers does not hinge on the luck of ten draws.
    """
    u = (0.5 + index * np.array([0.7548776662, 0.5698402910]) + rng.uniform(-0.04, 0.04, 2)) % 1
    return np.array([NormalDist().inv_cdf(float(np.clip(v, 0.03, 0.97))) for v in u])


# ------------------------------------------------------------------------------------------
# Rendering one clip
# ------------------------------------------------------------------------------------------
def _smooth_noise(rng: np.random.Generator, n: int, dims: int, knots: int = 4) -> np.ndarray:
    """Smooth random curves ``[n, dims]`` (interpolated knots), std ~1."""
    xs = np.linspace(0, 1, knots)
    ys = rng.normal(0, 1, (knots, dims))
    t = np.linspace(0, 1, n)
    return np.stack([np.interp(t, xs, ys[:, d]) for d in range(dims)], axis=1)


def _ease(t: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(t, 0, 1))


def _clip_length(rng: np.random.Generator, sign: dict, person: dict, d: float, scale: float):
    """Frames of lead-in, the sign itself and lead-out (lengths skewed like the real clips)."""
    core = 17 * sign["duration"] / person["speed"] * math.exp(rng.normal(0, 0.3 * max(d, 0.3)))
    core = max(4, round(core * scale))
    lead_in = int(rng.integers(0, 10) * scale) + 1
    lead_out = int(rng.integers(0, 10) * scale)
    # A tail of long clips: the signer waits before or after signing.
    if rng.uniform() < 0.07:
        idle = int(min(rng.lognormal(4.3, 0.8), 420) * scale)
        if rng.uniform() < 0.5:
            lead_in += idle
        else:
            lead_out += idle
    return lead_in, core, lead_out


def render_sequence(
    sign: dict, person: dict, rng: np.random.Generator, *, difficulty: float = 1.0,
    length_scale: float = 1.0,
) -> np.ndarray:  # fmt: skip
    """Render one clip as float64 ``[T, 543, 3]`` (NaN where nothing is detected)."""
    d = difficulty
    lead_in, core, lead_out = _clip_length(rng, sign, person, d, length_scale)
    n = lead_in + core + lead_out
    # Normalised sign time: 0 during lead-in, 0..1 across the sign, 1 during lead-out; the
    # signer's timing is warped a little per clip.
    tau = np.clip((np.arange(n) - lead_in) / max(core - 1, 1), 0, 1)
    warp = rng.uniform(-0.15, 0.15) * d
    tau = np.clip(tau + warp * np.sin(np.pi * tau), 0, 1)
    # How far the hands are from their rest position: rising during the lead-in, falling after.
    up = np.ones(n)
    if lead_in:
        rise = min(lead_in, int(rng.integers(3, 8)))
        up[:lead_in] = 0
        up[lead_in - rise : lead_in] = _ease(np.arange(1, rise + 1) / rise)
    if lead_out:
        fall = min(lead_out, int(rng.integers(3, 8)))
        up[lead_in + core :] = 0
        up[lead_in + core : lead_in + core + fall] = _ease(1 - np.arange(1, fall + 1) / fall)

    amp = person["amplitude"] * math.exp(rng.normal(0, 0.08 * d))
    noise_loc = rng.normal(0, 0.12 * d, 2) + person["loc_bias"]
    start, end = sign["start"] + noise_loc, sign["end"] + noise_loc
    path = start + (end - start) * amp * _ease(tau)[:, None]
    mv, cyc = sign["movement"], sign["cycles"]
    if mv == "arc":
        perp = np.array([-(end - start)[1], (end - start)[0]])
        path += sign["arc"] * np.sin(np.pi * tau)[:, None] * perp * 0.5
    elif mv == "circle":
        ang = 2 * np.pi * cyc * tau
        path += amp * sign["radius"] * np.stack([np.cos(ang) - 1, np.sin(ang)], 1)
    elif mv == "repeat":
        direction = sign["repeat_dir"] / (np.linalg.norm(sign["repeat_dir"]) + 1e-9)
        path += 0.35 * amp * np.abs(np.sin(np.pi * cyc * tau))[:, None] * direction
    path += 0.06 * d * _smooth_noise(rng, n, 2, knots=5)

    shape = sign["shape0"] + (sign["shape1"] - sign["shape0"]) * _ease(tau * 1.4 - 0.2)[:, None]
    shape = shape + person["shape_bias"] + rng.normal(0, 0.04 * d, 7)
    if mv == "wiggle":
        phase = np.arange(4) * 0.9
        wig = 0.3 * np.sin(2 * np.pi * 3 * tau[:, None] + phase) * (tau > 0)[:, None]
        shape[:, 2:6] = shape[:, 2:6] + wig
    shape = np.clip(shape, -0.1, 1.1)
    orient = sign["orient0"] + sign["orient_change"] * tau[:, None]
    if mv == "twist":
        orient[:, 0] += 0.6 * np.sin(2 * np.pi * cyc * tau)
    orient = orient + rng.normal(0, 0.06 * d, 3) + 0.05 * d * _smooth_noise(rng, n, 3)

    # Dominant hand (built as a right hand on the image-left side; mirrored below if left-handed).
    rest = _REST + rng.normal(0, 0.3, 2)
    dom_pos = rest + (path - rest) * up[:, None]
    dom = _place_hand(shape, orient, dom_pos, mirror=False)
    nd_visible = True
    if sign["hands"] == "one":
        # The idle hand rests low in the frame, drifting a little; often it is not detected.
        idle = _IDLE + rng.normal(0, 0.3, 2) + 0.15 * _smooth_noise(rng, n, 2, knots=3)
        relaxed = np.tile(_HANDSHAPES[15] + rng.normal(0, 0.05, 7), (n, 1))
        nd = _place_hand(relaxed, np.tile([0.9, 0.4, 0.0], (n, 1)), idle, mirror=True)
        nd_visible = rng.uniform() > person["nondominant_hidden"]
    else:
        if sign["hands"] == "base":
            target = np.tile(sign["base_loc"] + noise_loc, (n, 1))
            nd_shape = np.tile(sign["base_shape"], (n, 1))
            nd_orient = np.tile([0.3, 0.8, 0.2], (n, 1))
        else:
            nd_tau = tau if sign["hands"] == "mirror" else np.clip(1 - tau, 0, 1)
            target = (start + (end - start) * amp * _ease(nd_tau)[:, None]) * np.array([-1, 1])
            target = target + (path - (start + (end - start) * amp * _ease(tau)[:, None])) * [-1, 1]
            nd_shape, nd_orient = shape, orient
        rest_nd = _REST * np.array([-1, 1]) + rng.normal(0, 0.3, 2)
        nd = _place_hand(nd_shape, nd_orient, rest_nd + (target - rest_nd) * up[:, None], True)

    # Face: mouth opening/shape and blinks.
    face_t, open_w, width_w, blink_w = _face_template()
    mouth_open = 0.02 + 0.02 * d * np.abs(_smooth_noise(rng, n, 1, knots=6)[:, 0])
    mouth_wide = np.zeros(n)
    lip_tau = np.sin(np.pi * sign["lip_cycles"] * tau) ** 2 * (tau > 0)
    if sign["lips"] == "open":
        mouth_open = mouth_open + 0.22 * lip_tau
    elif sign["lips"] == "round":
        mouth_open = mouth_open + 0.1 * lip_tau
        mouth_wide = mouth_wide - 0.1 * lip_tau
    elif sign["lips"] == "stretch":
        mouth_wide = mouth_wide + 0.1 * lip_tau
    blink = np.zeros(n)
    for b in np.flatnonzero(rng.uniform(size=n) < 0.03):
        blink[b : b + 3] = (1.0, 0.8, 0.3)[: len(blink[b : b + 3])]
    face = np.broadcast_to(face_t, (n, 468, 3)).copy()
    face[:, :, 1] += mouth_open[:, None] * open_w
    face[:, :, 0] += mouth_wide[:, None] * width_w
    face[:, :, 1] += blink[:, None] * blink_w * 0.045

    # Head pose: participant tilt plus a slow sway; the body follows the head a little.
    head = 0.1 * d * _smooth_noise(rng, n, 3, knots=4)
    roll = person["tilt"] + 0.03 * head[:, 0]
    face = _rotate_xy(face, roll)
    sway = head[:, 1:] * 0.15
    face[:, :, :2] += sway[:, None, :]

    # Pose (33 points) from the face, the shoulders and the hands.
    pose = _pose(face, dom, nd, sway)

    frames = np.empty((n, N_LANDMARKS, 3))
    frames[:, FACE_OFF : FACE_OFF + 468] = face
    frames[:, POSE_OFF : POSE_OFF + 33] = pose
    if person["left"]:
        # A left-handed signer mirrors the sign: the dominant hand is the subject's left hand.
        frames[:, LHAND_OFF : LHAND_OFF + 21] = dom
        frames[:, RHAND_OFF : RHAND_OFF + 21] = nd
        frames = _mirror(frames)
    else:
        frames[:, RHAND_OFF : RHAND_OFF + 21] = dom
        frames[:, LHAND_OFF : LHAND_OFF + 21] = nd

    # Body units -> image units, with per-participant scale, position and depth, and a framing
    # that changes a little from clip to clip (the camera is set up anew for each recording).
    unit = BODY_UNIT * person["scale"] * math.exp(rng.normal(0, 0.06 * d))
    frames *= np.array([unit, unit * ASPECT, unit])
    centre = person["centre"] + rng.normal(0, FRAME_SPREAD_CLIP * d, 2)
    frames += np.array([centre[0], centre[1], 0.0])
    frames[:, POSE_OFF : POSE_OFF + 33, 2] += person["depth"]
    # Landmark jitter; hands jitter more than the face (float32 noise: it is only noise).
    jit = np.float32(0.0015 * d * person["jitter"])
    noise = rng.standard_normal(frames.shape, dtype=np.float32)
    noise *= jit
    noise[:, LHAND_OFF : LHAND_OFF + 21] *= 1.4
    noise[:, RHAND_OFF : RHAND_OFF + 21] *= 1.4
    frames += noise
    # Hand wrists carry z ~ 0 like MediaPipe's hand model.
    for off in (LHAND_OFF, RHAND_OFF):
        frames[:, off : off + 21, 2] -= frames[:, off : off + 1, 2]

    _drop_detections(frames, rng, person, nd_visible, d)
    return frames


def _rotate_xy(pts: np.ndarray, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    out = pts.copy()
    out[:, :, 0] = c * pts[:, :, 0] - s * pts[:, :, 1]
    out[:, :, 1] = s * pts[:, :, 0] + c * pts[:, :, 1]
    return out


def _place_hand(shape: np.ndarray, orient: np.ndarray, pos: np.ndarray, mirror: bool):
    local = _hand_shape_points(shape)
    rot = _rotation(orient[:, 0], orient[:, 1], orient[:, 2])
    pts = np.einsum("tij,tkj->tki", rot, local) * HAND_SCALE
    if mirror:
        pts[:, :, 0] *= -1
    # The sign location is where the palm centre goes, not the wrist.
    palm = pts[:, 9:10] * 0.5
    return pts - palm + np.concatenate([pos, np.zeros((len(pos), 1))], axis=1)[:, None, :]


def _mirror(frames: np.ndarray) -> np.ndarray:
    """Mirror a whole frame about the face's vertical axis (x = 0 in body units)."""
    out = frames.copy()
    out[:, :, 0] *= -1
    # Swap face/pose sides so the mirrored face is a valid face again; hands were placed already.
    face = out[:, FACE_OFF : FACE_OFF + 468]
    face[:] = face[:, _FACE_MIRROR]
    pose = out[:, POSE_OFF : POSE_OFF + 33]
    pose[:] = pose[:, _POSE_MIRROR]
    return out


def _face_mirror_perm() -> np.ndarray:
    perm = np.arange(468)
    pairs = list(zip(LIP_LEFT, LIP_RIGHT, strict=True)) + list(zip(REYE, LEYE, strict=True))
    pairs.extend([(98, 327), (234, 454)])
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


_FACE_MIRROR = _face_mirror_perm()
_POSE_MIRROR = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20,
                         19, 22, 21, 24, 23, 26, 25, 28, 27, 30, 29, 32, 31])  # fmt: skip


def _pose(face: np.ndarray, dom: np.ndarray, nd: np.ndarray, sway: np.ndarray) -> np.ndarray:
    """33 pose landmarks (right-handed layout: the subject's right side is image left)."""
    n = face.shape[0]
    pose = np.zeros((n, 33, 3))
    pose[:, 0] = face[:, 1]
    for i, (fi, dx) in enumerate(((133, 0), (159, 0), (33, 0))):
        pose[:, 4 + i] = face[:, fi] + [dx, 0, 0]
        pose[:, 1 + i] = face[:, _FACE_MIRROR[fi]]
    body = np.array(
        [[0.85, -0.1], [-0.85, -0.1], [0.3, 0.6], [-0.3, 0.6], [1.55, 2.0], [-1.55, 2.0],
         [1.2, 6.8], [-1.2, 6.8], [1.3, 9.5], [-1.3, 9.5], [1.3, 12.5], [-1.3, 12.5],
         [1.3, 12.9], [-1.3, 12.9], [1.5, 13.0], [-1.5, 13.0]]
    )  # fmt: skip
    rows = [7, 8, 9, 10, 11, 12, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32]
    for r, xy in zip(rows, body, strict=True):
        pose[:, r, :2] = xy + (sway * (0.5 if r > 10 else 1.0))
    pose[:, 11:13, 2] = -0.3
    pose[:, 23:, 2] = 0.0
    # Wrists and hand points come from the hands (pose 16 = right wrist = dominant here).
    for wrist, elbow, shoulder, hand in ((16, 14, 12, dom), (15, 13, 11, nd)):
        pose[:, wrist] = hand[:, 0]
        pose[:, wrist + 2] = hand[:, 17]
        pose[:, wrist + 4] = hand[:, 5]
        pose[:, wrist + 6] = hand[:, 2]
        pose[:, elbow] = _elbow(pose[:, shoulder], hand[:, 0])
    return pose


def _elbow(shoulder: np.ndarray, wrist: np.ndarray) -> np.ndarray:
    """Elbow ``[T, 3]`` of a two-segment arm from shoulder to wrist, hanging down and outwards."""
    upper, fore = 3.0, 2.8  # body units
    vec = wrist[:, :2] - shoulder[:, :2]
    dist = np.clip(np.linalg.norm(vec, axis=1, keepdims=True), 0.5, upper + fore - 1e-3)
    unit = vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-9)
    along = (upper**2 - fore**2 + dist**2) / (2 * dist)
    across = np.sqrt(np.clip(upper**2 - along**2, 0, None))
    perp = np.stack([-unit[:, 1], unit[:, 0]], axis=1)
    # Of the two solutions take the lower one (y down), tipped outwards (away from the body).
    outwards = np.sign(shoulder[:, :1]) + (shoulder[:, :1] == 0)
    perp *= np.where(perp[:, 1:] + 0.3 * outwards * perp[:, :1] < 0, -1.0, 1.0)
    elbow = shoulder.copy()
    elbow[:, :2] += along * unit + across * perp
    return elbow


def _drop_detections(frames, rng, person, nd_visible, d) -> None:
    """NaN out what MediaPipe would miss: off-image hands, flickers, empty frames."""
    n = frames.shape[0]
    for off in (LHAND_OFF, RHAND_OFF):
        hand = frames[:, off : off + 21]
        # Mostly outside the image (mostly below it, hands down): not detected.
        centre = hand[:, :, :2].mean(axis=1)
        missed = (centre[:, 1] > 1.05) | (centre[:, 0] < 0.02) | (centre[:, 0] > 0.98)
        # Flicker: short runs of missed detections.
        starts = rng.uniform(size=n) < person["miss_rate"]
        for s in np.flatnonzero(starts):
            missed[s : s + int(rng.integers(1, 4))] = True
        hand[missed] = np.nan
    hidden_off = RHAND_OFF if person["left"] else LHAND_OFF
    if not nd_visible:
        frames[:, hidden_off : hidden_off + 21] = np.nan
    empty = rng.uniform(size=n) < person["empty_rate"]
    frames[empty] = np.nan


# ------------------------------------------------------------------------------------------
# The data set
# ------------------------------------------------------------------------------------------
def _render_job(job: tuple) -> list[int]:
    """Worker: render and write a batch of clips; returns their frame counts."""
    root, seed, difficulty, length_scale, n_signs, people, items = job
    signs = _sign_vocabulary(n_signs, seed, difficulty)
    counts = []
    for p_index, sign_index, rep, rel in items:
        rng = np.random.default_rng([seed, 31337, p_index, sign_index, rep])
        frames = render_sequence(
            signs[sign_index], people[p_index], rng, difficulty=difficulty,
            length_scale=length_scale,
        )  # fmt: skip
        first = int(rng.integers(0, 60))
        write_landmark_file(Path(root) / rel, frames, first)
        counts.append(frames.shape[0])
    return counts


def generate_dataset(
    root: str | Path,
    *,
    n_signs: int = 250,
    n_participants: int = 10,
    samples_per_sign: int = 3,
    seed: int = 0,
    difficulty: float = 1.0,
    length_scale: float = 1.0,
    workers: int | None = None,
    progress: bool = True,
) -> SyntheticSummary:
    """Write a synthetic data set in the Kaggle ISLR layout under ``root``.

    Writes ``train.csv``, ``train_landmark_files/<participant_id>/<sequence_id>.parquet`` and
    ``sign_to_prediction_index_map.json`` (the first ``n_signs`` signs of the packaged 250-sign
    vocabulary, re-indexed 0..n-1 in sorted order).

    Args:
        root: output folder (created).
        n_signs: number of signs (1..250).
        n_participants: number of signers.
        samples_per_sign: clips per (participant, sign).
        seed: everything is a deterministic function of the arguments (not of ``workers``).
        difficulty: scales all nuisance variation; 1.0 is the calibrated default.
        length_scale: multiplies clip lengths (``tiny`` uses 0.5 for fast tests).
        workers: processes (default: CPU count; 1 = in this process).
        progress: show a tqdm bar when stderr is a terminal.
    """
    t0 = time.perf_counter()
    vocabulary = sorted(read_sign_map(None))
    if not 1 <= n_signs <= len(vocabulary):
        raise ValueError(f"n_signs must be in 1..{len(vocabulary)}, got {n_signs}")
    if n_participants < 1 or samples_per_sign < 1:
        raise ValueError(
            f"n_participants and samples_per_sign must be >= 1, got {n_participants}, "
            f"{samples_per_sign}"
        )
    if not difficulty >= 0 or not length_scale > 0:
        raise ValueError(f"difficulty must be >= 0 and length_scale > 0, got {difficulty}, "
                         f"{length_scale}")  # fmt: skip
    root = Path(root)
    names = sorted(_first_signs(n_signs))
    rng = np.random.default_rng([seed, 17])
    pids = rng.choice(np.arange(10000, 100000), size=n_participants, replace=False)
    n_total = n_signs * n_participants * samples_per_sign
    sids = np.unique(rng.integers(1_000_000, 4_294_967_295, size=n_total * 2))
    sids = rng.permutation(sids)[:n_total]
    if len(sids) < n_total:  # astronomically unlikely
        raise RuntimeError("could not draw unique sequence ids")
    people = [_participant(i, seed, difficulty) for i in range(n_participants)]
    # Sign k of the vocabulary keeps its identity whatever n_signs is; labels follow sorting.
    sign_of_name = {name: i for i, name in enumerate(_first_signs(n_signs))}
    items, rows = [], []
    order = rng.permutation(n_total)
    k = 0
    for p in range(n_participants):
        for name in names:
            for rep in range(samples_per_sign):
                sid = int(sids[order[k]])
                k += 1
                rel = f"train_landmark_files/{pids[p]}/{sid}.parquet"
                items.append((p, sign_of_name[name], rep, rel))
                rows.append((rel, int(pids[p]), sid, name))
    root.mkdir(parents=True, exist_ok=True)
    workers = default_workers(workers)
    chunk = max(1, min(64, math.ceil(len(items) / (workers * 4))))
    jobs = [
        (str(root), seed, difficulty, length_scale, n_signs, people, items[i : i + chunk])
        for i in range(0, len(items), chunk)
    ]
    frames_total = 0
    bar = progress_bar(len(items), progress, "synth")
    if workers == 1:
        for job in jobs:
            counts = _render_job(job)
            frames_total += sum(counts)
            bar.update(len(counts))
    else:
        with ProcessPoolExecutor(workers, mp_context=mp_context()) as pool:
            for counts in pool.map(_render_job, jobs):
                frames_total += sum(counts)
                bar.update(len(counts))
    bar.close()
    # train.csv goes last: its presence marks a finished data set (islr-synth --if-missing).
    with open(root / SIGN_MAP_FILENAME, "w", encoding="utf-8") as f:
        json.dump({name: i for i, name in enumerate(names)}, f)
    # train.csv in a shuffled (but deterministic) order, like Kaggle's.
    csv_rows = [rows[i] for i in np.random.default_rng([seed, 23]).permutation(len(rows))]
    tmp = root / (TRAIN_CSV_FILENAME + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("path,participant_id,sequence_id,sign\n")
        for rel, pid, sid, name in csv_rows:
            f.write(f"{rel},{pid},{sid},{name}\n")
    os.replace(tmp, root / TRAIN_CSV_FILENAME)
    summary = SyntheticSummary(
        root=root,
        n_files=len(items),
        n_signs=n_signs,
        n_participants=n_participants,
        n_frames=frames_total,
        seconds=time.perf_counter() - t0,
        participant_ids=[int(p) for p in pids],
    )
    log.info("wrote %s", summary)
    return summary


def _first_signs(n_signs: int) -> list[str]:
    """The first ``n_signs`` signs of the packaged vocabulary (by class index)."""
    sign_map = read_sign_map(None)
    return sorted(sign_map, key=sign_map.__getitem__)[:n_signs]
