"""evaluation-svc as commitment-svc sees it: which judged runs a back-dated version would take over."""

from dataclasses import dataclass
from typing import Any

import httpx
from pledge_common.problems import ServiceUnavailable

UPSTREAM = "evaluation-svc"
PREVIEW_PATH = "/internal/v1/rejudgements/preview"


@dataclass(frozen=True, slots=True)
class RunsChanging:
    """How many judged runs would change their governing version, and the first of them as evaluation lists them."""

    count: int
    runs: list[dict[str, Any]]


class EvaluationClient:
    """Calls evaluation's internal routes with the service token (`http` carries base URL and token)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def aclose(self) -> None:
        await self.http.aclose()

    async def runs_changing(self, version: dict[str, Any], superseded: list[dict[str, Any]]) -> RunsChanging:
        """Judged runs whose governing version would change if `version` were in force and `superseded` ended
        where given (feed payloads, as they would be after the change). 503 when evaluation cannot say."""
        body = {"version": version, "superseded": superseded}
        try:
            response = await self.http.post(PREVIEW_PATH, json=body)
        except httpx.TimeoutException:
            raise _unavailable("timed out") from None
        except httpx.HTTPError as err:
            raise _unavailable(type(err).__name__) from None
        if response.status_code != 200:
            raise _unavailable(f"answered {response.status_code}")
        try:
            answer = response.json()
            return RunsChanging(count=int(answer["runs_changing"]), runs=list(answer["runs"]))
        except (ValueError, KeyError, TypeError):
            raise _unavailable("answered with a body it should not have") from None


def _unavailable(reason: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"{UPSTREAM} cannot say which judged runs a version starting in the past would change ({reason});"
        " try again later",
        upstream=UPSTREAM,
    )
