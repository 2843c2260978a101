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

The package has one concept per module: ``face``, ``hands`` (the kinematic hand model),
``vocabulary`` (the signs), ``participants`` (the signers), ``body`` (pose landmarks),
``render`` (one clip) and ``generate`` (the data set on disk).
"""

from islr.data.synthetic.generate import PRESETS, SyntheticSummary, generate_dataset
from islr.data.synthetic.render import render_sequence

__all__ = ["PRESETS", "SyntheticSummary", "generate_dataset", "render_sequence"]
