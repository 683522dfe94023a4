"""A small JSON-Schema checker for the contract files in this folder.

``jsonschema`` is not a dependency of the project, so this implements the subset the
schema files use: ``$ref`` to ``#/definitions/...``, ``type`` (a name or a list),
OpenAPI 3.0's ``nullable``, ``properties``, ``required``, ``additionalProperties: false``,
``items``, ``minItems``/``maxItems``, ``enum``, ``minimum``/``maximum``. Keys starting with
``x-`` and ``$comment`` are notes and ignored. JSON types as JSON Schema defines them: a
bool is not an ``integer``, an integer is a ``number``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
KNOWN = {
    "$ref", "$schema", "$comment", "type", "nullable", "properties", "required", "additionalProperties",
    "items", "minItems", "maxItems", "enum", "minimum", "maximum", "definitions", "description",
}  # fmt: skip


def load(name: str) -> dict[str, Any]:
    return json.loads((HERE / name).read_text("utf-8"))


def _is(kind: str, value: Any) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    raise ValueError(f"unsupported type {kind!r}")


def errors(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$") -> list[str]:
    """Every violation of ``schema`` by ``value``, as 'path: message' lines."""
    unknown = {k for k in schema if not k.startswith("x-")} - KNOWN
    if unknown:
        raise ValueError(f"{path}: schema keywords not supported here: {sorted(unknown)}")
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/definitions/")
        return errors(value, root["definitions"][name], root, path)
    if value is None and schema.get("nullable"):
        return []
    found: list[str] = []
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(k, value) for k in kinds):
            return [f"{path}: {value!r} is not {'/'.join(kinds)}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and _is("number", value) and value < schema["minimum"]:
        found.append(f"{path}: {value} < {schema['minimum']}")
    if "maximum" in schema and _is("number", value) and value > schema["maximum"]:
        found.append(f"{path}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{path}: missing {name!r}")
        for name, item in value.items():
            if name in properties:
                found.extend(errors(item, properties[name], root, f"{path}.{name}"))
            elif schema.get("additionalProperties") is False:
                found.append(f"{path}: {name!r} is not a field of the real response")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            found.append(f"{path}: {len(value)} items < {schema['minItems']}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            found.append(f"{path}: {len(value)} items > {schema['maxItems']}")
        if "items" in schema:
            for i, item in enumerate(value):
                found.extend(errors(item, schema["items"], root, f"{path}[{i}]"))
    return found


def check(value: Any, root: dict[str, Any], definition: str) -> None:
    """Assert ``value`` matches ``root['definitions'][definition]``."""
    problems = errors(value, {"$ref": f"#/definitions/{definition}"}, root)
    assert not problems, f"{definition}: " + "; ".join(problems[:20])
