"""Where the Hydra entry points find their configs: the package ``islr.conf``.

The repository's top-level ``conf/`` is installed as the package ``islr.conf`` (see
``[tool.setuptools]`` in pyproject.toml), so the console scripts find their configs wherever
islr is installed -- a wheel in any virtualenv, or the editable install of ``make install`` --
and from any working directory. Runs still write ``logs/`` and ``data/`` under the current
directory (``conf/paths/default.yaml``).

A user's own config folder adds or overrides groups on top of these:
``islr-train --config-dir my_conf model=mine`` or ``hydra.searchpath=[file://my_conf]``.
"""

CONFIG_PACKAGE = "islr.conf"
CONFIG_DIR = f"pkg://{CONFIG_PACKAGE}"
