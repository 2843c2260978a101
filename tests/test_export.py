"""Export: raw-frame inference model, SavedModel -> TFLite with the Kaggle signature, parity gate.

TensorFlow-only (TFLite conversion): skipped under other Keras backends. Networks are tiny
``build_sign_model`` instances saved into fake run directories (RUNDIR contract).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

pytestmark = [
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="export needs the TensorFlow backend"
    ),
    # One worker builds this module's exports once (effective with `pytest --dist loadgroup`).
    pytest.mark.xdist_group(name="test_export"),
]

from islr.landmarks import LHAND, N_LANDMARKS, POINT_INDICES  # noqa: E402
from model_settings import model_settings  # noqa: E402

NUM_CLASSES = 6
MAX_LEN = 24
TINY = model_settings(dim=32, num_stacks=1, conv_blocks_per_stack=1, kernel_size=5, num_heads=2)
FP32_ONLY = {"variants": ("fp32",), "submission_variant": "fp32"}


def export_settings(**changes):
    """conf/export/default.yaml's settings with ``changes``."""
    from islr.export import ExportSettings

    return dataclasses.replace(ExportSettings.shipped(), **changes)


def export(sources, out_dir, **changes):
    """``export_models`` with the shipped settings but ``changes``, as ``islr-export`` calls it."""
    from islr.export import export_models

    return export_models(sources, out_dir, export_settings(**changes), max_len=None, sign_map=None)


def _frames(rng: np.random.Generator, t: int) -> np.ndarray:
    """A plausible raw video [t, 543, 3]: landmarks drifting around the image centre."""
    base = rng.uniform(0.3, 0.7, (1, N_LANDMARKS, 3))
    walk = np.cumsum(rng.normal(0, 0.01, (t, N_LANDMARKS, 3)), axis=0)
    return (base + walk).astype(np.float32)


def _perturb(net: keras.Model, seed: int) -> None:
    """Move every weight off its initial value (as training would), BN statistics included."""
    rng = np.random.default_rng(seed)
    for v in net.weights:
        if "float" not in str(v.dtype):
            continue
        w = keras.ops.convert_to_numpy(v)
        if "moving_variance" in v.path:
            w = rng.uniform(0.5, 1.5, w.shape)
        else:
            w = w + rng.normal(0.0, 0.05, w.shape)
        v.assign(w.astype(np.float32))


def make_run_dir(root: Path, seed: int, *, policy: str | None = None) -> Path:
    """A fake training run: checkpoints/best.keras + sign map (as the trainer writes them)."""
    from islr.model import build_sign_model

    keras.utils.set_random_seed(seed)
    if policy:
        keras.config.set_dtype_policy(policy)
    try:
        net = build_sign_model(max_len=MAX_LEN, num_classes=NUM_CLASSES, **TINY)
    finally:
        keras.config.set_dtype_policy("float32")
    _perturb(net, seed)
    run = root / f"run_{seed}"
    (run / "checkpoints").mkdir(parents=True)
    net.save(run / "checkpoints" / "best.keras")
    signs = {f"sign_{chr(ord('a') + i)}": i for i in range(NUM_CLASSES)}
    (run / "sign_to_prediction_index_map.json").write_text(json.dumps(signs))
    return run


def keras_logits(net: keras.Model, frames: np.ndarray) -> np.ndarray:
    """Independent path: select the 118 points with numpy and call the network on a batch."""
    x = frames[:, list(POINT_INDICES)][None]
    return keras.ops.convert_to_numpy(net(x, training=False))[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    return [make_run_dir(root, 1), make_run_dir(root, 2)]


@pytest.fixture(scope="module")
def exported(runs) -> Path:
    """export_run on a run whose .hydra/config.yaml holds the training-time export node."""
    from islr.export import export_run

    hydra_dir = runs[0] / ".hydra"
    hydra_dir.mkdir()
    (hydra_dir / "config.yaml").write_text(
        textwrap.dedent(
            """\
            export:
              enabled: true
              variants: [fp32, fp16, dynamic]
              submission_variant: fp16
              output: logits
              keep_saved_model: true
              tolerances: {fp32: 1.0e-4, fp16: 5.0e-2, dynamic: 0.5}
              latency_frames: 32
              latency_runs: 3
              out_dir: ${paths.output_dir}/export
              web: {enabled: false, window: 64, every: 8, top_k: 3, app_dir: null,
                    node_modules: null}
            """
        )
    )
    report = export_run(runs[0])
    assert report is not None
    return Path(report.out_dir)


@pytest.fixture(scope="module")
def ensemble_export(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ens") / "export"
    export(runs, out, **FP32_ONLY, latency_runs=2)
    return out


def test_export_run_writes_contract_files(exported, runs) -> None:
    # The run's own export node (out_dir unresolvable outside Hydra) -> <run>/export.
    assert exported == runs[0] / "export"
    for name in (
        "model.keras",
        "saved_model/saved_model.pb",
        "model_fp32.tflite",
        "model_fp16.tflite",
        "model_dynamic.tflite",
        "submission.zip",
        "sign_to_prediction_index_map.json",
        "report.json",
        "report.md",
    ):
        assert (exported / name).exists(), name
    # Nothing temporary is left beside the export.
    assert not [p for p in exported.parent.iterdir() if ".partial-" in p.name]
    with zipfile.ZipFile(exported / "submission.zip") as zf:
        assert zf.namelist() == ["model.tflite"]
        assert zf.read("model.tflite") == (exported / "model_fp16.tflite").read_bytes()
    signs = json.loads((exported / "sign_to_prediction_index_map.json").read_text())
    assert signs == json.loads((runs[0] / "sign_to_prediction_index_map.json").read_text())


def test_report_matches_files(exported) -> None:
    report = json.loads((exported / "report.json").read_text())
    assert report["num_classes"] == NUM_CLASSES and report["max_len"] == MAX_LEN
    by_name = {f["file"]: f for f in report["files"]}
    for variant in ("fp32", "fp16", "dynamic"):
        entry = by_name[f"model_{variant}.tflite"]
        assert entry["size_bytes"] == (exported / entry["file"]).stat().st_size
        assert entry["max_abs_diff"] <= entry["tolerance"]
        assert entry["median_latency_ms"] > 0
        checked = {p["input_name"] for p in report["parity"] if p["variant"] == variant}
        assert checked == {
            "typical",
            "single_frame",
            "longer_than_max_len",
            "no_hands",
            "undetected_frames",
        }
    assert max(p["frames"] for p in report["parity"]) > MAX_LEN
    # fp16 halves the weights, dynamic-range quantisation shrinks them further.
    sizes = [by_name[f"model_{v}.tflite"]["size_bytes"] for v in ("fp32", "fp16", "dynamic")]
    assert sizes[0] > sizes[1] > sizes[2]
    md = (exported / "report.md").read_text()
    assert "| `model_fp16.tflite` |" in md and "submission.zip" in md


def test_kaggle_signature_and_call_match_keras(exported, runs) -> None:
    """The exact Kaggle call on every variant agrees with the trained network."""
    from ai_edge_litert.interpreter import Interpreter

    net = keras.saving.load_model(runs[0] / "checkpoints" / "best.keras", compile=False)
    rng = np.random.default_rng(7)
    videos = [_frames(rng, t) for t in (1, 2, 17, MAX_LEN + 30)]
    videos[2][:, list(LHAND)] = np.nan  # a hand never detected
    videos[3][5:9] = np.nan  # frames where nothing was detected
    bounds = {"fp32": 1e-4, "fp16": 5e-2, "dynamic": 0.5}
    for variant, bound in bounds.items():
        interpreter = Interpreter(model_path=str(exported / f"model_{variant}.tflite"))
        assert interpreter.get_signature_list() == {
            "serving_default": {"inputs": ["inputs"], "outputs": ["outputs"]}
        }
        prediction_fn = interpreter.get_signature_runner("serving_default")
        for frames in videos:
            out = prediction_fn(inputs=frames)["outputs"]
            want = keras_logits(net, frames)
            assert out.shape == (NUM_CLASSES,)
            np.testing.assert_allclose(out, want, atol=bound, rtol=0)
            if variant == "fp32":
                assert np.argmax(out) == np.argmax(want)


def test_exported_graph_has_no_runtime_shape_arithmetic(exported) -> None:
    """Every reshape in the network has a constant shape: shape ops computed from the frame
    count at run time (tensordot's, for one) would split the graph into many XNNPACK parts."""
    from islr.export import tflite_op_counts

    counts = tflite_op_counts((exported / "model_fp32.tflite").read_bytes())
    assert counts["FULLY_CONNECTED"] >= 7  # stem, 2 per conv block, 4 in the transformer, ...
    for op in ("REDUCE_PROD", "PACK"):
        assert counts[op] == 0, (op, counts)
    assert counts["GATHER"] == 1  # the 118-of-543 landmark selection
    assert counts["SHAPE"] <= 1  # LandmarkFeatures' frame counter (ones_like)
    # No padding mask inside: ECA and pooling average with plain MEAN ops, not masked sums.
    assert counts["MEAN"] >= 2


def test_inference_copy_drops_the_mask_and_keeps_the_scores(runs) -> None:
    from islr.export import inference_copy, load_network
    from islr.landmarks import PAD_VALUE

    net = load_network(runs[0])
    copy = inference_copy(net, name="unmasked")
    kinds = [type(layer).__name__ for layer in copy.layers]
    assert "Masking" not in kinds and "DropMask" in kinds
    video = _frames(np.random.default_rng(11), 20)[:, list(POINT_INDICES)][None]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(copy(video)),
        keras.ops.convert_to_numpy(net(video)),
        atol=1e-6,
    )
    # On a padded batch only the masked network ignores the padding, so the mask is really gone.
    padded = np.concatenate([video, np.full((1, 8, *video.shape[2:]), PAD_VALUE, "float32")], 1)
    masked = keras.ops.convert_to_numpy(net(padded))
    np.testing.assert_allclose(masked, keras.ops.convert_to_numpy(net(video)), atol=1e-5)
    assert not np.allclose(keras.ops.convert_to_numpy(copy(padded)), masked, atol=1e-3)


def test_inference_keras_model_reloads(exported, runs) -> None:
    model = keras.saving.load_model(exported / "model.keras", compile=False)
    net = keras.saving.load_model(runs[0] / "checkpoints" / "best.keras", compile=False)
    frames = _frames(np.random.default_rng(3), 40)
    got = keras.ops.convert_to_numpy(model(frames))
    np.testing.assert_allclose(got, keras_logits(net, frames), atol=1e-5)


def test_ensemble_is_mean_of_logits(runs) -> None:
    from islr.export import build_inference_model, load_network

    nets = [load_network(r) for r in runs]
    frames = _frames(np.random.default_rng(5), 33)
    each = [keras_logits(n, frames) for n in nets]
    assert not np.allclose(each[0], each[1])  # two different networks
    model = build_inference_model(nets, max_len=MAX_LEN, output="logits")
    got = keras.ops.convert_to_numpy(model(frames))
    np.testing.assert_allclose(got, (each[0] + each[1]) / 2, atol=1e-5)
    probs = build_inference_model(nets, max_len=None, output="probabilities")
    mean = (each[0] + each[1]) / 2
    want = np.exp(mean - mean.max()) / np.exp(mean - mean.max()).sum()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(probs(frames)), want, atol=1e-6)


def test_ensemble_tflite_is_mean_of_logits(ensemble_export, runs) -> None:
    from islr.export import TFLiteRunner, load_network

    runner = TFLiteRunner(ensemble_export / "model_fp32.tflite")
    nets = [load_network(r) for r in runs]
    frames = _frames(np.random.default_rng(11), 50)
    want = np.mean([keras_logits(n, frames) for n in nets], axis=0)
    np.testing.assert_allclose(runner(frames), want, atol=1e-4)
    report = json.loads((ensemble_export / "report.json").read_text())
    assert len(report["sources"]) == 2


def test_max_len_mismatch_is_refused(runs) -> None:
    from islr.export import build_inference_model, load_network

    with pytest.raises(ValueError, match="max_len"):
        build_inference_model([load_network(runs[0])], max_len=MAX_LEN + 1, output="logits")


def test_parity_gate_refuses_corrupted_tflite(runs, ensemble_export, tmp_path, monkeypatch):
    """A converter that returns wrong weights is caught and nothing is written."""
    from islr.export import ParityError, tflite

    wrong = (ensemble_export / "model_fp32.tflite").read_bytes()  # another model's weights
    real_convert = tflite.convert_saved_model

    def corrupt(saved_model_dir, variant):
        return wrong if variant == "fp32" else real_convert(saved_model_dir, variant)

    monkeypatch.setattr(tflite, "convert_saved_model", corrupt)
    out = tmp_path / "export"
    with pytest.raises(ParityError) as err:
        export([runs[0]], out, **FP32_ONLY)
    assert err.value.variant == "fp32"
    assert "fp32" in str(err.value) and err.value.input_name in str(err.value)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_re_export_leaves_the_previous_export(runs, tmp_path, monkeypatch) -> None:
    """A write that fails late (a full disk at the submission zip) changes nothing on disk."""
    import errno
    import zipfile

    out = tmp_path / "export"
    export([runs[0]], out, **FP32_ONLY, latency_runs=1)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def disk_full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "write", disk_full)
    with pytest.raises(OSError, match="No space left"):
        export([runs[1]], out, **FP32_ONLY)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # the previous export, byte for byte
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no staged or set-aside folder


def test_compare_scores_rules() -> None:
    from islr.export import ParityError
    from islr.export.parity import compare_scores

    a = np.array([0.0, 1.0, 3.0])
    assert compare_scores("fp32", "x", a, a + 5e-5, 1e-4).max_abs_diff == pytest.approx(5e-5)
    with pytest.raises(ParityError, match=r"fp16.*'typical'.*exceeds"):
        compare_scores("fp16", "typical", a, a + np.array([0, 0, 0.2]), 0.1)
    with pytest.raises(ParityError, match="non-finite"):
        compare_scores("fp32", "x", a, np.array([0, np.nan, 3]), 1e-4)
    with pytest.raises(ParityError, match="argmax"):  # diff 0.8 within bound, gap 1.5 is not
        compare_scores("dynamic", "x", np.array([0, 1.5, 0]), np.array([0, 0.75, 0.8]), 1.0)
    # A near tie (within the bound) may flip under rounding.
    tie = np.array([1.0, 1.00001, 0.0])
    compare_scores("fp16", "x", tie, np.array([1.00002, 1.0, 0.0]), 1e-3)


def test_network_trained_under_jax_exports(tmp_path) -> None:
    """A .keras file saved by the JAX backend exports and keeps its logits."""
    from islr.export import TFLiteRunner

    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        import numpy as np, keras
        assert keras.backend.backend() == "jax"
        from islr.model import build_sign_model
        from islr.landmarks import POINT_INDICES
        keras.utils.set_random_seed(0)
        net = build_sign_model(max_len={MAX_LEN}, num_classes={NUM_CLASSES}, **{TINY!r})
        run = Path(sys.argv[1]); (run / "checkpoints").mkdir(parents=True)
        net.save(run / "checkpoints" / "best.keras")
        frames = np.load(run / "frames.npy")
        out = keras.ops.convert_to_numpy(net(frames[:, list(POINT_INDICES)][None]))[0]
        np.save(run / "jax_logits.npy", out)
        """
    )
    run = tmp_path / "jax_run"
    run.mkdir()
    frames = _frames(np.random.default_rng(9), 20)
    np.save(run / "frames.npy", frames)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(run)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    export([run], tmp_path / "out", **FP32_ONLY, latency_runs=1)
    got = TFLiteRunner(tmp_path / "out" / "model_fp32.tflite")(frames)
    np.testing.assert_allclose(got, np.load(run / "jax_logits.npy"), atol=1e-4)


def test_bad_arguments_are_named(runs, tmp_path) -> None:
    from islr.export import ExportSettings, export_run

    with pytest.raises(ValueError, match="submission_variant"):
        export_settings(variants=("fp32",), submission_variant="fp16")
    with pytest.raises(ValueError, match="unknown variant"):
        export_settings(variants=("int4",))
    with pytest.raises(ValueError, match=r"tolerances.*dynamic"):
        export_settings(tolerances={"fp32": 1e-4, "fp16": 5e-2})
    with pytest.raises(ValueError, match=r"missing key\(s\) \['latency_runs'\]"):
        ExportSettings.from_config(
            {k: v for k, v in vars(export_settings()).items() if k != "latency_runs"}
        )
    with pytest.raises(FileNotFoundError, match="checkpoints"):
        export([tmp_path], tmp_path / "a")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("user data")
    with pytest.raises(FileExistsError, match="not a previous export"):
        export([runs[0]], busy)
    assert (busy / "keep.txt").read_text() == "user data"
    disabled = {**vars(export_settings()), "enabled": False}
    assert export_run(runs[0], tmp_path / "none", cfg=disabled) is None
    assert not (tmp_path / "none").exists()


def test_islr_export_cli_exports_mixed_precision_network(tmp_path) -> None:
    """conf/export.yaml drives an export (Hydra compose, in process) of a network trained
    under mixed_bfloat16: it is rebuilt in float32 and converts with builtin ops only."""
    from hydra import compose, initialize_config_dir

    from islr.cli.export import run_export
    from islr.export import TFLiteRunner, float32_copy, load_network
    from islr.export.inference import is_mixed_precision

    run = make_run_dir(tmp_path, 3, policy="mixed_bfloat16")
    net = load_network(run)
    assert is_mixed_precision(net)
    assert not is_mixed_precision(float32_copy(net))

    conf = Path(__file__).resolve().parents[1] / "conf"
    out = tmp_path / "cli_out"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(
            "export",
            overrides=[
                f"sources=[{run}]",
                f"out_dir={out}",
                "export.variants=[fp32]",
                "export.submission_variant=fp32",
                "export.latency_runs=1",
            ],
        )
        none = compose("export", overrides=["sources=[x]", "export=none"])
    assert run_export(cfg) == out
    assert (out / "model_fp32.tflite").is_file() and not (out / "model_fp16.tflite").exists()
    frames = _frames(np.random.default_rng(4), 30)
    # bf16 compute in training vs float32 here: agreement to bf16 precision.
    np.testing.assert_allclose(
        TFLiteRunner(out / "model_fp32.tflite")(frames), keras_logits(net, frames), atol=0.1
    )
    assert run_export(none) is None
