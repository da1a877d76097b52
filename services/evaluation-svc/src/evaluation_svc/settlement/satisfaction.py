"""The period's satisfaction, read from feedback-svc's HTTP API (`GET /v1/feedback/summary`)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from pledge_common.identity import service_headers

SERVICE_NAME = "evaluation-svc"


@dataclass(frozen=True, slots=True)
class SatisfactionFigures:
    responses: int
    csat_responses: int
    csat_satisfied: int
    nps_responses: int
    promoters: int
    detractors: int
    processes: tuple[str, ...]

    @property
    def csat(self) -> float | None:
        return None if self.csat_responses == 0 else self.csat_satisfied / self.csat_responses

    @property
    def nps(self) -> float | None:
        if self.nps_responses == 0:
            return None
        return round(100 * (self.promoters - self.detractors) / self.nps_responses, 1)


def summed(groups: Sequence[dict[str, Any]], processes: Sequence[str], segments: Sequence[str]) -> SatisfactionFigures:
    """The groups (by process and segment) of the covered processes, in the agreement's segments (none: all)."""
    keep = [g for g in groups if g.get("process") in processes and (not segments or g.get("segment") in segments)]

    def total(name: str) -> int:
        return sum(int(g.get(name) or 0) for g in keep)

    return SatisfactionFigures(
        responses=total("responses"),
        csat_responses=total("csat_responses"),
        csat_satisfied=total("csat_satisfied"),
        nps_responses=total("nps_responses"),
        promoters=total("promoters"),
        detractors=total("detractors"),
        processes=tuple(processes),
    )


class SatisfactionUnavailable(Exception):
    """feedback-svc did not answer usefully (the settlement says so instead of failing)."""


class FeedbackClient:
    def __init__(self, http: httpx.AsyncClient, service_token: str) -> None:
        self.http = http
        self._token = service_token

    async def aclose(self) -> None:
        await self.http.aclose()

    async def satisfaction(
        self, start: datetime, end: datetime, processes: Sequence[str], segments: Sequence[str]
    ) -> SatisfactionFigures:
        params = httpx.QueryParams(
            [("from", start.isoformat()), ("to", end.isoformat()), ("group_by", "process"), ("group_by", "segment")]
        )
        try:
            response = await self.http.get(
                "/v1/feedback/summary", params=params, headers=service_headers(SERVICE_NAME, self._token)
            )
        except httpx.HTTPError as err:
            raise SatisfactionUnavailable(f"feedback-svc did not answer ({type(err).__name__})") from None
        if response.status_code != 200:
            raise SatisfactionUnavailable(f"feedback-svc answered {response.status_code}")
        try:
            groups = response.json()["groups"]
        except (ValueError, KeyError, TypeError):
            raise SatisfactionUnavailable("feedback-svc answered an unexpected body") from None
        return summed(groups, processes, segments)
