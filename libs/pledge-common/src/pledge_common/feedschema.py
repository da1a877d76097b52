"""A producer's feed contract as one JSON Schema document, generated from the typed payloads it owns.

Each producer declares `EVENTS: {event type: payload model}` in its `<service>/feed.py`; `feed_schema` turns it
into a JSON Schema (2020-12) of the feed's events (`{type, key, payload, …}`: one branch per type, the payload
by `$ref` to `$defs`), written to `docs/feeds/<service>.schema.json` by `python -m <package>.feed` and checked
current by the producer's tests. Consumers never import a producer's package: their own decoders are checked
against this file (`decoder_mismatches`).
"""

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

DIALECT = "https://json-schema.org/draft/2020-12/schema"
REF_TEMPLATE = "#/$defs/{name}"


def _components(models: Sequence[type[Any]]) -> tuple[dict[type[Any], dict[str, Any]], dict[str, Any]]:
    """JSON Schemas of payload types (pydantic models, as serialised, or msgspec structs): a `$ref` per type
    and the `$defs` they point into."""
    if all(isinstance(m, type) and issubclass(m, BaseModel) for m in models):
        refs, document = models_json_schema([(m, "serialization") for m in models], ref_template="#/$defs/{model}")
        return {m: refs[(m, "serialization")] for m in models}, document.get("$defs", {})
    schemas, defs = msgspec.json.schema_components(models, ref_template=REF_TEMPLATE)
    return dict(zip(models, schemas, strict=True)), dict(defs)


def decoder_schema(decoder: type[Any]) -> dict[str, Any]:
    """A consumer's decoder (a msgspec struct or a pydantic model) as a schema document: its node by `$ref`
    beside the `$defs` it points into."""
    refs, defs = _components([decoder])
    return {**refs[decoder], "$defs": defs}


def feed_schema(service: str, description: str, events: Mapping[str, type[Any]]) -> dict[str, Any]:
    """The feed's JSON Schema: an event is one of the declared types, each with its payload's schema."""
    models = sorted(set(events.values()), key=lambda m: m.__name__)
    refs, defs = _components(models)
    branches = [
        {
            "type": "object",
            "required": ["type", "key", "payload"],
            "properties": {
                "type": {"const": event_type},
                "key": {"type": "string"},
                "payload": refs[model],
            },
        }
        for event_type, model in sorted(events.items())
    ]
    return {
        "$schema": DIALECT,
        "$id": f"https://pledge.invalid/feeds/{service}.schema.json",
        "title": f"{service} feed events",
        "description": description,
        "x-event-types": {t: refs[m]["$ref"] for t, m in sorted(events.items())},
        "oneOf": branches,
        "$defs": defs,
    }


def render(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def schema_path(service: str, start: Path) -> Path:
    """`docs/feeds/<service>.schema.json` of the repository holding `start`."""
    for folder in (start, *start.parents):
        if (folder / "docs" / "feeds").is_dir() or (folder / ".git").exists():
            return folder / "docs" / "feeds" / f"{service}.schema.json"
    raise FileNotFoundError(f"no repository root above {start}")


def write(service: str, schema: Mapping[str, Any], start: Path) -> Path:
    path = schema_path(service, start)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(schema), encoding="utf-8")
    return path


# --- consumers: their decoders against a producer's schema ---------------------------------------------------


def payload_schema(schema: Mapping[str, Any], event_type: str) -> dict[str, Any]:
    """The payload schema of one event type of a producer's feed schema (its `$ref`s resolved lazily)."""
    ref = schema["x-event-types"][event_type]
    return _resolve(schema, {"$ref": ref})


def _resolve(root: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        node = root["$defs"][name]
    return dict(node)


def _types(root: Mapping[str, Any], node: Mapping[str, Any]) -> set[str]:
    """The JSON types a schema node admits (a `number` admits an `integer` too)."""
    node = _resolve(root, node)
    found: set[str] = set()
    if "const" in node:
        found.add(_json_type(node["const"]))
    if "enum" in node:
        found |= {_json_type(v) for v in node["enum"]}
    kind = node.get("type")
    if isinstance(kind, str):
        found.add(kind)
    elif isinstance(kind, list):
        found |= set(kind)
    for branch in (*node.get("anyOf", ()), *node.get("oneOf", ())):
        found |= _types(root, branch)
    if not found and not node.get("anyOf") and not node.get("oneOf"):
        found = {"any"}
    if "number" in found:
        found.add("integer")
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _object_branch(root: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any] | None:
    node = _resolve(root, node)
    if "properties" in node or node.get("type") == "object":
        return node
    for branch in (*node.get("anyOf", ()), *node.get("oneOf", ())):
        found = _object_branch(root, branch)
        if found is not None:
            return found
    return None


def _items(root: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any] | None:
    node = _resolve(root, node)
    if "items" in node and isinstance(node["items"], Mapping):
        return _resolve(root, node["items"])
    for branch in (*node.get("anyOf", ()), *node.get("oneOf", ())):
        found = _items(root, branch)
        if found is not None:
            return found
    return None


def decoder_mismatches(
    producer: Mapping[str, Any],
    produced: Mapping[str, Any],
    consumer: Mapping[str, Any],
    decoded: Mapping[str, Any],
    path: str = "payload",
) -> list[str]:
    """What a consumer's decoder reads that the producer does not write compatibly: every property of the
    decoder (`decoded`, a node of the `consumer` schema document) must exist in the producer's (`produced`, a
    node of `producer`) and every JSON type the producer may write there must be one the decoder accepts.
    Nested objects and array items are compared the same way."""
    problems: list[str] = []
    mine, theirs = _resolve(consumer, decoded), _resolve(producer, produced)
    mine_object, their_object = _object_branch(consumer, mine), _object_branch(producer, theirs)
    if mine_object is not None and "properties" in mine_object:
        if their_object is None:
            return [f"{path}: the decoder reads an object, the producer writes {sorted(_types(producer, theirs))}"]
        their_properties = their_object.get("properties", {})
        their_required = set(their_object.get("required", ()))
        my_required = set(mine_object.get("required", ()))
        for name, node in mine_object["properties"].items():
            if name not in their_properties:
                problems.append(f"{path}.{name}: read by the consumer, absent from the producer's schema")
                continue
            if name in my_required and name not in their_required:
                problems.append(f"{path}.{name}: required by the consumer, optional in the producer's schema")
            problems += decoder_mismatches(producer, their_properties[name], consumer, node, f"{path}.{name}")
        return problems
    my_types, their_types = _types(consumer, mine), _types(producer, theirs)
    if "any" not in my_types and "any" not in their_types and not their_types <= my_types:
        problems.append(f"{path}: the producer writes {sorted(their_types)}, the decoder accepts {sorted(my_types)}")
    my_items, their_items = _items(consumer, mine), _items(producer, theirs)
    if my_items is not None and their_items is not None:
        problems += decoder_mismatches(producer, their_items, consumer, my_items, f"{path}[]")
    return problems
