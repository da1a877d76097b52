"""Reading events from files: NDJSON (one event a line) and CSV (one event a row, the ticket from columns).

Each line or row becomes a `Record`: the event, where it came from, and a local error when it cannot be an
event at all (a line that is not JSON, a row without its ticket). A rejects file written by `pledge events
push --rejects` is NDJSON of `{"event": …, "error": …, "origin": …}`: reading it back unwraps the events,
so the fixed file is sent again as it is.
"""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pledge_client.models import Event

# the CSV columns: the event's own, the ticket's, and the optional ones
EVENT_COLUMNS = ("event_id", "type", "occurred_at", "source", "node", "reason", "department", "position")
TICKET_COLUMNS = {"external_id": "external_id", "process": "process", "segment": "segment", "customer": "customer"}
REQUIRED_COLUMNS = ("event_id", "type", "occurred_at", "source", "external_id", "process")
ATTRIBUTES = "attributes"  # a JSON object; or one `attributes.<name>` column per attribute (text values)
REJECT_KEYS = frozenset({"event", "error", "origin"})


@dataclass(frozen=True)
class Record:
    """One event read from a file (`event`), or the text that could not be one (`raw`, with `error`)."""

    origin: str  # file:line
    event: Event | None
    raw: Any
    size: int  # bytes of the line or row, for progress
    error: str | None = None

    def reject(self, error: dict[str, Any]) -> dict[str, Any]:
        """The line of a rejects file: the original event (or text) and why it was refused."""
        return {"event": self.event if self.event is not None else self.raw, "error": error, "origin": self.origin}


class FileFormatError(ValueError):
    """A file that cannot be read at all (a CSV without a required column, a column no one knows)."""


def file_format(path: Path, forced: str | None = None) -> str:
    if forced and forced != "auto":
        return forced
    return "csv" if path.suffix.lower() == ".csv" else "ndjson"


def read_records(path: Path, fmt: str) -> Iterator[Record]:
    if fmt == "csv":
        return read_csv(path)
    return read_ndjson(path)


def read_ndjson(path: Path) -> Iterator[Record]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield ndjson_record(f"{path}:{number}", line)


def ndjson_record(origin: str, line: bytes) -> Record:
    text = line.decode("utf-8", errors="replace").strip()
    try:
        value = json.loads(text)
    except ValueError as exc:
        return Record(origin, None, text, len(line), f"not JSON: {exc}")
    if isinstance(value, dict) and "event" in value and set(value) <= REJECT_KEYS:
        value = value["event"]  # a line of a rejects file, fixed and sent again
        if isinstance(value, str):
            return ndjson_record(origin, value.encode())
    if not isinstance(value, dict):
        return Record(origin, None, value, len(line), "not a JSON object")
    return Record(origin, value, value, len(line))


def read_csv(path: Path) -> Iterator[Record]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        check_columns(path, columns)
        for row in reader:
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            yield csv_record(f"{path}:{reader.line_num}", row)


def check_columns(path: Path, columns: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise FileFormatError(f"{path}: CSV columns missing: {', '.join(missing)}")
    known = set(EVENT_COLUMNS) | set(TICKET_COLUMNS) | {ATTRIBUTES}
    unknown = [c for c in columns if c not in known and not c.startswith(f"{ATTRIBUTES}.")]
    if unknown:
        raise FileFormatError(f"{path}: unknown CSV columns: {', '.join(unknown)} (see docs/partner-kit.md)")


def csv_record(origin: str, row: dict[str, Any]) -> Record:
    """An event from one row: empty cells are left out, the ticket is built from its columns."""
    size = sum(len(v or "") + 1 for v in row.values() if isinstance(v, str))
    if None in row:  # more cells than columns
        return Record(origin, None, row, size, "more cells than columns")
    cells = {k: v.strip() for k, v in row.items() if isinstance(v, str) and v.strip()}
    event: Event = {c: cells[c] for c in EVENT_COLUMNS if c in cells}
    ticket: dict[str, Any] = {key: cells[c] for c, key in TICKET_COLUMNS.items() if c in cells}
    attributes: dict[str, Any] = {}
    if ATTRIBUTES in cells:
        try:
            attributes = json.loads(cells[ATTRIBUTES])
        except ValueError as exc:
            return Record(origin, None, row, size, f"attributes: not JSON: {exc}")
        if not isinstance(attributes, dict):
            return Record(origin, None, row, size, "attributes: not a JSON object")
    for column, value in cells.items():
        if column.startswith(f"{ATTRIBUTES}."):
            attributes[column.removeprefix(f"{ATTRIBUTES}.")] = value
    if attributes:
        ticket["attributes"] = attributes
    event["ticket"] = ticket
    return Record(origin, event, event, size)


def rejects_line(record: Record, error: dict[str, Any]) -> str:
    return json.dumps(record.reject(error), ensure_ascii=False, separators=(",", ":")) + "\n"


def csv_text(headers: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue()
