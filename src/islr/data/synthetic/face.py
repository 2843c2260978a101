"""The synthetic face: a 468-point MediaPipe-like template with mouth and blink weights."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from islr.landmarks import LEYE, LIP_LEFT, LIP_RIGHT, REYE

# The template is in body units: origin at the face centre, y down, z towards the camera negative.
# Outer and inner lip contours from one mouth corner to the other (image-left corner first).
_LIP_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
_LIP_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
_LIP_UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
_LIP_LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
MOUTH_CENTRE = np.array([0.0, 0.62])


@lru_cache(maxsize=1)
def face_template() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


def rotate_xy(pts: np.ndarray, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    out = pts.copy()
    out[:, :, 0] = c * pts[:, :, 0] - s * pts[:, :, 1]
    out[:, :, 1] = s * pts[:, :, 0] + c * pts[:, :, 1]
    return out


def _face_mirror_perm() -> np.ndarray:
    perm = np.arange(468)
    pairs = list(zip(LIP_LEFT, LIP_RIGHT, strict=True)) + list(zip(REYE, LEYE, strict=True))
    pairs.extend([(98, 327), (234, 454)])
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


FACE_MIRROR = _face_mirror_perm()
