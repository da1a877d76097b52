"""Answering a report in the negotiated media type: the model itself (JSON), or its rows as CSV / XLSX."""

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.responses import Response
from pledge_common import pagination
from pledge_common.exports import CSV, JSON, XLSX, Row, accepting, openapi_responses, tabular_response
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

TABLES = openapi_responses(CSV, XLSX)
TabularDep = Annotated[str, Depends(accepting(CSV, XLSX))]


def stamp(value: datetime | None) -> str:
    """An instant in a file name: 20261101T0000Z."""
    return "" if value is None else value.strftime("%Y%m%dT%H%MZ")


def basename(*parts: str | None) -> str:
    """A file name from its parts: safe characters only, empty parts left out."""
    words = [re.sub(r"[^A-Za-z0-9_.-]+", "-", p).strip("-") for p in parts if p]
    return "-".join(w for w in words if w) or "report"


async def answer(media: str, report: M, rows: Callable[[M], Iterable[Row]], name: str) -> M | Response:
    """The report as JSON (the model, validated by the route's response model) or as a spreadsheet."""
    if media == JSON:
        return report
    return await tabular_response(media, rows(report), name)


def next_link(request: Request, cursor: str | None) -> dict[str, str]:
    """An export of a page links the next one, as the JSON carries `next_cursor` (the pages' own `Link`)."""
    return {} if cursor is None else {"Link": pagination.next_link(request, cursor)}
