from datetime import datetime
from typing import Any

from commitment_svc import feed
from commitment_svc.core.schemas import Input, Key, Name, Output


class SegmentUpsert(Input):
    name: Name


class SegmentPublic(Output):
    key: Key
    name: str
    builtin: bool
    created_at: datetime
    updated_at: datetime

    def feed_payload(self) -> dict[str, Any]:
        return feed.payload("segment.upserted", self)
