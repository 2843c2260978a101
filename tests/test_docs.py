"""The documentation covers every command and every config key.

`make test` builds the site with ``mkdocs build --strict`` (broken links, anchors and API
references fail there); these tests catch what a build cannot: a new console script or config
key that no page describes.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterator
from pathlib import Path

from islr.config import SCHEMAS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _schema_keys(schema: type, prefix: str = "") -> Iterator[str]:
    """Every key of a schema as its docs name: ``key`` at the top, ``parent.key`` below it."""
    for field in dataclasses.fields(schema):
        nested = field.default_factory
        if dataclasses.is_dataclass(nested):
            yield from _schema_keys(nested, f"{field.name}.")
        elif not field.name.startswith("_"):
            yield prefix + field.name


def test_every_console_script_has_a_section_in_commands_md() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    page = (DOCS / "commands.md").read_text()
    missing = [name for name in scripts if f"\n## {name}\n" not in page]
    assert not missing, f"docs/commands.md has no '## <command>' section for {missing}"


def test_every_config_key_is_described_in_configuration_md() -> None:
    page = (DOCS / "configuration.md").read_text()
    missing = {
        f"{name}: {key}"
        for name, schema in SCHEMAS.items()
        for key in _schema_keys(schema)
        if f"`{key}`" not in page
    }
    assert not missing, f"docs/configuration.md does not name these keys: {sorted(missing)}"


def test_schema_key_listing_sees_nested_keys() -> None:
    keys = set(_schema_keys(SCHEMAS["trainer"]))
    assert {"epochs", "awp.lambda", "multihost.process_id"} <= keys
