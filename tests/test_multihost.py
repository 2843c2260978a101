"""Multi-host JAX (``trainer.multihost``, SLURM): the process group, each host's batch shard,
and a real two-process training on localhost against one process with two devices."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from augment_oracle import settings_of
from fast_training import h5_arrays
from islr.errors import ConfigError
from islr.train.multihost import HostGroup, host_group, join_host_group
from islr.train.pipeline import SequenceBatches
from test_pipeline import ArraySource, FlatSource

NONE = {"coordinator_address": None, "num_processes": None, "process_id": None}
# What ``srun --ntasks=4`` sets for task 2 (of a job spread over two nodes).
SLURM = {
    "SLURM_JOB_ID": "4711",
    "SLURM_STEP_NODELIST": "gpu[007-008]",
    "SLURM_JOB_NODELIST": "gpu[007-008]",
    "SLURM_NTASKS": "4",
    "SLURM_PROCID": "2",
    "SLURM_LOCALID": "0",
}


# --- the process group: pure functions of the settings and an environment ---------------------
def test_one_host_unless_told_or_detected() -> None:
    assert host_group("data_parallel", NONE, {}) == HostGroup()
    assert host_group("data_parallel", None, {}) == HostGroup()
    assert host_group(None, NONE, SLURM) == HostGroup()  # one model per task, as before
    assert host_group("data_parallel", NONE, {**SLURM, "SLURM_NTASKS": "1"}) == HostGroup()
    # a batch script's own process (no srun step): one process, whatever --ntasks says
    batch = {k: v for k, v in SLURM.items() if k != "SLURM_STEP_NODELIST"}
    assert host_group("data_parallel", NONE, batch) == HostGroup()
    explicit_one = {**NONE, "num_processes": 1}
    assert host_group("data_parallel", explicit_one, {}) == HostGroup()
    assert HostGroup().writes_files and not HostGroup().is_multihost


def test_slurm_job_step_is_detected_and_jax_finds_the_coordinator() -> None:
    group = host_group("data_parallel", NONE, SLURM)
    assert group == HostGroup(4, 2, None, "slurm")
    assert group.is_multihost and not group.writes_files
    # explicit settings override what SLURM says
    moved = host_group("data_parallel", {**NONE, "coordinator_address": "head:9999"}, SLURM)
    assert moved == HostGroup(4, 2, "head:9999", "slurm")


def test_jax_derives_the_same_slurm_group(monkeypatch) -> None:
    """The variables islr detects a step by are the ones JAX's own SLURM detection reads."""
    pytest.importorskip("jax")
    from jax._src.clusters.slurm_cluster import SlurmCluster

    for name, value in SLURM.items():
        monkeypatch.setenv(name, value)
    assert SlurmCluster.is_env_present()
    assert SlurmCluster.get_process_count() == 4 and SlurmCluster.get_process_id() == 2
    assert SlurmCluster.get_coordinator_address(None, None) == f"gpu007:{4711 % 4096 + 61440}"
    monkeypatch.delenv("SLURM_STEP_NODELIST")
    assert not SlurmCluster.is_env_present()


def test_explicit_group() -> None:
    settings = {"coordinator_address": "10.0.0.1:1234", "num_processes": 2, "process_id": 1}
    assert host_group("data_parallel", settings, {}) == HostGroup(2, 1, "10.0.0.1:1234", "explicit")


DP = "data_parallel"
ADDRESS = {"coordinator_address": "h:1"}


@pytest.mark.parametrize(
    ("settings", "distribution", "backend", "match"),
    [
        ({"num_processes": 2}, None, "jax", r"trainer\.multihost\.num_processes is set but"),
        ({"process_id": 1}, DP, "jax", r"trainer\.multihost\.num_processes: needed"),
        ({"num_processes": 2, "process_id": 0}, DP, "jax", r"coordinator_address: needed"),
        ({"num_processes": 2, **ADDRESS}, DP, "jax", r"trainer\.multihost\.process_id: needed"),
        ({"num_processes": 2, "process_id": 2}, DP, "jax", r"process_id=2: must be in 0\.\.1"),
        ({"num_processes": 0}, DP, "jax", r"num_processes=0: must be >= 1"),
        ({"num_processes": "two"}, DP, "jax", r"num_processes='two': expected an integer"),
        ({"num_processes": 2, "process_id": 0, "coordinator_address": "h"}, DP, "jax",
         r"coordinator_address='h': expected host:port"),
        ({"num_processes": 2, "process_id": 0, **ADDRESS}, DP, "tensorflow", r"KERAS_BACKEND=jax"),
        ({"port": 1}, DP, "jax", r"trainer\.multihost\.port: unknown key"),
    ],
)  # fmt: skip
def test_bad_settings_name_the_key(settings, distribution, backend, match) -> None:
    with pytest.raises(ConfigError, match=match):
        host_group(distribution, {**NONE, **settings}, {}, backend)


def test_joining_one_host_touches_nothing() -> None:
    join_host_group(HostGroup())  # no jax import, no coordinator: returns at once


# --- each host serves its own rows of every global batch --------------------------------------
def _shards(make, num_shards: int) -> list[SequenceBatches]:
    return [make(num_shards=num_shards, shard_index=k) for k in range(num_shards)]


@pytest.mark.parametrize("training", [True, False])
def test_shards_of_each_global_batch_make_the_one_host_batch(training) -> None:
    rng = np.random.default_rng(3)
    lengths = [int(v) for v in rng.integers(1, 60, size=45)]
    aug = settings_of(max_len=40) if training else None

    def make(**kw) -> SequenceBatches:
        return SequenceBatches(
            FlatSource(lengths),
            range(45),
            batch_size=8,
            max_len=40,
            training=training,
            augmenter=aug,
            boundaries=[16, 32],
            seed=7,
            **kw,
        )

    whole = make()
    assert not training or len({whole[k][0].shape[1] for k in range(len(whole))}) > 1  # buckets
    for num_shards in (2, 4):
        shards = _shards(make, num_shards)
        assert {len(s) for s in shards} == {len(whole)}
        for k in range(len(whole)):
            parts = [s[k] for s in shards]
            assert {p[0].shape for p in parts} == {(8 // num_shards, *whole[k][0].shape[1:])}
            for a, b in zip(whole[k], zip(*parts, strict=True), strict=True):
                np.testing.assert_array_equal(a, np.concatenate(b))
    if not training:  # the last batch's filler rows (weight 0) fall on the last shard
        last = [s[len(whole) - 1] for s in _shards(make, 2)]
        assert [p[2].tolist() for p in last] == [[1.0] * 4, [1.0] + [0.0] * 3]
        assert sum(float(s[k][2].sum()) for s in _shards(make, 2) for k in range(len(s))) == 45


def test_shards_must_split_the_batch() -> None:
    make = lambda **kw: SequenceBatches(  # noqa: E731
        ArraySource([5, 9, 12, 7, 30, 6, 8, 10]),
        range(8),
        batch_size=4,
        max_len=32,
        boundaries=[16, 32],
        **kw,
    )
    with pytest.raises(ValueError, match="does not split into 3 shards"):
        make(num_shards=3, shard_index=0)
    with pytest.raises(ValueError, match=r"shard_index=2 not in 0\.\.1"):
        make(num_shards=2, shard_index=2)


# --- a real two-process group on localhost -----------------------------------------------------
TOLERANCE = 1e-4  # float32: the gradient all-reduce sums in another order across processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_processes_train_like_one_process_with_two_devices(
    tiny_root, tiny_cache, tmp_path
) -> None:
    """2 processes x 1 CPU device (gloo collectives) vs 1 process x 2 simulated devices, the
    same global batch of 16: the same losses, validation and weights. Bucketing is on (each
    global batch is padded for all of its rows) and the last validation batch is mostly filler
    rows, all on process 1."""
    cmd = [
        sys.executable,
        "-m",
        "islr.cli.train",
        "model=tiny",
        "model.dim=32",
        "model.num_heads=2",
        "augment=none",
        "data.max_len=32",
        "data.buckets=[16]",
        "data.batch_size=16",
        "data.eval_batch_size=16",
        f"data.root={tiny_root}",
        f"data.cache_dir={tiny_cache.cache_dir}",
        "trainer.epochs=2",
        "trainer.limit_train_batches=3",
        "trainer.late_dropout_start_epoch=1",
        "trainer.distribution=data_parallel",
        "callbacks.reports.enabled=false",
        "export.enabled=false",
        "seed=11",
    ]
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONUNBUFFERED="1")
    env.pop("XLA_FLAGS", None)
    one, two = tmp_path / "one", tmp_path / "two"
    ref = subprocess.Popen(
        [*cmd, f"hydra.run.dir={one}"],
        env={**env, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    address = f"127.0.0.1:{_free_port()}"
    procs = [
        subprocess.Popen(
            [
                *cmd,
                f"hydra.run.dir={two}",
                f"trainer.multihost.coordinator_address={address}",
                "trainer.multihost.num_processes=2",
                f"trainer.multihost.process_id={k}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for k in (0, 1)
    ]
    try:
        outputs = [p.communicate(timeout=400)[0] for p in (ref, *procs)]
    finally:
        for p in (ref, *procs):
            if p.poll() is None:
                p.kill()
    for p, out in zip((ref, *procs), outputs, strict=True):
        assert p.returncode == 0, out[-3000:]
    assert "joining a 2-process JAX group as process 1" in outputs[2]
    assert "validation" not in outputs[2].split("run directory:")[-1]  # process 0 evaluates

    a, b = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    assert (a["devices"]["num_devices"], a["devices"]["num_hosts"]) == (2, 1)
    assert (b["devices"]["num_devices"], b["devices"]["num_hosts"]) == (2, 2)
    for key in ("loss", "val_loss", "val_top1"):
        np.testing.assert_allclose(
            [r[key] for r in b["history"]], [r[key] for r in a["history"]], atol=TOLERANCE
        )
    assert b["val_num_samples"] == a["val_num_samples"] == int((tiny_cache.folds == 0).sum())
    assert b["val_loss"] == pytest.approx(a["val_loss"], abs=TOLERANCE)
    wa = h5_arrays(one / "checkpoints" / "last.weights.h5")
    wb = h5_arrays(two / "checkpoints" / "last.weights.h5")
    assert wa.keys() == wb.keys() and len(wa) > 10
    diffs = {k: float(np.max(np.abs(wb[k] - wa[k]), initial=0.0)) for k in wa}
    print("max |weight difference|:", max(diffs.values()))
    for name in wa:
        np.testing.assert_allclose(wb[name], wa[name], rtol=1e-3, atol=TOLERANCE, err_msg=name)


def test_each_process_resumes_the_same_run() -> None:
    """The process group is not a setting of the run: every process (its own process_id) and a
    requeued job (another coordinator) resume the checkpoint process 0 wrote."""
    from fast_training import compose_train
    from islr.train.resume import run_settings, settings_changes

    group = ["trainer.distribution=data_parallel", "trainer.multihost.num_processes=2"]
    first = compose_train([*group, "trainer.multihost.process_id=0"])
    other = compose_train(
        [*group, "trainer.multihost.process_id=1", "trainer.multihost.coordinator_address=h:1"]
    )
    assert settings_changes(run_settings(first), run_settings(other)) == []
    assert not any(key.startswith("trainer.multihost") for key in run_settings(first))
