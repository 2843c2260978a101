"""islr's Hydra configs, installed as the package ``islr.conf`` (read as ``pkg://islr.conf``).

This folder is the only copy: pyproject.toml maps it into the package, so a wheel and an
editable install read the same files.
"""
