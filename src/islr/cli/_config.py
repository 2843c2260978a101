"""Where the Hydra entry points find ``conf/``.

An absolute path: a relative ``config_path`` is read as a Python package when an installed
console script (not ``python -m``) is the entry point. islr is installed editable (``make
install``), so the repository's ``conf/`` sits three levels above this package.
"""

from pathlib import Path

CONFIG_DIR = str(Path(__file__).resolve().parents[3] / "conf")
