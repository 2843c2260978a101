"""Multi-host JAX training: which process group this process joins (``trainer.multihost``).

With ``trainer.distribution=data_parallel`` under JAX, several processes (one per host, or one
per GPU) can train one model: every process runs the same ``islr-train``, joins the group
through :func:`jax.distributed.initialize` before JAX starts its devices, and the
``keras.distribution.DataParallel`` mesh then spans every device of every process.

Where the group comes from, in order:

1. ``trainer.multihost.{coordinator_address, num_processes, process_id}`` when set (each one
   overrides what was detected);
2. a SLURM job step with more than one task (``srun``: ``SLURM_NTASKS > 1`` and the variables
   JAX's own SLURM detection reads): the process count and id come from SLURM, and JAX derives
   the coordinator (the step's first node, a port from the job id) and gives each task the GPU
   of its ``SLURM_LOCALID``;
3. else one host.

:func:`host_group` is a pure function of the settings and an environment mapping (tested without
a cluster); :func:`join_host_group` performs the join.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from islr.errors import ConfigError

__all__ = ["SLURM_STEP_VARIABLES", "HostGroup", "host_group", "join_host_group", "setup_hosts"]

log = logging.getLogger(__name__)

# What jax._src.clusters.SlurmCluster needs to detect a job step (it reads these itself).
# SLURM_STEP_NODELIST exists inside an ``srun`` step only: a batch script's own process (one
# process, whatever --ntasks says) is not a multi-host group.
SLURM_STEP_VARIABLES = (
    "SLURM_JOB_ID",
    "SLURM_STEP_NODELIST",
    "SLURM_NTASKS",
    "SLURM_PROCID",
    "SLURM_LOCALID",
)
KEYS = ("coordinator_address", "num_processes", "process_id")


@dataclass(frozen=True)
class HostGroup:
    """The process group of a run.

    Attributes:
        num_processes: processes training the model together (1: this one alone).
        process_id: this process's rank, ``0 <= process_id < num_processes``.
        coordinator_address: ``host:port`` of process 0; ``None`` when one host, or when JAX
            derives it from SLURM.
        source: ``"single"``, ``"explicit"`` (``trainer.multihost``) or ``"slurm"``.
    """

    num_processes: int = 1
    process_id: int = 0
    coordinator_address: str | None = None
    source: str = "single"

    @property
    def is_multihost(self) -> bool:
        return self.num_processes > 1

    @property
    def writes_files(self) -> bool:
        """Process 0 alone writes the run directory (checkpoints, metrics, reports, export)."""
        return self.process_id == 0


def _int_setting(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"trainer.multihost.{key}={value!r}: expected an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"trainer.multihost.{key}={value!r}: expected an integer") from None


def _check_address(address: str) -> str:
    host, sep, port = str(address).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"trainer.multihost.coordinator_address={address!r}: expected host:port of "
            "process 0 (e.g. 10.0.0.1:12345)"
        )
    return str(address)


def slurm_step(env: Mapping[str, str]) -> dict[str, int] | None:
    """``{"num_processes", "process_id"}`` of a SLURM job step with several tasks, else None."""
    if not all(name in env for name in SLURM_STEP_VARIABLES):
        return None
    try:
        ntasks, procid = int(env["SLURM_NTASKS"]), int(env["SLURM_PROCID"])
    except ValueError:
        return None
    return {"num_processes": ntasks, "process_id": procid} if ntasks > 1 else None


def host_group(
    distribution: str | None,
    settings: Mapping[str, Any] | None,
    env: Mapping[str, str],
    backend: str = "jax",
) -> HostGroup:
    """The process group ``trainer.distribution`` / ``trainer.multihost`` and ``env`` describe.

    Args:
        distribution: ``trainer.distribution``.
        settings: ``trainer.multihost`` (keys :data:`KEYS`, ``None`` = not set).
        env: the environment (``os.environ``), read for SLURM.
        backend: the Keras backend.

    Raises:
        ConfigError: settings without ``data_parallel``, a partial explicit group (outside
            SLURM), values out of range, or several processes under a backend other than JAX.
    """
    explicit = {k: v for k, v in dict(settings or {}).items() if k in KEYS and v is not None}
    unknown = sorted(set(dict(settings or {})) - set(KEYS))
    if unknown:
        raise ConfigError(f"trainer.multihost.{unknown[0]}: unknown key (expected {KEYS})")
    slurm = slurm_step(env)
    if distribution != "data_parallel":
        if explicit:
            key = next(iter(explicit))
            raise ConfigError(
                f"trainer.multihost.{key} is set but trainer.distribution={distribution!r}: "
                "multi-host training needs trainer.distribution=data_parallel"
            )
        if slurm:
            log.warning(
                "%d SLURM tasks each run this training on their own (trainer.distribution=%s); "
                "set trainer.distribution=data_parallel to train one model across them",
                slurm["num_processes"],
                distribution,
            )
        return HostGroup()
    values: dict[str, Any] = {**(slurm or {}), **explicit}
    if not values:
        return HostGroup()
    if "num_processes" not in values:
        raise ConfigError(
            "trainer.multihost.num_processes: needed with trainer.multihost."
            f"{next(iter(explicit))} (no SLURM job step with several tasks was detected)"
        )
    num = _int_setting("num_processes", values["num_processes"])
    if num < 1:
        raise ConfigError(f"trainer.multihost.num_processes={num}: must be >= 1")
    pid = _int_setting("process_id", values.get("process_id", 0))
    if not 0 <= pid < num:
        raise ConfigError(
            f"trainer.multihost.process_id={pid}: must be in 0..{num - 1} "
            f"(trainer.multihost.num_processes={num})"
        )
    if num == 1:
        return HostGroup()
    if "process_id" not in values:
        raise ConfigError(
            "trainer.multihost.process_id: needed with trainer.multihost.num_processes="
            f"{num} (each process gets its own, 0..{num - 1})"
        )
    address = explicit.get("coordinator_address")
    if address is None and slurm is None:
        raise ConfigError(
            f"trainer.multihost.coordinator_address: needed with trainer.multihost."
            f"num_processes={num} (host:port of process 0; none is detected outside SLURM)"
        )
    if backend != "jax":
        raise ConfigError(
            f"trainer.multihost: {num} processes is implemented for KERAS_BACKEND=jax, not "
            f"{backend}"
        )
    return HostGroup(
        num_processes=num,
        process_id=pid,
        coordinator_address=None if address is None else _check_address(address),
        source="slurm" if slurm else "explicit",
    )


def join_host_group(group: HostGroup) -> None:
    """Join ``group`` through :func:`jax.distributed.initialize` (nothing for one host).

    Called before anything starts JAX's devices. Keras' ``keras.distribution.initialize``
    wraps the same call and then agrees on a random seed across processes, which islr does not
    need (every process seeds from ``seed``). Under SLURM the coordinator is left to JAX's own
    cluster detection. CPU processes talk through gloo (jax's default CPU collectives).
    Joining again in the same process (multirun jobs) is a no-op when the group is the same.

    Raises:
        ConfigError: this process already belongs to another group.
    """
    if not group.is_multihost:
        return
    import jax

    if jax.distributed.is_initialized():
        if (jax.process_count(), jax.process_index()) != (group.num_processes, group.process_id):
            raise ConfigError(
                f"trainer.multihost: this process already joined a group of "
                f"{jax.process_count()} as process {jax.process_index()}; a process can join "
                "one group only"
            )
        return
    log.info(
        "joining a %d-process JAX group as process %d (%s, coordinator %s)",
        group.num_processes,
        group.process_id,
        group.source,
        group.coordinator_address or "from SLURM",
    )
    jax.distributed.initialize(
        coordinator_address=group.coordinator_address,
        num_processes=group.num_processes,
        process_id=group.process_id,
    )


def setup_hosts(trainer_cfg: Mapping[str, Any], backend: str | None = None) -> HostGroup:
    """:func:`host_group` from the ``trainer`` config and ``os.environ``, joined."""
    if backend is None:
        import keras

        backend = keras.backend.backend()
    group = host_group(
        trainer_cfg.get("distribution"), trainer_cfg.get("multihost"), os.environ, backend
    )
    join_host_group(group)
    return group
