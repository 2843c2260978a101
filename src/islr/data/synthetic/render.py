"""Rendering one synthetic clip: a sign by a participant as MediaPipe-holistic-like frames."""

from __future__ import annotations

import math

import numpy as np

from islr.data.synthetic.body import mirror_frames, pose_points
from islr.data.synthetic.face import face_template, rotate_xy
from islr.data.synthetic.hands import HANDSHAPES, place_hand
from islr.data.synthetic.participants import FRAME_SPREAD_CLIP
from islr.landmarks import N_LANDMARKS, TYPE_OFFSETS

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
_REST = np.array([-1.3, 8.5])  # hands resting in the lap: below the image for everyone
_IDLE = np.array([1.3, 5.4])  # the non-dominant hand idle at the bottom of the frame


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
    dom = place_hand(shape, orient, dom_pos, mirror=False)
    nd_visible = True
    if sign["hands"] == "one":
        # The idle hand rests low in the frame, drifting a little; often it is not detected.
        idle = _IDLE + rng.normal(0, 0.3, 2) + 0.15 * _smooth_noise(rng, n, 2, knots=3)
        relaxed = np.tile(HANDSHAPES[15] + rng.normal(0, 0.05, 7), (n, 1))
        nd = place_hand(relaxed, np.tile([0.9, 0.4, 0.0], (n, 1)), idle, mirror=True)
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
        nd = place_hand(nd_shape, nd_orient, rest_nd + (target - rest_nd) * up[:, None], True)

    # Face: mouth opening/shape and blinks.
    face_t, open_w, width_w, blink_w = face_template()
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
    face = rotate_xy(face, roll)
    sway = head[:, 1:] * 0.15
    face[:, :, :2] += sway[:, None, :]

    # Pose (33 points) from the face, the shoulders and the hands.
    pose = pose_points(face, dom, nd, sway)

    frames = np.empty((n, N_LANDMARKS, 3))
    frames[:, FACE_OFF : FACE_OFF + 468] = face
    frames[:, POSE_OFF : POSE_OFF + 33] = pose
    if person["left"]:
        # A left-handed signer mirrors the sign: the dominant hand is the subject's left hand.
        frames[:, LHAND_OFF : LHAND_OFF + 21] = dom
        frames[:, RHAND_OFF : RHAND_OFF + 21] = nd
        frames = mirror_frames(frames)
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
