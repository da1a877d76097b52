"""evaluation-svc's feed contract: the payload of every event type it writes.

An alert event carries the alert exactly as `GET /v1/alerts/{id}` answers it (`AlertPublic`, serialised), so
that a partner reads one shape from the feed, the API and the webhook bodies; the scanner and the resolution of
alerts build it in SQL (`alert_payload_sql`), checked against this contract in tests. `python -m
evaluation_svc.feed` writes its JSON Schema to `docs/feeds/evaluation-svc.schema.json` (a test checks it is
current).
"""

from pathlib import Path
from typing import Any

from pledge_common import feedschema
from pydantic import BaseModel

from evaluation_svc.alerts.schemas import AlertPublic

SERVICE = "evaluation-svc"

EVENTS: dict[str, type[BaseModel]] = {
    "alert.raised": AlertPublic,
    "alert.acknowledged": AlertPublic,
    "alert.resolved": AlertPublic,
}


def schema() -> dict[str, Any]:
    return feedschema.feed_schema(
        SERVICE, "Events of GET /internal/v1/events on evaluation-svc (docs/contracts.md): alerts.", EVENTS
    )


if __name__ == "__main__":
    print(feedschema.write(SERVICE, schema(), Path(__file__).resolve()))
