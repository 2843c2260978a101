"""islr as an installed package: configs shipped as ``islr.conf``, usable from any directory.

The slow test builds the wheel from a copy of the sources, installs it into a fresh
virtualenv outside the checkout and runs ``islr-synth`` + ``islr-train`` from an empty
directory. Offline: the build uses the installed setuptools (``--no-build-isolation``), the
install takes the wheel alone (``--no-deps --no-index``) and the new environment reaches the
dependencies already installed in this one through a ``.pth`` file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from fast_training import FAST

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

ONE_SHORT_EPOCH = [
    *FAST,
    "trainer.epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
]


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("ISLR_ROOT", None)
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def test_every_source_package_is_listed_in_pyproject() -> None:
    """pyproject lists packages explicitly (to map conf/ as islr.conf); none may be missing."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(REPO / "src").parts)
        for p in (REPO / "src" / "islr").rglob("__init__.py")
    }
    assert on_disk - listed == set(), "add these packages to [tool.setuptools] packages"
    assert config["package-dir"]["islr.conf"] == "conf"
    assert (REPO / "conf" / "__init__.py").is_file()  # Hydra's pkg:// needs a real package


def test_configs_are_read_from_the_package_from_any_directory(tmp_path: Path) -> None:
    """The installed ``islr-train`` composes its config in a directory without ``conf/``."""
    import islr.conf

    assert Path(islr.conf.__file__).parent.resolve() == (REPO / "conf").resolve()
    done = _run([str(BIN / "islr-train"), "--cfg", "job", "experiment=demo"], cwd=tmp_path)
    assert "_target_: islr.model.build_sign_model" in done.stdout
    assert "log_dir: ${paths.root_dir}/logs" in done.stdout
    assert list(tmp_path.iterdir()) == []  # composing writes nothing


def test_a_user_config_dir_adds_and_overrides_groups(tmp_path: Path) -> None:
    """A user's folder adds options and groups (``--config-dir`` or ``hydra.searchpath``) and
    overrides the shipped defaults through its own primary config (``--config-name``)."""
    user = tmp_path / "my_conf"
    (user / "model").mkdir(parents=True)
    (user / "model" / "mine.yaml").write_text(
        "defaults:\n  - tiny\n  - _self_\ndim: 24\nnum_heads: 3\n"
    )
    (user / "site").mkdir()  # a group islr does not have
    (user / "site" / "cluster.yaml").write_text("# @package _global_\ndata:\n  workers: 7\n")
    (user / "my_train.yaml").write_text(
        "defaults:\n  - train\n  - override model: mine\n  - _self_\ntrainer:\n  epochs: 3\n"
    )
    train = [str(BIN / "islr-train"), "--cfg", "job"]

    mine = _run([*train, "--config-dir", str(user), "model=mine"], cwd=tmp_path).stdout
    assert "dim: 24" in mine and "num_heads: 3" in mine and "num_stacks: 1" in mine
    via_searchpath = _run(
        [*train, "hydra.searchpath=[file://my_conf]", "model=mine", "+site=cluster"],
        cwd=tmp_path,
    ).stdout
    assert "dim: 24" in via_searchpath and "workers: 7" in via_searchpath
    own_primary = _run(
        [*train, "--config-dir", "my_conf", "--config-name", "my_train"], cwd=tmp_path
    ).stdout
    assert "dim: 24" in own_primary and "  epochs: 3\n" in own_primary
    assert "  epochs: 3\n" not in _run(train, cwd=tmp_path).stdout


def _copy_sources(dest: Path) -> Path:
    """What a build needs, without build/ or egg-info leftovers of earlier builds."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", dest / "src", ignore=ignore)
    shutil.copytree(REPO / "conf", dest / "conf", ignore=ignore)
    return dest


def _fresh_venv(path: Path) -> Path:
    """A virtualenv whose only islr is the one we install; dependencies from this env."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # A plain path line: this env's packages come after the new env's own, and this env's
    # .pth files (its editable islr) are not processed.
    Path(purelib, "_islr_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.mark.slow
def test_wheel_installs_and_trains_from_an_empty_directory(tmp_path: Path) -> None:
    src = _copy_sources(tmp_path / "src_copy")
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip"]
    quiet = ["--quiet", "--no-index", "--no-deps"]
    _run([*pip, "wheel", *quiet, "--no-build-isolation", "-w", str(dist), str(src)], cwd=tmp_path)
    (wheel,) = dist.glob("islr-*.whl")

    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"islr/conf/{p.relative_to(REPO / 'conf')}" for p in (REPO / "conf").rglob("*.yaml")}
    assert shipped - names == set(), "configs missing from the wheel"
    assert "islr/resources/sign_to_prediction_index_map.json" in names

    python = _fresh_venv(tmp_path / "venv")
    _run([str(python), "-m", "pip", "install", *quiet, str(wheel)], cwd=tmp_path)
    venv_bin = python.parent
    where = _run(
        [str(python), "-c", "import islr.conf, islr.cli.train; print(islr.conf.__file__)"],
        cwd=tmp_path,
    ).stdout.strip()
    assert Path(where).is_relative_to(tmp_path / "venv"), where  # not the checkout's islr

    work = tmp_path / "empty"
    work.mkdir()
    _run([str(venv_bin / "islr-synth"), "--out", "d", "--preset", "tiny"], cwd=work)
    done = _run(
        [str(venv_bin / "islr-train"), "experiment=demo", "data.root=d", *ONE_SHORT_EPOCH], cwd=work
    )

    (run_dir,) = (work / "logs" / "demo" / "runs").iterdir()
    assert f"run directory: {run_dir}" in done.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and 0.0 <= metrics["val_top1"] <= 1.0
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (work / "data" / "cache" / "meta.json").is_file()  # data/ under the current dir
    assert sorted(p.name for p in work.iterdir()) == ["d", "data", "logs"]

    # the other Hydra entry points find their configs too
    for script, key in (("islr-export", "sources:"), ("islr-extract-shards", "shard:")):
        shown = _run([str(venv_bin / script), "--cfg", "job"], cwd=work).stdout
        assert key in shown, script
    evaluated = _run(
        [str(venv_bin / "islr-eval"), f"ckpt_path={run_dir}", "data.root=d", "data.max_len=32"],
        cwd=work,
    )
    assert "top-1" in evaluated.stdout
    assert len(list((work / "logs" / "eval" / "runs").iterdir())) == 1
