"""The KPIs that are feedback-svc's figures, read over its public HTTP API with the internal credentials:
CSAT from `GET /v1/feedback/summary` (by department and month), complaint first-time resolution from
the read-only `GET /internal/v1/complaints/resolution` (by owning department and month, the counts of
`GET /v1/complaints/metrics`), and complaint volume from `GET /v1/complaints/pareto?by=department`. No
cross-schema read."""

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pledge_common.identity import service_headers
from pledge_common.internal import internal_headers

from evaluation_svc.kpis.rules import period_key
from evaluation_svc.settlement.satisfaction import SERVICE_NAME, FeedbackClient

# (department, period) → (part, whole)
Counts = dict[tuple[str, str], tuple[int, int]]


class FeedbackUnavailable(Exception):
    """feedback-svc gave no usable answer (the scorecard says so beside the KPI instead of failing)."""


async def _get(client: FeedbackClient, path: str, params: httpx.QueryParams, rows: str = "groups") -> dict[str, Any]:
    headers = service_headers(SERVICE_NAME, client._token)
    if path.startswith("/internal/"):
        headers.update(internal_headers(client._token))
    try:
        response = await client.http.get(path, params=params, headers=headers)
    except httpx.HTTPError as err:
        raise FeedbackUnavailable(f"feedback-svc did not answer ({type(err).__name__})") from None
    if response.status_code != 200:
        raise FeedbackUnavailable(f"feedback-svc answered {response.status_code} to {path}")
    try:
        body = response.json()
        if not isinstance(body, dict) or not isinstance(body.get(rows), list):
            raise ValueError
        return body
    except ValueError:
        raise FeedbackUnavailable(f"feedback-svc answered an unexpected body to {path}") from None


def _month_of(value: Any, zone: ZoneInfo) -> str | None:
    try:
        return period_key(datetime.fromisoformat(str(value)).astimezone(zone).date())
    except ValueError:
        return None


async def csat(
    client: FeedbackClient, start: datetime, end: datetime, zone: ZoneInfo, segment: str | None = None
) -> Counts:
    """Satisfied answers and answers per (department, month); of one customer segment when asked (feedback-svc
    filters its feedback by the segment it names)."""
    pairs: list[tuple[str, str | int | float | bool | None]] = [
        ("from", start.isoformat()), ("to", end.isoformat()), ("group_by", "department"), ("group_by", "period"),
        ("bucket", "month"), ("tz", zone.key),
    ]  # fmt: skip
    if segment is not None:
        pairs.append(("segment", segment))
    params = httpx.QueryParams(pairs)
    body = await _get(client, "/v1/feedback/summary", params)
    out: Counts = {}
    for g in body["groups"]:
        month = _month_of(g.get("period"), zone)
        if isinstance(g, dict) and g.get("department") and month:
            out[(str(g["department"]), month)] = (int(g.get("csat_satisfied") or 0), int(g.get("csat_responses") or 0))
    return out


async def complaint_resolution(client: FeedbackClient, start: datetime, end: datetime, zone: ZoneInfo) -> Counts:
    params = httpx.QueryParams([("from", start.isoformat()), ("to", end.isoformat()), ("tz", zone.key)])
    body = await _get(client, "/internal/v1/complaints/resolution", params)
    out: Counts = {}
    for g in body["groups"]:
        if isinstance(g, dict) and g.get("department") and g.get("period"):
            out[(str(g["department"]), str(g["period"]))] = (
                int(g.get("first_contact_resolved") or 0),
                int(g.get("resolved") or 0),
            )
    return out


async def complaint_volume(
    client: FeedbackClient, months: Sequence[tuple[str, datetime, datetime]]
) -> dict[tuple[str, str], int]:
    """Complaints received per (owning department, month): `GET /v1/complaints/pareto?by=department` of each
    month's [from, to), read concurrently (the pareto counts what `GET /v1/complaints/metrics` receives)."""

    async def one(period: str, start: datetime, end: datetime) -> list[tuple[tuple[str, str], int]]:
        params = httpx.QueryParams([("by", "department"), ("from", start.isoformat()), ("to", end.isoformat())])
        body = await _get(client, "/v1/complaints/pareto", params, rows="rows")
        return [
            ((str(r["key"]), period), int(r.get("count") or 0))
            for r in body["rows"]
            if isinstance(r, dict) and r.get("key")
        ]

    found = await asyncio.gather(*(one(p, s, e) for p, s, e in months))
    return dict(pair for rows in found for pair in rows)
