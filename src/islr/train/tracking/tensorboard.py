"""``logger=tensorboard``: TensorBoard event files written with tensorboard's protocol buffers
(an event file is a TFRecord file of ``Event`` protos, as ``tf.summary`` writes it), so the
tracker never imports TensorFlow."""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from islr.errors import ConfigError
from islr.run_layout import RunLayout
from islr.train.tracking.base import INSTALL_HINT, RunInfo, RunLogger, final_metrics, is_number

__all__ = ["TensorBoardLogger"]


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class TensorBoardLogger(RunLogger):
    """TensorBoard event files: ``tensorboard --logdir logs`` (or a sweep's directory).

    Scalars per epoch under their ``metrics.csv`` names (``loss``, ``val_loss``, ``top1``,
    ``val_top1``, ``top5``, ``val_top5``, ``lr``, ``seconds``); at the end the evaluation of the
    best checkpoint (``best/val_top1``, ...) and the figures as images (``figures/curves``,
    ``figures/confusion``, ``figures/per_sign_accuracy``); the resolved config as text
    (``config``) and the run's overrides as HParams.

    Args:
        log_dir: where the event files go (default in ``conf/logger/tensorboard.yaml``:
            ``<run dir>/tensorboard``, so each run or sweep job is one TensorBoard run).
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        try:
            from tensorboard.compat.proto import event_pb2, summary_pb2
            from tensorboard.summary.writer.record_writer import RecordWriter
        except ImportError:
            raise ConfigError(
                f"logger.tensorboard needs the tensorboard package: {INSTALL_HINT}"
            ) from None
        self._event_pb2 = event_pb2
        self._summary_pb2 = summary_pb2
        self._record_writer = RecordWriter
        self.log_dir = Path(log_dir)
        self.path: Path | None = None
        self._file: Any = None
        self._writer: Any = None
        self._last_step = 0

    def _open(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.time()
        name = f"events.out.tfevents.{int(stamp)}.{socket.gethostname()}.{os.getpid()}.islr"
        self.path = self.log_dir / name
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed in finish)
        self._writer = self._record_writer(self._file)
        self._write(self._event_pb2.Event(wall_time=stamp, file_version="brain.Event:2"))

    def _write(self, event: Any) -> None:
        self._writer.write(event.SerializeToString())
        self._file.flush()

    def _summary(self, step: int, values: list[Any]) -> None:
        if self._writer is None:
            self._open()
        summary = self._summary_pb2.Summary(value=values)
        self._write(self._event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def _scalar(self, tag: str, value: float) -> Any:
        return self._summary_pb2.Summary.Value(tag=tag, simple_value=float(value))

    def start(self, run: RunInfo) -> None:
        self._open()
        from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2, types_pb2

        text = "```\n" + "\n".join(f"{k}: {v}" for k, v in run.params.items()) + "\n```"
        metadata = self._summary_pb2.SummaryMetadata(
            plugin_data=self._summary_pb2.SummaryMetadata.PluginData(plugin_name="text")
        )
        tensor = tensor_pb2.TensorProto(
            dtype=types_pb2.DT_STRING,
            string_val=[text.encode()],
            tensor_shape=tensor_shape_pb2.TensorShapeProto(),
        )
        values = [self._summary_pb2.Summary.Value(tag="config", metadata=metadata, tensor=tensor)]
        self._summary(0, values)
        hparams = {k: v for k, v in run.hparams.items() if isinstance(v, bool | int | float | str)}
        if hparams:
            from tensorboard.plugins.hparams import summary_v2

            self._write(
                self._event_pb2.Event(
                    wall_time=time.time(), summary=summary_v2.hparams_pb(hparams, trial_id=run.name)
                )
            )

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self._last_step = epoch
        values = [self._scalar(k, v) for k, v in metrics.items() if k != "epoch" and is_number(v)]
        self._summary(epoch, values)

    def finish(self, result: Mapping[str, Any], status: str = "FINISHED") -> None:
        if self._writer is None:
            return
        step = self._last_step
        values = [self._scalar(f"best/{k}", v) for k, v in final_metrics(result).items()]
        if values:
            self._summary(step, values)
        figures = RunLayout(Path(str(result["run_dir"]))).figures if result.get("run_dir") else ()
        for path in figures:
            if not path.is_file():
                continue
            data = path.read_bytes()
            width, height = _png_size(data)
            image = self._summary_pb2.Summary.Image(
                height=height, width=width, colorspace=4, encoded_image_string=data
            )
            tag = f"figures/{path.stem}"
            self._summary(step, [self._summary_pb2.Summary.Value(tag=tag, image=image)])
        self._file.close()
        self._file = self._writer = None
