"""Synthetic participants (signers): body scale, framing, speed, handedness, style, detection."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

# Mean face centre of a participant in the image, and the spread between participants and
# between one participant's clips (real clips: centre ~(0.46, 0.40), between-signer std
# ~0.04 / 0.07, within-signer std ~0.04).
FRAME_CENTRE = (0.46, 0.40)
FRAME_SPREAD_PARTICIPANT = (0.045, 0.05)
FRAME_SPREAD_CLIP = 0.04


def participant(index: int, seed: int, difficulty: float) -> dict:
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
