"""islr.config.flatten: the one config flattening (resume's settings check and the trackers)."""

from __future__ import annotations

from omegaconf import OmegaConf

from islr.config.flatten import flatten_config


def test_flatten_keeps_values_and_containers_and_skips_whole_subtrees() -> None:
    cfg = OmegaConf.create(
        {
            "a": {"b": 1, "c": [1, 2], "empty": {}},
            "paths": {"out": "${oc.env:ISLR_SURELY_UNSET_VARIABLE}"},  # never resolved
            "pathsx": 3,  # not under "paths"
            "ref": "${a.b}",
        }
    )
    flat = flatten_config(cfg, skip=("paths",))
    assert flat == {"a.b": 1, "a.c": [1, 2], "a.empty": {}, "pathsx": 3, "ref": 1}


def test_values_that_cannot_be_resolved_here_are_left_out() -> None:
    cfg = OmegaConf.create({"x": "${oc.env:ISLR_SURELY_UNSET_VARIABLE}", "y": ["${x}"], "z": 2})
    assert flatten_config(cfg) == {"z": 2}
