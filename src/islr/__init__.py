"""islr: isolated sign-language recognition from MediaPipe landmarks.

Importing islr (or any training module) never imports TensorFlow; only ``islr.export`` does.
"""

import os as _os

# TensorFlow's C++ start-up chatter (CPU feature notices) hides islr's own output.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
