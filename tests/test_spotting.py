"""Sign spotting on real streams: real Kaggle clips stitched with real rest frames.

The activity rule is tested on its own (no model); the classification of the segments with a
real (untrained, seeded) network: each spotted segment must carry the sign that the clip-level
prediction gives its clip. The stream path (MediaPipe on a real video) and the file path (the
same video's extracted parquet) must give the same segments.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest
from omegaconf import OmegaConf

from islr.data import read_landmark_file
from islr.export.activity import ActivityRule, active_segments
from islr.export.spot_eval import TrueSegment, rest_frames, score_segments, stitch_stream

# one signer's clips (34503) whose first and last frames show a hand: their segments are exact
CLIPS = (
    ("hello", "train_landmark_files/34503/480100968.parquet"),
    ("thankyou", "train_landmark_files/34503/2470333990.parquet"),
    ("hello", "train_landmark_files/34503/757253171.parquet"),
)
needs_tf = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="prediction needs the TensorFlow backend"
)


@pytest.fixture(scope="module")
def stream(real_sample_root: Path):
    clips = [(sign, read_landmark_file(real_sample_root / rel)) for sign, rel in CLIPS]
    recording = np.concatenate([f for _, f in clips])
    rests = [rest_frames(recording, n, offset=7 * n) for n in (30, 25, 40, 35)]
    frames, truth, rest_mask = stitch_stream(clips, rests)
    return clips, frames, truth, rest_mask


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    from test_export import make_run_dir

    return make_run_dir(tmp_path_factory.mktemp("spot_run"), 5)


@pytest.mark.parametrize(
    "change, key",
    [
        (("min_speed:", "min_sped:"), "activity.min_sped"),
        (("window: 64", "window: wide"), "window"),
        (("max_gap: 12", "max_gap: 1.5"), "activity.max_gap"),
        (("stride: 32\n", ""), "stride"),
    ],
)
def test_a_wrong_spot_config_fails_naming_the_key(change: tuple[str, str], key: str) -> None:
    from importlib import resources

    from islr.export.activity import read_spot_values

    text = (resources.files("islr.conf") / "spot" / "default.yaml").read_text()
    assert change[0] in text
    with pytest.raises(ValueError, match=rf"^mine\.yaml: {re.escape(key)}: "):
        read_spot_values(text.replace(*change), "mine.yaml")


def test_hydra_composes_the_spot_group_with_its_schema() -> None:
    from hydra import compose, initialize_config_module
    from hydra.errors import ConfigCompositionException

    from islr.export.activity import shipped_spot_values

    with initialize_config_module(config_module="islr.conf", version_base="1.3"):
        cfg = compose("spot/default")
        assert OmegaConf.to_container(cfg.spot) == shipped_spot_values()
        with pytest.raises(ConfigCompositionException, match="min_sped"):
            compose("spot/default", overrides=["spot.activity.min_sped=0.1"])


def test_activity_finds_every_clip_of_a_real_stream(stream) -> None:
    _, frames, truth, rest_mask = stream
    found = active_segments(frames, ActivityRule.shipped())
    assert [(t.start_frame, t.end_frame) for t in truth] == found
    assert not rest_mask[[f for s, e in found for f in range(s, e + 1)]].any()


def test_rest_and_all_nan_frames_give_no_segment(stream) -> None:
    clips, *_ = stream
    rule = ActivityRule.shipped()
    rest = rest_frames(np.concatenate([f for _, f in clips]), 200)
    assert np.isfinite(rest[:, :468]).any()  # a real face, only the hands gone
    assert active_segments(rest, rule) == []
    assert active_segments(np.full((120, 543, 3), np.nan, np.float32), rule) == []


def test_a_held_still_hand_is_not_signing(stream) -> None:
    clips, *_ = stream
    still = np.repeat(clips[0][1][:1], 90, axis=0)  # one real frame, hands in view, held
    rule = ActivityRule.shipped()
    assert active_segments(still, rule) == []
    assert active_segments(still, ActivityRule.shipped(min_speed=0.0)) == [(0, 89)]


def test_short_pauses_merge_and_long_ones_split(stream) -> None:
    clips, *_ = stream
    clip = clips[1][1]
    rule = ActivityRule.shipped()
    hands_gone = rest_frames(clip, rule.max_gap)
    joined = np.concatenate([clip, hands_gone, clip])
    assert active_segments(joined, rule) == [(0, len(joined) - 1)]
    apart = np.concatenate([clip, rest_frames(clip, rule.max_gap + 10), clip])
    assert len(active_segments(apart, rule)) == 2


def test_scores_count_hits_boundaries_and_false_alarms() -> None:
    from islr.export.spot import SignSegment

    truth = [TrueSegment(10, 29, "a"), TrueSegment(50, 69, "b")]
    rest = np.ones(80, bool)
    rest[10:30] = rest[50:70] = False
    predicted = [SignSegment(12, 31, "a", 0.9), SignSegment(50, 79, "a", 0.8)]
    s = score_segments([(predicted, truth, rest)])
    assert (s.hits, s.precision, s.recall) == (1, 0.5, 0.5)
    assert s.boundary_error == 2.0 and s.false_alarm_rate == pytest.approx(12 / 40)


@needs_tf
def test_spotting_names_every_sign_of_a_real_stream_in_order(stream, run_dir) -> None:
    from islr.export import load_predictor, spot_signs
    from islr.export.predict import sign_names, top_signs

    clips, frames, truth, _ = stream
    predictor = load_predictor(run_dir)
    names = sign_names(predictor)
    found = spot_signs(frames, predictor, names, min_confidence=0.0)
    assert [(s.start_frame, s.end_frame) for s in found] == [
        (t.start_frame, t.end_frame) for t in truth
    ]
    expected = [top_signs(predictor, clip, names, 1)[0] for _, clip in clips]
    assert [s.sign for s in found] == [sign for sign, _, _ in expected]
    assert [s.confidence for s in found] == pytest.approx([p for _, _, p in expected], abs=1e-6)
    # above every probability: each segment is no sign, and none is returned
    assert spot_signs(frames, predictor, names, min_confidence=1.0) == []
    rejected = spot_signs(frames, predictor, names, min_confidence=1.0, include_rejected=True)
    assert [s.sign for s in rejected] == [None] * len(truth)
    empty = np.full((100, 543, 3), np.nan, np.float32)
    assert spot_signs(empty, predictor, names, min_confidence=0.0) == []


@needs_tf
def test_a_long_segment_is_classified_in_merged_windows(stream, run_dir) -> None:
    from islr.export import SpotSettings, load_predictor, spot_signs
    from islr.export.predict import sign_names

    clips, *_ = stream
    predictor = load_predictor(run_dir)
    names = sign_names(predictor)
    long_clip = np.concatenate([clips[1][1]] * 4)  # 152 frames of signing, no pause
    settings = SpotSettings.shipped(window=24, stride=12, min_confidence=0.0)
    found = spot_signs(long_clip, predictor, names, settings=settings)
    assert found[0].start_frame == 0 and found[-1].end_frame == len(long_clip) - 1
    assert all(a.end_frame + 1 == b.start_frame for a, b in itertools.pairwise(found))
    assert all(a.sign != b.sign for a, b in itertools.pairwise(found))  # runs merged
    assert len(found) < len(range(0, len(long_clip) - 24 + 1, 12))


@needs_tf
@pytest.mark.slow
def test_stream_path_and_file_path_agree(real_videos_dir, run_dir, tmp_path, capsys) -> None:
    from islr.cli.predict import main
    from islr.data.video import extract_clips
    from islr.data.writer import write_landmark_file
    from islr.export import load_predictor, spot_signs
    from islr.export.predict import sign_names

    video = real_videos_dir / "hello" / "hello_1.mp4"
    (clip,) = extract_clips([video])
    assert clip.error is None and clip.frames is not None
    parquet = tmp_path / "hello_1.parquet"
    write_landmark_file(parquet, clip.frames)
    predictor = load_predictor(run_dir)
    from_file = spot_signs(read_landmark_file(parquet), predictor, sign_names(predictor))
    assert from_file, "the real clip holds at least one spotted sign"

    outputs = {}
    for name, source in (("stream", video), ("parquet", parquet)):
        out = tmp_path / f"{name}.json"
        assert main([str(run_dir), "--stream", str(source), "--spot", "--output", str(out)]) == 0
        outputs[name] = json.loads(out.read_text())
    printed = capsys.readouterr().out.strip().splitlines()
    expected = [s.as_dict() for s in from_file]
    assert outputs["stream"] == outputs["parquet"] == pytest.approx(expected)
    assert len(printed) == 2 * len(expected) and printed[0].startswith("frames ")
