"""The browser bundle's settings: the ``export.web`` node of ``conf/export/*.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["WebSettings"]


@dataclass(frozen=True)
class WebSettings:
    """``export.web``: whether and how the export writes its browser app (``<export>/web/``).

    Attributes:
        enabled: write the bundle (skipped with one warning when the npm packages are absent).
        window: frames the web model sees, the last ones of the stream (W).
        every: frames between two predictions of the page.
        top_k: signs the page shows per prediction. ``window``/``every``/``top_k`` mean what
            ``islr-predict --stream`` means by them.
        app_dir: the app's sources (``None``: the repository's ``web/app``).
        node_modules: the installed npm packages (``None``: the repository's
            ``web/node_modules``).
    """

    enabled: bool
    window: int
    every: int
    top_k: int
    app_dir: str | None
    node_modules: str | None

    def __post_init__(self) -> None:
        for key in ("window", "every", "top_k"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"export.web.{key} must be >= 1, got {getattr(self, key)}")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> WebSettings:
        """Settings from the ``export.web`` node.

        Raises:
            ValueError: a key is unknown or missing, or a count is below 1.
        """
        data = {str(k): cfg[k] for k in cfg}
        known = {f.name for f in fields(cls)}
        unknown, missing = sorted(set(data) - known), sorted(known - set(data))
        if unknown or missing:
            raise ValueError(
                f"export.web: unknown key(s) {unknown}, missing key(s) {missing}; "
                f"expected {sorted(known)}"
            )
        return cls(**data)
