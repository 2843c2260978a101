"""The synthetic sign vocabulary: one parametric description per sign, some near-minimal pairs."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from islr.data.synthetic.hands import HANDSHAPES

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


@lru_cache(maxsize=4)
def sign_vocabulary(n_signs: int, seed: int, difficulty: float) -> list[dict]:
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
    shape0 = int(rng.integers(0, len(HANDSHAPES)))
    shape1 = int(rng.integers(0, len(HANDSHAPES))) if rng.uniform() < 0.3 else shape0
    movement = str(rng.choice(["line", "arc", "circle", "repeat", "wiggle", "twist"],
                              p=[0.3, 0.2, 0.15, 0.2, 0.07, 0.08]))  # fmt: skip
    hands = str(rng.choice(["one", "mirror", "alternate", "base"], p=[0.5, 0.25, 0.1, 0.15]))
    return {
        "start": start,
        "end": end,
        "shape0": HANDSHAPES[shape0] + rng.normal(0, 0.05, 7),
        "shape1": HANDSHAPES[shape1] + rng.normal(0, 0.05, 7),
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
        "base_shape": HANDSHAPES[rng.integers(0, len(HANDSHAPES))],
        "lips": str(rng.choice(["none", "open", "round", "stretch"], p=[0.6, 0.2, 0.1, 0.1])),
        "lip_cycles": int(rng.integers(1, 3)),
        "duration": rng.uniform(0.85, 1.15),
    }


def _derive_sign(base: dict, rng: np.random.Generator) -> dict:
    """A sign that differs from ``base`` in one attribute only (a near-minimal pair)."""
    sign = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in base.items()}
    change = rng.choice(["shape", "location", "reverse", "cycles", "hands", "lips"])
    if change == "shape":
        new = HANDSHAPES[rng.integers(0, len(HANDSHAPES))] + rng.normal(0, 0.05, 7)
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
