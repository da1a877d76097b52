"""Exports: one `Accept` negotiation and the CSV / XLSX rendering of a list of flat rows.

A report route offers JSON (its default) and the media types its service can render; the client picks with
`Accept` only (no `format` parameter: one syntax). Anything else it asks for is a 406 problem. A service
turns its report into flat rows (`flatten` helps: nested objects become dotted column names); this module
writes them, streaming: rows may come from an async iterator, and CSV leaves as it is written.
"""

import csv
import io
import json
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import xlsxwriter
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from pledge_common.problems import Problem, field_error

JSON = "application/json"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
TABULAR = (CSV, XLSX)
EXTENSIONS = {CSV: "csv", XLSX: "xlsx", PDF: "pdf", JSON: "json"}
BOM = "\ufeff"  # lets Excel read the CSV as UTF-8 (Chinese names stay readable)
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, the header apart
CHUNK = 64 * 1024
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | bool | None
Row = Mapping[str, Cell]


class NotAcceptable(Problem):
    status, title = 406, "Not Acceptable"


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    """(media range, q) of an Accept header, parameters other than q dropped."""
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                q = q if 0.0 <= q <= 1.0 else 0.0
        ranges.append((media.lower(), q))
    return ranges


def _specificity(media_range: str, media: str) -> int | None:
    """How closely a media range matches a media type (None: not at all)."""
    if media_range == media:
        return 2
    kind, _, sub = media_range.partition("/")
    if sub == "*" and media.startswith(kind + "/"):
        return 1
    if media_range in ("*/*", "*"):
        return 0
    return None


def negotiate(accept: str | None, offered: Sequence[str]) -> str:
    """The offered media type the client prefers: the highest q of its most specific matching range, ties to
    the order of `offered` (JSON first). No Accept header (or an empty one): the first offered."""
    if not accept or not accept.strip():
        return offered[0]
    ranges = _media_ranges(accept)
    best: tuple[float, int, str] | None = None
    for index, media in enumerate(offered):
        matches = [(spec, q) for r, q in ranges if (spec := _specificity(r, media)) is not None]
        if not matches:
            continue
        q = max(matches)[1]  # the most specific range decides (RFC 9110 §12.5.1)
        if q > 0 and (best is None or (q, -index) > (best[0], best[1])):
            best = (q, -index, media)
    if best is None:
        raise NotAcceptable(
            f"this route answers {', '.join(offered)}; choose one with the Accept header",
            errors=[field_error("header.Accept", f"none of {', '.join(offered)} is acceptable")],
        )
    return best[2]


def accepting(*exports: str) -> Callable[[Request], str]:
    """A dependency: the media type a report route answers in (JSON, or one of `exports`)."""
    offered = (JSON, *exports)

    def chosen(request: Request) -> str:
        return negotiate(request.headers.get("accept"), offered)

    return chosen


def openapi_responses(*exports: str) -> dict[int | str, dict[str, Any]]:
    """The extra media types of a report route's 200, and its 406, for the OpenAPI document."""
    content: dict[str, Any] = {}
    for media in exports:
        schema: dict[str, Any] = {"type": "string"}
        if media != CSV:
            schema["format"] = "binary"
        content[media] = {"schema": schema}
    return {
        200: {"content": content, "description": "JSON by default; " + ", ".join(exports) + " with Accept"},
        406: {"description": "the Accept header names no media type this route answers"},
    }


def _cell(value: Any) -> Cell:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Cell]:
    """A JSON object as one flat row: nested objects become dotted column names (`normal.share`), lists a
    JSON text cell (their length varies from row to row, columns must not)."""
    row: dict[str, Cell] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            row.update(flatten(item, name + "."))
        else:
            row[name] = _cell(item)
    return row


def model_row(item: BaseModel, *, exclude: set[str] | None = None, **first: Cell) -> dict[str, Cell]:
    """An item of a report as one row: `first` columns (which part of the report), then its JSON flattened."""
    return {**first, **flatten(item.model_dump(mode="json", by_alias=True, exclude=exclude))}


def columns_of(rows: Iterable[Row]) -> list[str]:
    """Every column of some rows, in the order they first appear."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


async def _aiter(rows: Iterable[Row] | AsyncIterable[Row]) -> AsyncIterator[Row]:
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row


def _csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    # a text cell starting like a formula is quoted (CSV injection): a spreadsheet would evaluate it
    if isinstance(value, str) and text[:1] in FORMULA_STARTS and not _numeric(text):
        return "'" + text
    return text


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


async def csv_chunks(columns: Sequence[str], rows: Iterable[Row] | AsyncIterable[Row]) -> AsyncIterator[bytes]:
    """UTF-8 CSV with a BOM and a header row, in chunks of about 64 KiB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(columns)
    async for row in _aiter(rows):
        writer.writerow([_csv_text(row.get(c)) for c in columns])
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def xlsx_file(columns: Sequence[str], rows: Iterable[Row] | AsyncIterable[Row], sheet: str = "report") -> str:
    """An XLSX workbook written row by row to a temporary file (constant memory); the caller deletes it."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False,
                                      "strings_to_formulas": False, "strings_to_urls": False})  # fmt: skip
    try:
        bold = book.add_format({"bold": True})
        ws = book.add_worksheet(sheet[:31])
        for j, name in enumerate(columns):
            ws.write_string(0, j, name, bold)
        i = 0
        async for row in _aiter(rows):
            i += 1
            if i > XLSX_MAX_ROWS:
                raise NotAcceptable(f"more than {XLSX_MAX_ROWS} rows do not fit a sheet: ask for text/csv")
            for j, name in enumerate(columns):
                value = row.get(name)
                if value is None:
                    continue
                if isinstance(value, bool):
                    ws.write_boolean(i, j, value)
                elif isinstance(value, int | float):
                    ws.write_number(i, j, value)
                else:
                    ws.write_string(i, j, str(value))
        book.close()
    except BaseException:
        book.close()
        os.unlink(path)
        raise
    return path


async def _file_chunks(path: str) -> AsyncIterator[bytes]:
    try:
        with open(path, "rb") as f:  # noqa: ASYNC230 (a local temporary file, read in chunks)
            while chunk := f.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact one (RFC 6266)."""
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def tabular_response(
    media: str,
    rows: Iterable[Row] | AsyncIterable[Row],
    basename: str,
    *,
    columns: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> StreamingResponse:
    """Rows as CSV (streamed) or XLSX (written to a temporary file first, then streamed). Without `columns`,
    the rows are read once to find them (pass them for a large, streamed report)."""
    if columns is None:
        rows = [row async for row in _aiter(rows)]
        columns = columns_of(rows)
    extension = EXTENSIONS[media]
    all_headers = {"Content-Disposition": disposition(f"{basename}.{extension}"), **(headers or {})}
    if media == CSV:
        return StreamingResponse(csv_chunks(columns, rows), media_type="text/csv; charset=utf-8",
                                 headers=all_headers)  # fmt: skip
    if media == XLSX:
        path = await xlsx_file(columns, rows)
        return StreamingResponse(_file_chunks(path), media_type=XLSX, headers=all_headers)
    raise ValueError(f"not a tabular media type: {media}")


def file_response(media: str, body: bytes, basename: str) -> Response:
    """A rendered document (a PDF) as an attachment."""
    headers = {"Content-Disposition": disposition(f"{basename}.{EXTENSIONS[media]}")}
    return Response(body, media_type=media, headers=headers)
