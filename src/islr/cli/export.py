"""``islr-export``: export trained networks to parity-checked TFLite (``conf/export.yaml``).

Examples::

    islr-export 'sources=[logs/train/runs/X]' out_dir=exports/X
    islr-export 'sources=[runs/a,runs/b]' out_dir=exports/ab export.variants=[fp32,fp16]
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from islr.cli._config import CONFIG_DIR
from islr.cli._errors import run_hydra_task, start_hydra_command
from islr.errors import ConfigError
from islr.run_layout import RunLayout

log = logging.getLogger("islr.export")


def run_export(cfg: DictConfig) -> Path | None:
    """Export ``cfg.sources`` as configured; returns the export directory (``None``: disabled).

    Raises islr's known errors (:func:`islr.cli._errors.run_hydra_task` turns them into one line).
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ConfigError(
            "the TFLite export needs the TensorFlow backend "
            f"(KERAS_BACKEND is {keras.backend.backend()!r}); networks trained under JAX export "
            "fine with KERAS_BACKEND=tensorflow"
        )
    from islr.export import ExportSettings, export_models
    from islr.export.inference import resolve_network_path

    settings = ExportSettings.from_config(cfg.export)
    if not settings.enabled:
        log.info("export.enabled is false: nothing to do")
        return None
    sources = OmegaConf.to_container(cfg.sources, resolve=True)
    if isinstance(sources, str):
        sources = [sources]
    if not sources:
        raise ConfigError("sources: give at least one run directory or .keras file")
    for source in sources:  # a missing source is named as such, before any out_dir question
        resolve_network_path(source)
    out_dir = cfg.get("out_dir")
    if out_dir is None:
        if len(sources) == 1 and Path(sources[0]).is_dir():
            out_dir = RunLayout(sources[0]).export
        else:
            raise ConfigError("out_dir: required unless there is exactly one run-directory source")
    report = export_models(sources, out_dir, settings, max_len=cfg.max_len, sign_map=cfg.sign_map)
    print(report.to_markdown())
    return Path(report.out_dir)


def export_command(cfg: DictConfig) -> Path | None:
    """Run the export and say where it went."""
    out = run_export(cfg)
    if out is not None:
        print(f"exported to {out}")
    return out


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="export")
def _hydra_main(cfg: DictConfig) -> None:
    run_hydra_task("islr-export", export_command, cfg)


def main() -> None:
    """Entry point of ``islr-export``: a known error (a failed parity check, a missing or
    damaged source, a sign map that does not fit) ends it with one line and exit status 1."""
    start_hydra_command(_hydra_main)


if __name__ == "__main__":
    main()
