"""Test helpers of the feed contracts (`docs/feeds/`): a producer checks its schema file is current and that the
events its real code writes match it, keeping one sample event per type in `<service>.examples.json`; a
consumer checks its decoders against the producer's schema and decodes those samples.

Samples are refreshed by running the producer's contract test with `PLEDGE_WRITE_FEED_EXAMPLES=1`; without it
the test fails when the file lacks a type the producer wrote, or holds one shaped otherwise (another set of
fields), or one the schema refuses.
"""

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from pledge_common import feedschema
from pledge_common.feedschema import render

from pledge_dev.paths import REPO_ROOT

FEEDS_DIR = REPO_ROOT / "docs" / "feeds"


def schema_file(service: str) -> Path:
    return FEEDS_DIR / f"{service}.schema.json"


def examples_file(service: str) -> Path:
    return FEEDS_DIR / f"{service}.examples.json"


def load_schema(service: str) -> dict[str, Any]:
    return json.loads(schema_file(service).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def load_examples(service: str) -> dict[str, dict[str, Any]]:
    """One sample event per type, `{type: {"type", "key", "payload"}}`, written by the producer's real code."""
    return json.loads(examples_file(service).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def schema_drift(service: str, generated: Mapping[str, Any]) -> str | None:
    """None when `docs/feeds/<service>.schema.json` is what the producer's models generate, else what to run."""
    path = schema_file(service)
    if path.exists() and path.read_text(encoding="utf-8") == render(generated):
        return None
    return f"{path} is not current: run `uv run python -m {service.replace('-', '_')}.feed`"


def schema_errors(schema: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every way the events (`{type, key, payload}`) break the producer's schema."""
    validator = Draft202012Validator(schema)
    errors = []
    for event in events:
        if event["type"] not in schema["x-event-types"]:
            errors.append(f"{event['type']}: not a type of the schema")
            continue
        for error in validator.iter_errors({k: event[k] for k in ("type", "key", "payload")}):
            branch = [e for e in error.context or () if e.schema_path and e.schema_path[0] == _branch(schema, event)]
            detail = "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in branch) or error.message
            errors.append(f"{event['type']} {event['key']}: {detail}")
    return errors


def _branch(schema: Mapping[str, Any], event: Mapping[str, Any]) -> int:
    types = [b["properties"]["type"]["const"] for b in schema["oneOf"]]
    return types.index(event["type"])


def _fields(payload: Any) -> Any:
    if isinstance(payload, dict):
        return sorted(payload)
    return type(payload).__name__


def example_mismatches(service: str, schema: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> list[str]:
    """Keep `<service>.examples.json` one sample per type written by the producer: refresh it when
    PLEDGE_WRITE_FEED_EXAMPLES=1, otherwise say where it differs from what was written."""
    captured: dict[str, dict[str, Any]] = {}
    for event in events:
        captured.setdefault(event["type"], {k: event[k] for k in ("type", "key", "payload")})
    path = examples_file(service)
    stored = load_examples(service) if path.exists() else {}
    if os.environ.get("PLEDGE_WRITE_FEED_EXAMPLES") == "1":
        stored = dict(sorted({**stored, **captured}.items()))
        path.write_text(json.dumps(stored, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    problems = [f"{path.name}: {e}" for e in schema_errors(schema, stored.values())]
    for event_type, event in captured.items():
        sample = stored.get(event_type)
        if sample is None:
            problems.append(f"{path.name}: no sample of {event_type} (run with PLEDGE_WRITE_FEED_EXAMPLES=1)")
        elif _fields(sample["payload"]) != _fields(event["payload"]):
            problems.append(f"{path.name}: the {event_type} sample has other fields than the producer writes")
    return problems


def decoder_mismatches(producer: str, decoders: Mapping[str, type[Any]]) -> list[str]:
    """What a consumer's decoders (`{event type: msgspec struct or pydantic model}`) read that the producer's
    schema does not declare compatibly (see `pledge_common.feedschema.decoder_mismatches`)."""
    schema = load_schema(producer)
    problems: list[str] = []
    for event_type, decoder in decoders.items():
        if event_type not in schema["x-event-types"]:
            problems.append(f"{event_type}: not written by {producer}")
            continue
        consumer = feedschema.decoder_schema(decoder)
        produced = {"$ref": schema["x-event-types"][event_type]}
        problems += [f"{event_type} {p}" for p in feedschema.decoder_mismatches(schema, produced, consumer, consumer)]
    return problems
