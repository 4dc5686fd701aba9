"""YAML reading that remembers the line of every mapping, so an importer can name the line of
a bad record."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .exceptions import ReferenceDataError

LINE_KEY = "__line__"


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[LINE_KEY] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_rule_file(path: Path | str) -> dict[str, Any]:
    """Read a rule file: a mapping with `version` and a list under `rules`."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ReferenceDataError(f"{path.name}: cannot read: {exc}", detail={"file": str(path)}) from exc
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ReferenceDataError(f"{path.name}: expected a mapping with a 'rules' list", detail={"file": str(path)})
    return data


def fail(path: Path | str, record: dict[str, Any] | None, field: str, message: str) -> ReferenceDataError:
    line = (record or {}).get(LINE_KEY)
    where = f"{Path(path).name}:{line}" if line else Path(path).name
    return ReferenceDataError(
        f"{where}: {field}: {message}", detail={"file": str(path), "line": line, "field": field}
    )
