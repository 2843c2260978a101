"""islr: isolated sign-language recognition from MediaPipe landmarks.

Importing islr (or any training module) never imports TensorFlow; only ``islr.export`` does.
"""

__version__ = "0.1.0"
