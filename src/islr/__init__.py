"""islr: isolated sign-language recognition from MediaPipe landmarks.

Importing islr (or any training module) never imports TensorFlow; only ``islr.export`` does.
Importing it registers the typed schemas of its Hydra configs (:mod:`islr.config`), which the
YAML files in ``islr.conf`` extend, so every way of composing them finds the schemas.
"""

import os as _os

# TensorFlow's C++ start-up chatter (CPU feature notices) hides islr's own output.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

from islr.config import register_configs as _register_configs

_register_configs()
