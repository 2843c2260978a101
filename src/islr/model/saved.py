"""Loading a trained network from its ``.keras`` file, with an error that names the file."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras

__all__ = ["check_network_file", "load_network_file"]


def check_network_file(path: Path) -> None:
    """Raise ``ValueError`` naming ``path`` unless it is a ``.keras`` archive (a cheap check,
    before any work; Keras itself would report a garbled file as "File not found")."""
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not a .keras network (not a zip archive); give a checkpoint islr-train "
            "wrote (checkpoints/best.keras) or its run directory"
        )


def load_network_file(path: Path) -> keras.Model:
    """The network in the ``.keras`` file ``path``, without its optimizer.

    Networks saved under any backend load (the format is backend-neutral); islr's layers are
    registered by importing :mod:`islr.model`.

    Raises:
        ValueError: ``path`` is not a ``.keras`` archive (:func:`check_network_file`), or Keras
            cannot load it; the message names the file.
    """
    check_network_file(path)
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # keras raises many types for a damaged file; name the file
        raise ValueError(f"{path}: cannot load Keras model ({type(exc).__name__}: {exc})") from exc
