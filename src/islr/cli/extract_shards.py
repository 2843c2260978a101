"""``islr-extract-shards``: ``islr-extract`` as a Hydra app (``conf/extract.yaml``).

One job extracts one shard of the work list; a ``--multirun`` over ``shard.index`` hands the
shards to any Hydra launcher: ``hydra/launcher=joblib`` (parallel local processes),
``submitit_local`` or ``submitit_slurm`` (one SLURM job per shard)::

    islr-extract-shards --multirun hydra/launcher=joblib \\
        inputs=[videos] out=data/my_signs shard.count=4 'shard.index=range(4)'
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from islr.cli._config import CONFIG_DIR
from islr.cli._errors import run_hydra_task
from islr.errors import DataError

log = logging.getLogger("islr.extract")


def extract_shard(cfg: DictConfig) -> dict:
    """Extract the shard ``cfg.shard`` describes; returns its report as a dict.

    Raises islr's known errors (:func:`islr.cli._errors.run_hydra_task` turns them into one line).
    """
    from hydra.utils import instantiate

    from islr.data.video import extract_dataset, find_videos, read_manifest

    pid = cfg.participant_id
    clips = []
    if cfg.manifest:
        clips += read_manifest(str(cfg.manifest), participant_id=pid)
    if cfg.inputs:
        clips += find_videos([str(i) for i in cfg.inputs], participant_id=pid)
    if not clips:
        raise DataError("nothing to extract: set inputs=[...] and/or manifest=...")
    report = extract_dataset(
        clips,
        str(cfg.out),
        settings=instantiate(cfg.holistic),
        workers=int(cfg.workers),
        shard_index=int(cfg.shard.index),
        shard_count=int(cfg.shard.count),
        sign_map_file=cfg.sign_map,
        progress=bool(cfg.progress),
    )
    log.info("shard %d/%d: %s", cfg.shard.index, cfg.shard.count, report)
    for video, why in report.skipped:
        log.warning("skipped %s: %s", video, why)
    return {"extracted": report.extracted, "skipped": len(report.skipped), "rows": report.rows}


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="extract")
def _hydra_main(cfg: DictConfig) -> dict:
    return run_hydra_task("islr-extract-shards", extract_shard, cfg)


def main() -> None:
    """Entry point: a known error ends the job with one line and exit status 1."""
    _hydra_main()


if __name__ == "__main__":
    main()
